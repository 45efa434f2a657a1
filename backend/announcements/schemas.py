"""Request and response bodies for announcements: writing them, the feed, and read receipts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from backend.announcements.markdown import MAX_BRACKETS
from backend.announcements.models import AnnouncementAudience, AnnouncementStatus
from backend.core.pagination import PageQuery
from backend.core.validation import ONE_LINE, InputModel, IsoDate, OutputModel, PatchModel, Timestamp

MAX_BODY = 20_000
MAX_STUDENTS = 500
# Markdown as typed: tabs and line breaks kept, and the joiners emoji are made of (U+200C, U+200D);
# other control and invisible characters (bidirectional overrides, zero-width spaces) refused.
MARKDOWN = (
    r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    r"\ufeff]"
)

Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=f"^{ONE_LINE}*$")]


def _few_brackets(text: str) -> str:
    if text.count("[") > MAX_BRACKETS:
        raise ValueError(f"At most {MAX_BRACKETS} square brackets ([): a link takes one.")
    return text


Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_BODY, pattern=f"^{MARKDOWN}*$"),
    AfterValidator(_few_brackets),
    Field(
        description="Markdown (CommonMark, strikethrough; no tables or images); raw HTML is shown as text."
    ),
]
YearGroup = Annotated[
    int, Field(strict=True, ge=0, le=20, description="A year group (students' grade level).")
]


def _distinct(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("Each student once.")
    return ids


StudentIds = Annotated[
    list[uuid.UUID],
    Field(min_length=1, max_length=MAX_STUDENTS, description="Their guardians are the audience."),
    AfterValidator(_distinct),
]
PinnedUntil = Annotated[
    IsoDate, Field(description="Shown first in feeds until the end of this day (the school's calendar).")
]
PublishAt = Annotated[
    Timestamp, Field(description="When to publish it (ISO 8601 with an offset); left out: now.")
]


class Targets(InputModel):
    """Who an announcement is for: `audience`, and the class, year group or students it names."""

    audience: AnnouncementAudience
    class_id: uuid.UUID | None = None
    grade_level: YearGroup | None = None
    student_ids: StudentIds | None = None

    _NEEDS: ClassVar[dict[AnnouncementAudience, str]] = {
        AnnouncementAudience.CLASS: "class_id",
        AnnouncementAudience.YEAR: "grade_level",
        AnnouncementAudience.STUDENTS: "student_ids",
    }

    @model_validator(mode="after")
    def _audience_target(self) -> Targets:
        for audience, name in self._NEEDS.items():
            if (getattr(self, name) is not None) != (self.audience == audience):
                raise ValueError(f"`{name}` goes with audience '{audience.value}' and only with it.")
        return self


class AnnouncementIn(Targets):
    title: Title
    body: Body
    urgent: bool = Field(default=False, description="Also emailed to everyone in the audience.")
    pinned_until: PinnedUntil | None = None
    publish_at: PublishAt | None = None


class AnnouncementUpdateIn(PatchModel):
    """Before it is published, anything; after, only `pinned_until`. A new audience is given whole
    (`audience` with its class, year group or students)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"pinned_until"})
    title: Title | None = None
    body: Body | None = None
    urgent: bool | None = None
    pinned_until: PinnedUntil | None = None
    publish_at: PublishAt | None = None
    audience: AnnouncementAudience | None = None
    class_id: uuid.UUID | None = None
    grade_level: YearGroup | None = None
    student_ids: StudentIds | None = None

    def targets(self) -> Targets | None:
        """The new audience, checked as a whole; None when it does not change."""
        given = {name: getattr(self, name) for name in Targets.model_fields if name in self.model_fields_set}
        if not given:
            return None
        if given.get("audience") is None:
            raise ValueError("A new audience is given with `audience`.")
        return Targets.model_validate(given)

    @model_validator(mode="after")
    def _whole_audience(self) -> AnnouncementUpdateIn:
        self.targets()
        return self


class AnnouncementQuery(PageQuery):
    status: AnnouncementStatus | None = None


class AnnouncementOut(OutputModel):
    id: uuid.UUID
    author_id: uuid.UUID
    title: str
    body: str = Field(description="As written (Markdown).")
    body_html: str = Field(description="Rendered and sanitised: safe to put on a page as it is.")
    urgent: bool
    pinned_until: date | None
    audience: AnnouncementAudience
    class_id: uuid.UUID | None
    grade_level: int | None
    student_ids: list[uuid.UUID] | None
    status: AnnouncementStatus
    publish_at: datetime | None = Field(description="When it is (or was) to be published.")
    published_at: datetime | None
    withdrawn_at: datetime | None
    recipient_count: int = Field(description="The audience when it was published.")
    created_at: datetime
    updated_at: datetime


class FeedItemOut(OutputModel):
    id: uuid.UUID
    title: str
    body_html: str = Field(description="Rendered and sanitised: safe to put on a page as it is.")
    urgent: bool
    pinned: bool = Field(description="Pinned today: listed before the rest.")
    pinned_until: date | None
    author_name: str
    published_at: datetime
    read_at: datetime | None


class UnreadOut(OutputModel):
    unread: int


class MarkedOut(OutputModel):
    marked: int = Field(description="Announcements marked read now (already read ones are not counted).")


class ReceiptsQuery(InputModel):
    class_id: uuid.UUID | None = Field(default=None, description="Only the families of this class.")


class ReceiptsOut(OutputModel):
    announcement_id: uuid.UUID
    class_id: uuid.UUID | None
    recipients: int
    read: int
    not_read: int


class NotReadQuery(ReceiptsQuery, PageQuery):
    pass


class NotReadOut(OutputModel):
    user_id: uuid.UUID
    full_name: str
    role: str
    children: list[str] = Field(description="Their children the announcement is about, by name.")
