"""`@api(...)`: what a route takes and returns, declared once, and the one way values become JSON.

The declaration does three jobs: the view receives its validated `body` and `query` as keyword
arguments; whatever the view returns is validated into the declared response type and written as
JSON with the declared status; and the OpenAPI document (`backend.core.openapi`) is generated from
the same types, so the document and the bodies cannot drift apart.

A view returns one of:
- a value of (or readable as) the response type: a model, an ORM row, a dataclass, a `Page`;
- `(value, headers)` to add headers (`Location` after a create, say);
- `None` when the declaration has no response type (204 No Content);
- a ready `Response`, only for routes declared with a `media_type` (files, HTML).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from flask import Response, current_app, request
from pydantic import TypeAdapter

from backend.core.markers import ApiDoc, route_spec
from backend.core.validation import check_media_type, parse_body, parse_query

JSON = "application/json"
Headers = Mapping[str, str]


def api(
    *,
    response: Any = None,
    status: int = 200,
    body: type[Any] | None = None,
    query: type[Any] | None = None,
    optional_body: bool = False,
    media_type: str | None = None,
    body_media_type: str | None = None,
    problems: tuple[int, ...] = (),
    summary: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Declare the route's body, query and response types (`response=None` means no content).

    `body_media_type` (say `text/csv`) declares a body that is not JSON: the view gets it as
    `body: bytes`. A body of another type than the declared one (JSON by default) is a 415, decided
    here, after the caller has been authenticated and authorized (`@requires` wraps `@api`)."""
    if response is None and media_type is None and status != 204:
        raise ValueError("a route without a response type answers 204 No Content")
    adapter: TypeAdapter[Any] | None = TypeAdapter(response) if response is not None else None

    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        doc = ApiDoc(
            summary=summary or (view.__doc__ or view.__name__).strip().splitlines()[0].rstrip("."),
            response=response,
            status=status,
            body=body,
            query=query,
            optional_body=optional_body,
            media_type=media_type,
            body_media_type=body_media_type,
            problems=frozenset(problems),
        )

        @wraps(view)
        def endpoint(*args: Any, **kwargs: Any) -> Response:
            # The body's type is checked here, not in the pipeline: after authentication (415).
            if body is not None:
                kwargs["body"] = parse_body(body, optional=optional_body)
            else:
                check_media_type(body_media_type)
                if body_media_type is not None:
                    kwargs["body"] = request.get_data(cache=True)
            if query is not None:
                kwargs["query"] = parse_query(query)
            return render(doc, adapter, view(*args, **kwargs))

        route_spec(endpoint).api = doc
        return endpoint

    return decorate


def render(doc: ApiDoc, adapter: TypeAdapter[Any] | None, result: Any) -> Response:
    """The view's result as the declared response: one serialization rule for every route."""
    if isinstance(result, Response):
        if doc.media_type is None:
            raise TypeError(f"{doc.summary!r} declares its response type: return a value, not a Response")
        return result
    value, headers = result if isinstance(result, tuple) else (result, None)
    if adapter is None:
        if value is not None:
            raise TypeError(f"{doc.summary!r} declares no response body but returned a value")
        response = current_app.response_class(status=doc.status)
    else:
        response = current_app.response_class(to_json(adapter, value), status=doc.status, mimetype=JSON)
    if headers:
        response.headers.update(headers)
    return response


def to_json(adapter: TypeAdapter[Any], value: Any) -> bytes:
    """Validate `value` (attributes of ORM rows and dataclasses are read) and dump it as JSON bytes."""
    return adapter.dump_json(adapter.validate_python(value, from_attributes=True), by_alias=True)
