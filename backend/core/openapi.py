"""The OpenAPI 3.1 document, generated from the URL map and each route's `@api` declaration.

Nothing here is written by hand per route: paths and parameters come from the rules, bodies,
queries and responses from the pydantic models, security from the `@public` / `@requires` markers,
and every operation lists the problem responses it can give.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from backend.core.api import ApiDoc
from backend.core.markers import is_public
from backend.version import __version__

REF = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")
_CONVERTERS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "instance", "code", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
PROBLEM_TEXT = {
    400: "Malformed request (for example, invalid JSON)",
    401: "Missing, invalid or expired access token",
    403: "The caller's role does not allow this",
    404: "Not found (or not visible to the caller)",
    409: "Conflicts with existing data",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid input; `errors` names each field",
    429: "Rate limited; see Retry-After",
    500: "Unexpected error",
    503: "A required dependency is unavailable; see Retry-After",
}


def _operations(app: Flask) -> list[tuple[Rule, str, Any, ApiDoc]]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        doc: ApiDoc | None = getattr(view, "api", None)
        if doc is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule, method.lower(), view, doc))
    return found


def _components(docs: list[ApiDoc]) -> tuple[dict[tuple[type[BaseModel], str], Any], dict[str, Any]]:
    inputs = {model for doc in docs for model in (doc.body, doc.query) if model is not None}
    outputs = {doc.response for doc in docs if doc.response is not None}
    pairs = [(model, "validation") for model in inputs] + [(model, "serialization") for model in outputs]
    key_map, top = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    return key_map, top.get("$defs", {})


def _query_parameters(
    model: type[BaseModel], schemas: dict[str, Any], ref: dict[str, Any]
) -> list[dict[str, Any]]:
    schema = schemas[ref["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _problems(rule: Rule, view: Any, doc: ApiDoc) -> dict[str, Any]:
    statuses = {429, 500, 503} | doc.problems
    if not is_public(view):
        statuses.add(401)
    if getattr(view, "permission", None):
        statuses.add(403)
    if rule.arguments:
        statuses.add(404)
    if doc.body is not None:
        statuses |= {400, 409, 413, 415, 422}
    if doc.query is not None:
        statuses.add(422)
    if doc.status == 201:
        statuses.add(409)
    return {
        str(s): {
            "description": PROBLEM_TEXT[s],
            "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
        }
        for s in sorted(statuses)
    }


def _operation(
    rule: Rule, view: Any, doc: ApiDoc, key_map: dict[Any, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    parameters = [
        {
            "name": m["name"],
            "in": "path",
            "required": True,
            "schema": _CONVERTERS.get(m["converter"] or "", {"type": "string"}),
        }
        for m in _PATH_PARAMETER.finditer(rule.rule)
    ]
    if doc.query is not None:
        parameters += _query_parameters(doc.query, schemas, key_map[(doc.query, "validation")])
    success: dict[str, Any] = {"description": doc.summary}
    if doc.response is not None:
        success["content"] = {"application/json": {"schema": key_map[(doc.response, "serialization")]}}
    elif doc.media_type is not None:
        kind = "object" if doc.media_type.endswith("json") else "string"
        success["content"] = {doc.media_type: {"schema": {"type": kind}}}
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "summary": doc.summary,
        "tags": [rule.endpoint.split(".", 1)[0]],
        "parameters": parameters,
        "responses": {str(doc.status): success, **_problems(rule, view, doc)},
    }
    if doc.body is not None:
        operation["requestBody"] = {
            "required": not doc.optional_body,
            "content": {"application/json": {"schema": key_map[(doc.body, "validation")]}},
        }
    if is_public(view):
        operation["security"] = []
    elif permission := getattr(view, "permission", None):
        operation["description"] = f"Requires the `{permission}` permission."
    return operation


def build_openapi(app: Flask) -> dict[str, Any]:
    operations = _operations(app)
    key_map, schemas = _components([doc for *_, doc in operations])
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, view, doc in operations:
        path = _PATH_PARAMETER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        paths.setdefault(path, {})[method] = _operation(rule, view, doc, key_map, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Homeroom API",
            "version": __version__,
            "description": "A JSON API for schools. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": {**schemas, "Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
