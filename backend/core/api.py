"""`@api(...)`: what a route takes and returns, declared once.

The declaration does two jobs: the view receives its validated `body` and `query` as keyword
arguments, and the OpenAPI document (`backend.core.openapi`) is generated from the same models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from backend.core.validation import parse_body, parse_query

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """The shape of every list: a page of items and the cursor of the next page (null at the end)."""

    items: list[T]
    next_cursor: str | None


class Items(BaseModel, Generic[T]):
    """A short list that is never paginated (a student's guardians, a class's enrollments)."""

    items: list[T]


@dataclass(frozen=True)
class ApiDoc:
    summary: str
    response: type[BaseModel] | None
    status: int
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    optional_body: bool
    media_type: str | None = None  # a response that is not a model: HTML, JavaScript, a free-form document
    problems: frozenset[int] = frozenset()  # statuses this route gives beyond the ones its shape implies


def api(
    *,
    response: type[BaseModel] | None = None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    optional_body: bool = False,
    media_type: str | None = None,
    problems: tuple[int, ...] = (),
    summary: str | None = None,
) -> Callable[[F], F]:
    """Declare the route's body, query and response models (`response=None` means no content)."""

    def decorate(view: F) -> F:
        doc = ApiDoc(
            summary=summary or (view.__doc__ or view.__name__).strip().splitlines()[0].rstrip("."),
            response=response,
            status=status,
            body=body,
            query=query,
            optional_body=optional_body,
            media_type=media_type,
            problems=frozenset(problems),
        )

        @wraps(view)
        def parsed(*args: Any, **kwargs: Any) -> Any:
            if body is not None:
                kwargs["body"] = parse_body(body, optional=optional_body)
            if query is not None:
                kwargs["query"] = parse_query(query)
            return view(*args, **kwargs)

        parsed.api = doc  # type: ignore[attr-defined]
        return parsed  # type: ignore[return-value]

    return decorate
