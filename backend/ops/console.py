"""GET /ops: the operators' console, a static page (HTML, CSS, JavaScript from this package; no
CDN, no inline script) that signs in through /api/auth and reads /api/health and /api/ops."""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_from_directory

from backend.core.api import api
from backend.core.errors import NotFound
from backend.core.markers import public
from backend.ops import console_bp

ASSETS = Path(__file__).with_name("static")
ASSET_NAMES = frozenset({"console.js", "console.css", "favicon.svg"})
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _served(filename: str, cache: str) -> Response:
    response = send_from_directory(ASSETS, filename, max_age=0)
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    response.headers["Cache-Control"] = cache
    return response


@console_bp.get("")
@public
@api(media_type="text/html")
def console_page() -> Response:
    """The ops console (operators sign in on the page; the data needs their token)."""
    return _served("index.html", "no-store")


@console_bp.get("/assets/<filename>")
@public
@api(media_type="*/*", problems=(404,))
def console_asset(filename: str) -> Response:
    """The console's script, style sheet and icon."""
    if filename not in ASSET_NAMES:
        raise NotFound("No such file.")
    return _served(filename, "no-cache")
