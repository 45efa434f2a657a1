"""Homeroom: a JSON API for schools. `create_app` (in `backend.app`) is the only way an application
is made; the package's floors and the rules between them are in docs/architecture.md."""

from backend.app import create_app
from backend.version import __version__

__all__ = ["__version__", "create_app"]
