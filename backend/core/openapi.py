"""The OpenAPI 3.1 document, generated from the URL map and each route's `@api` declaration.

Nothing here is written by hand per route: paths and parameters come from the rules, bodies,
queries and responses from the pydantic models, security from the `@public` / `@requires` markers,
and every operation lists the problem responses it can give.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from flask import Flask
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema
from werkzeug.routing import Rule

from backend.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from backend.core.idempotency import REPLAYED_HEADER, key_required
from backend.core.markers import ApiDoc, RouteSpec, route_spec
from backend.version import __version__

JsonSchemaKey = tuple[Any, str]  # (the declared type, "validation" or "serialization")

REF = "#/components/schemas/{model}"
TEXT_PATTERN = "^[^\\u0000]*$"
# White space exactly as the server trims it (`core/validation.py: trim`, Python's str.isspace()),
# spelled out: JSON Schema's \s would add U+FEFF, which the server keeps.
_SPACE = (
    "\\t\\n\\u000b\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
# At least one character that trimming keeps. (Lone surrogates are refused too, but a pattern
# cannot name them portably: they are not text.)
NON_BLANK_TEXT_PATTERN = f"^[{_SPACE}]*[^{_SPACE}\\u0000][^\\u0000]*$"
_PATH_PARAMETER = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")
_CONVERTERS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}
_ANY = re.compile(r"any\((?P<choices>[^)]*)\)")


def _converter_schema(converter: str | None) -> dict[str, Any]:
    """A path parameter's schema: uuid, int, one of `any(a, b)`'s words, else a string."""
    if converter and (choices := _ANY.fullmatch(converter)):
        return {"type": "string", "enum": [c.strip() for c in choices["choices"].split(",")]}
    return _CONVERTERS.get(converter or "", {"type": "string"})


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
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": True,
    "description": "Names this request: a repeat with the same key and body replays the first response.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}
OPTIONAL_IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    **IDEMPOTENCY_KEY_PARAMETER,
    "required": False,
    "description": (
        "Optional; makes a retry safe. A repeat with the same key and request (path, query and body) "
        f"replays the first response (with `{REPLAYED_HEADER}: true`) instead of creating again; "
        "the same key with another request is a 422."
    ),
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
    502: "An outside service (such as Xero) did not answer as expected",
    503: "A required dependency is unavailable; see Retry-After",
}


class _Generator(GenerateJsonSchema):
    """Pydantic's schemas, plus what the API refuses in any text: NUL characters (PostgreSQL cannot
    store them) and, where text is required, text that is only white space (inputs are stripped)."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        if "pattern" not in json_schema and "format" not in json_schema:
            required = json_schema.get("minLength", 0) >= 1
            json_schema["pattern"] = NON_BLANK_TEXT_PATTERN if required else TEXT_PATTERN
        return json_schema


def _operations(app: Flask) -> list[tuple[Rule, str, RouteSpec, ApiDoc]]:
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        spec = route_spec(app.view_functions[rule.endpoint])
        if spec.api is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule, method.lower(), spec, spec.api))
    return found


def _idempotency_key(app: Flask, rule: Rule, spec: RouteSpec) -> list[dict[str, Any]]:
    """The `Idempotency-Key` header of an `@idempotent` route: required for some (payments)."""
    if not spec.idempotent:
        return []
    required = key_required(app.view_functions[rule.endpoint])
    return [IDEMPOTENCY_KEY_PARAMETER if required else OPTIONAL_IDEMPOTENCY_KEY_PARAMETER]


def _components(docs: list[ApiDoc]) -> tuple[dict[JsonSchemaKey, Any], dict[str, Any]]:
    """One JSON schema per declared type, shared as components; inputs as validated, outputs as sent."""
    inputs = {model for doc in docs for model in (doc.body, doc.query) if model is not None}
    outputs = {doc.response for doc in docs if doc.response is not None}
    pairs: list[tuple[Any, JsonSchemaMode]] = [(model, "validation") for model in inputs]
    pairs += [(model, "serialization") for model in outputs]
    key_map, top = TypeAdapter.json_schemas(
        [(key, mode, TypeAdapter(key)) for key, mode in pairs],
        ref_template=REF,
        schema_generator=_Generator,
    )
    return dict(key_map), top.get("$defs", {})


def _query_parameters(model: type[Any], schemas: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
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


def _problems(rule: Rule, spec: RouteSpec, doc: ApiDoc) -> dict[str, Any]:
    statuses = {429, 500, 503} | doc.problems
    if not spec.public:
        statuses.add(401)
    if spec.permission:
        statuses.add(403)
    if rule.arguments:
        statuses.add(404)
    if doc.body is not None:
        statuses |= {400, 409, 413, 415, 422}
    if doc.query is not None:
        statuses.add(422)
    if doc.status == 201:
        statuses.add(409)
    if spec.idempotent:  # a malformed key; a key in use by a request in progress; a reused key
        statuses |= {400, 409, 422}
    return {
        str(s): {
            "description": PROBLEM_TEXT[s],
            "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
        }
        for s in sorted(statuses)
    }


def _operation(
    rule: Rule,
    spec: RouteSpec,
    doc: ApiDoc,
    key_map: dict[JsonSchemaKey, Any],
    schemas: dict[str, Any],
    headers: list[dict[str, Any]],
) -> dict[str, Any]:
    parameters = [
        {
            "name": m["name"],
            "in": "path",
            "required": True,
            "schema": _converter_schema(m["converter"]),
        }
        for m in _PATH_PARAMETER.finditer(rule.rule)
    ]
    if doc.query is not None:
        parameters += _query_parameters(doc.query, schemas, key_map[(doc.query, "validation")])
    parameters += headers
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
        "responses": {str(doc.status): success, **_problems(rule, spec, doc)},
    }
    if doc.body is not None:
        operation["requestBody"] = {
            "required": not doc.optional_body,
            "content": {"application/json": {"schema": key_map[(doc.body, "validation")]}},
        }
    elif doc.body_media_type is not None:
        operation["requestBody"] = {
            "required": not doc.optional_body,
            "content": {doc.body_media_type: {"schema": {"type": "string"}}},
        }
    if spec.public:
        operation["security"] = []
    elif spec.permission:
        operation["description"] = f"Requires the `{spec.permission}` permission."
    return operation


def _tags(paths: dict[str, dict[str, Any]], declared: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The tags the operations use: the declared ones in their order, each with its description,
    then any undeclared one by name (tests/apidocs fails on those)."""
    used = {
        tag for operations in paths.values() for operation in operations.values() for tag in operation["tags"]
    }
    known = [{"name": name, "description": text} for name, text in declared if name in used]
    named = {name for name, _text in declared}
    return known + [{"name": name} for name in sorted(used - named)]


def build_openapi(app: Flask, tags: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The document; `tags` orders and describes the operations' tags (name, one line)."""
    operations = _operations(app)
    key_map, schemas = _components([doc for *_, doc in operations])
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, spec, doc in operations:
        path = _PATH_PARAMETER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        headers = _idempotency_key(app, rule, spec)
        paths.setdefault(path, {})[method] = _operation(rule, spec, doc, key_map, schemas, headers)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Homeroom API",
            "version": __version__,
            "description": "A JSON API for schools. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": _tags(paths, tags),
        "paths": paths,
        "components": {
            "schemas": {**schemas, "Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
