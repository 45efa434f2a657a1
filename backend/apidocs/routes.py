"""GET /api/openapi.json, GET /api/docs and its assets (Swagger UI from the swagger-ui-py package).

Everything the page needs comes from this app, so the docs work offline and under a CSP that
allows only 'self'.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from flask import Response, current_app, jsonify, send_from_directory

from backend.apidocs import bp
from backend.apidocs.tags import TAGS
from backend.core.api import api
from backend.core.markers import public
from backend.core.openapi import build_openapi

OWN_ASSETS = Path(__file__).with_name("static")
SWAGGER_ASSETS = Path(swagger_ui.__file__).with_name("static")
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_SPEC = "homeroom.openapi"


@bp.get("/openapi.json")
@public
@api(media_type="application/json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API (generated from the code)."""
    if _SPEC not in current_app.extensions:
        current_app.extensions[_SPEC] = build_openapi(current_app, TAGS)
    return jsonify(current_app.extensions[_SPEC])


def _asset(folder: Path, filename: str) -> Response:
    response = send_from_directory(folder, filename, max_age=3600)
    response.headers["Content-Security-Policy"] = DOCS_CSP
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/docs")
@public
@api(media_type="text/html")
def docs_page() -> Response:
    """Interactive API documentation (Swagger UI), served without any outside request."""
    response = _asset(OWN_ASSETS, "index.html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/docs/assets/<path:filename>")
@public
@api(media_type="*/*")
def docs_asset(filename: str) -> Response:
    """A file of the docs page."""
    return _asset(OWN_ASSETS if filename == "init.js" else SWAGGER_ASSETS, filename)
