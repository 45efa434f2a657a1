"""Request and response bodies for /api/auth and /api/users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from backend.core.pagination import PageQuery
from backend.core.validation import Hidden, InputModel, OutputModel, PatchModel, trim
from backend.tenancy import Role, SchoolRole


def normalise_email(value: str) -> str:
    """The one form an address is stored and compared in (trimmed as all text is: `trim`)."""
    return trim(value).lower()


Email = Annotated[EmailStr, AfterValidator(normalise_email), Hidden]
PlainPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024, strip_whitespace=False)]
Password = Annotated[PlainPassword, Hidden]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LoginIn(InputModel):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254), Hidden]
    password: Password
    return_refresh_token: bool = Field(
        default=False, description="Non-browser clients: also return the refresh token in the body."
    )


class RefreshIn(InputModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, repr=False
    )


class PasswordChangeIn(InputModel):
    current_password: Password
    new_password: Password


class UserCreateIn(InputModel):
    """With `password`, the account is ready; with `invite: true` (and no password) the user gets
    an email with a single-use link to choose their own."""

    email: Email
    full_name: Name
    role: SchoolRole
    password: PlainPassword | None = Field(default=None, repr=False)
    invite: bool = False

    @model_validator(mode="after")
    def _password_or_invite(self) -> UserCreateIn:
        if (self.password is None) != self.invite:
            raise ValueError("give either a password or invite: true, not both")
        return self


class OperatorCreateIn(InputModel):
    email: Email
    full_name: Name
    password: Password


class UserUpdateIn(PatchModel):
    full_name: Name | None = None
    role: SchoolRole | None = None
    is_active: bool | None = None


class UserListQuery(PageQuery):
    role: SchoolRole | None = None
    is_active: bool | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class SchoolOut(OutputModel):
    id: uuid.UUID
    name: str
    slug: str
    timezone: str
    currency: str


class UserOut(OutputModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserAdminOut(UserOut):
    """What an admin sees of a user: also the failed-login counters."""

    failed_login_count: int
    last_failed_login_at: datetime | None


class TokenOut(OutputModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_token: str | None = None
    user: UserOut


class ChildOut(OutputModel):
    """A parent's linked child, with what the link lets the parent see."""

    id: uuid.UUID
    first_name: str
    last_name: str
    grade_level: int
    status: str
    relationship: str
    is_primary: bool
    can_view_finance: bool
    can_view_health: bool
    can_view_grades: bool


class MeOut(OutputModel):
    user: UserOut
    school: SchoolOut | None = Field(description="None for platform operators, who belong to no school.")
    role: Role
    children: list[ChildOut] | None = Field(default=None, description="Parents only: their linked children.")


class InvitationAcceptIn(InputModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200), Hidden]
    password: Password


class PasswordResetIn(InputModel):
    email: Annotated[str, StringConstraints(min_length=1, max_length=254), Hidden]


class PasswordResetConfirmIn(InputModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200), Hidden]
    password: Password


class AcceptedOut(OutputModel):
    status: str = Field(description="Always `accepted`: whether the address has an account is not said.")


class InvitationOut(OutputModel):
    user_id: uuid.UUID
    expires_at: datetime
