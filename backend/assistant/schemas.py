"""Request and response bodies for /api/assistant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from backend.assistant.catalogue import DomainName, PageName
from backend.assistant.models import Audience, KnowledgeKind
from backend.core.pagination import PageQuery
from backend.core.validation import InputModel, OutputModel, PatchModel

Message = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class MessageIn(InputModel):
    # The question is the caller's own words: never in a repr, a log line or the audit trail.
    message: Message = Field(repr=False)
    student_id: uuid.UUID | None = Field(default=None, description="Ask about this student only.")
    page: PageName | None = Field(default=None, description="The page of the web app the caller is on.")


class StudentMessageIn(InputModel):
    message: Message = Field(repr=False)


class HelpIn(InputModel):
    page: PageName


class AnswerOut(OutputModel):
    answer: str
    domain: DomainName | Literal["unknown"]
    kind: Literal["answered", "clarify", "not_found", "refused", "overview"] = Field(
        description="`answered` from the facts; `clarify`: not sure what was asked, so it says what it "
        "understood and asks; `not_found`: a student, class or subject asked about is not among those "
        "the caller can see; `refused`: the caller's role cannot see that; `overview`: what it can help with."
    )
    mode: Literal["model", "offline"]
    facts: list[str] = Field(description="What the answer was drawn from, one sentence each.")
    suggestions: list[str]


class DomainOut(OutputModel):
    name: DomainName
    title: str
    description: str
    sample_questions: list[str]


class ActionOut(OutputModel):
    title: str
    how: str


class HelpOut(OutputModel):
    page: PageName
    title: str
    summary: str
    actions: list[ActionOut] = Field(description="What the caller's role may do on the page, and how.")
    related: list[str] = Field(description="Titles of the school's knowledge-base entries about the page.")


class KnowledgeIn(InputModel):
    kind: KnowledgeKind
    title: Title
    body: Body
    audience: Audience = Audience.EVERYONE


class KnowledgeUpdateIn(PatchModel):
    kind: KnowledgeKind | None = None
    title: Title | None = None
    body: Body | None = None
    audience: Audience | None = None


class KnowledgeListQuery(PageQuery):
    q: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Full-text search; results in order of relevance (one page)."
    )
    kind: KnowledgeKind | None = None


class KnowledgeOut(OutputModel):
    id: uuid.UUID
    kind: KnowledgeKind
    title: str
    body: str
    audience: Audience
    updated_at: datetime
