"""JSON responses from pydantic models: one way to serialise (UTC timestamps end in Z)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, current_app, json
from pydantic import BaseModel


def json_response(
    body: BaseModel | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    data = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else body
    response = current_app.response_class(json.dumps(data), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


def dump_all(items: Iterable[Any], schema: type[BaseModel]) -> list[dict[str, Any]]:
    return [schema.model_validate(item).model_dump(mode="json", by_alias=True) for item in items]


def page_response(items: Iterable[Any], next_cursor: str | None, schema: type[BaseModel]) -> Response:
    """The list shape of the API: `{"items": [...], "next_cursor": "..." | null}`."""
    return json_response({"items": dump_all(items, schema), "next_cursor": next_cursor})


def items_response(items: Iterable[Any], schema: type[BaseModel]) -> Response:
    """A short list, never paginated: `{"items": [...]}`."""
    return json_response({"items": dump_all(items, schema)})


def no_content() -> Response:
    return current_app.response_class(status=204)
