"""The application version, reported by /api/health and the start summary."""

__version__ = "0.1.0"
