"""Authentication comes before anything about the request's content: every route that is not
public answers a caller without a token with 401, whatever the body (of the wrong type, not JSON
at all, malformed) or the query string. Only the size limit comes first: a declared length over
MAX_CONTENT_LENGTH is refused (413) before anything is read, the same for every route."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from backend.core.markers import route_spec
from tests.conftest import AppFactory

_ARGUMENT = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _url(rule: Rule) -> str:
    """A concrete URL for the rule: a fresh id, the first word of an `any(...)`, or a word."""

    def argument(match: re.Match[str]) -> str:
        converter = match["converter"] or ""
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip()
        return str(uuid.uuid4()) if converter == "uuid" else "x"

    return _ARGUMENT.sub(argument, rule.rule)


def _guarded(app: Flask) -> list[tuple[str, str, str | None]]:
    """(method, url, the body's declared media type) of every route that needs a token."""
    found = []
    for rule in app.url_map.iter_rules():
        spec = route_spec(app.view_functions[rule.endpoint])
        if spec.public:
            continue
        declared = spec.api.body_media_type if spec.api is not None else None
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, _url(rule), declared))
    return found


def _wrong_bodies(declared: str | None) -> list[dict[str, Any]]:
    """Bodies the route would refuse (415 or 400) from a signed-in caller."""
    if declared is not None:  # a CSV route: JSON is the wrong type
        return [{"json": {"rows": []}}, {"data": b"a,b\r\n", "content_type": "text/plain"}]
    return [
        {"data": b"a,b\r\n", "content_type": "text/csv"},
        {"data": b"name=x", "content_type": "text/plain"},
        {"data": b"name=x", "content_type": "application/x-www-form-urlencoded"},
        {"data": b'{"name": ', "content_type": "application/json"},  # malformed JSON
    ]


def _assert_401(response: Any, what: str) -> None:
    assert response.status_code == 401, (what, response.status_code, response.get_json())
    assert response.mimetype == "application/problem+json", what
    assert response.get_json()["code"] == "unauthorized", what
    assert response.headers["WWW-Authenticate"].startswith("Bearer"), what


def test_every_guarded_route_is_401_without_a_token(app: Flask) -> None:
    client = app.test_client()
    routes = _guarded(app)
    assert len(routes) > 60
    for method, url, _declared in routes:
        _assert_401(client.open(url, method=method), f"{method} {url}")


def test_a_body_of_the_wrong_type_is_still_401_without_a_token(app: Flask) -> None:
    """Before the fix, `POST /api/imports/students` with JSON (and every JSON route with text) was
    a 415: the caller learned the route's body rules before proving who they were."""
    client = app.test_client()
    with_bodies = [route for route in _guarded(app) if route[0] in BODY_METHODS]
    assert any(declared == "text/csv" for _method, _url, declared in with_bodies)
    for method, url, declared in with_bodies:
        for body in _wrong_bodies(declared):
            _assert_401(client.open(url, method=method, **body), f"{method} {url} {body}")


def test_a_bad_query_string_is_still_401_without_a_token(app: Flask) -> None:
    client = app.test_client()
    for method, url, _declared in _guarded(app):
        if method == "GET":
            _assert_401(client.get(url, query_string={"limit": "x", "from": "0", "?": "\u0085"}), url)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_only_an_oversize_declared_length_comes_before_authentication(
    make_app: AppFactory, content_type: str
) -> None:
    """The size limit is the one rule before authentication: it is the same on every route (it
    tells nothing about the route) and it is decided from the declared length, nothing read."""
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    response = client.post("/api/students", data=b"x" * 2000, content_type=content_type)
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    _assert_401(client.post("/api/students", data=b"x" * 1000, content_type=content_type), content_type)


def test_public_routes_still_judge_the_body(client: Any) -> None:
    """Where no token is needed (sign-in), the body's rules answer as before: 415, then 400."""
    wrong_type = client.post("/api/auth/login", data=b"email=x", content_type="text/plain")
    assert (wrong_type.status_code, wrong_type.get_json()["code"]) == (415, "unsupported_media_type")
    malformed = client.post("/api/auth/login", data=b'{"email": ', content_type="application/json")
    assert (malformed.status_code, malformed.get_json()["code"]) == (400, "bad_request")
