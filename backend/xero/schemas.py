"""Request and response bodies for /api/integrations/xero. No token ever appears in one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field

from backend.core.validation import InputModel, OutputModel, PatchModel
from backend.xero.models import ConnectionState

AccountCode = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9._-]+$")]
TaxType = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_]+$")]


class ConnectOut(OutputModel):
    authorize_url: str = Field(description="Send the admin's browser here to approve access in Xero.")
    expires_at: datetime = Field(description="The approval must come back before this time.")


class CallbackQuery(InputModel):
    """What Xero appends to XERO_REDIRECT_URI: a code and our state, or an error."""

    state: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, min_length=1, max_length=2000)
    error: str | None = Field(default=None, max_length=200)
    error_description: str | None = Field(default=None, max_length=500)
    scope: str | None = Field(default=None, max_length=1000)
    session_state: str | None = Field(default=None, max_length=500)


class OrganisationOut(OutputModel):
    tenant_id: str
    name: str | None


class JobCountsOut(OutputModel):
    queued: int = Field(description="Changes waiting to be sent to Xero (or fetched from it).")
    dead: int = Field(description="Jobs that gave up: an operator retries or discards them.")


class StatusOut(OutputModel):
    state: ConnectionState
    organisation: OrganisationOut | None
    connected_at: datetime | None
    last_sync_at: datetime | None
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None = Field(
        description="When Xero drops the refresh token if it goes unused (a job refreshes it long before)."
    )
    last_error: str | None
    sales_account_code: str
    payment_account_code: str
    tax_type: str
    jobs: JobCountsOut


class DisconnectOut(OutputModel):
    revoked: bool = Field(
        description="Whether Xero confirmed the revocation (the tokens are deleted here either way)."
    )
    status: StatusOut


class XeroSettingsIn(PatchModel):
    """The school's own codes; null returns to the XERO_* default."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"sales_account_code", "payment_account_code", "tax_type"})

    sales_account_code: AccountCode | None = None
    payment_account_code: AccountCode | None = None
    tax_type: TaxType | None = None


class SyncOut(OutputModel):
    invoices_queued: int
    payments_queued: int
    reversals_queued: int
