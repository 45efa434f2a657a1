"""The state behind the Xero stand-in (tests/xero/standin.py): OAuth grants and the accounting ledger.

Plain data and Xero's rules, no threads and no locks: the stand-in calls all of this under its one
lock. A failure is raised as `XeroError` carrying the HTTP status and the JSON body Xero would send.
Times are the stand-in's clock (seconds, monotonic) passed in as `now`.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import jwt

Json = dict[str, Any]

CODE_TTL = 300.0  # an authorisation code is good for five minutes
CENT = Decimal("0.01")
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
OVERPAYMENT = "Payment amount exceeds the amount outstanding on this document"


class XeroError(Exception):
    """An answer other than success: the HTTP status and the JSON body Xero sends with it."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def oauth_error(error: str, status: int = 400) -> XeroError:
    """An identity-server error, as OAuth 2.0 spells it: `{"error": "invalid_grant"}`."""
    return XeroError(status, {"error": error})


def problem(status: int, title: str, detail: str) -> XeroError:
    """An API error in Xero's problem shape: `{"Title": "Unauthorized", "Status": 401, "Detail": ...}`."""
    return XeroError(status, {"Type": None, "Title": title, "Status": status, "Detail": detail})


def not_found() -> XeroError:
    """The API's answer for an id or path it does not know."""
    return problem(404, "NotFound", "The resource you're looking for cannot be found")


def validation_error(elements: list[Json]) -> XeroError:
    """Xero's 400 for a rejected write; each element carries its `ValidationErrors`."""
    return XeroError(
        400,
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
    )


def iso_now() -> str:
    """The wall-clock time in UTC as Xero writes it in connections and webhooks."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def xero_date(day: date | None = None) -> str:
    """A date in Microsoft JSON form, as the accounting API answers: `/Date(1764720000000+0000)/`."""
    moment = datetime.now(UTC) if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def parse_day(value: Any) -> date | None:
    """`YYYY-MM-DD` (or an ISO date-time, whose date is taken); None when it is not one."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def money(value: Any) -> Decimal | None:
    """A JSON number (or numeric string) as an exact Decimal; None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def cents(value: Decimal) -> float:
    """Rounded to the cent, half up, as a JSON number."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def items_of(body: Any, key: str) -> list[Json]:
    """The records of a write: `{"Invoices": [...]}`, or one bare record as Xero also accepts."""
    if isinstance(body, dict) and key in body:
        body = body[key]
    elif isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body or not all(isinstance(item, dict) for item in body):
        raise validation_error([{"ValidationErrors": [{"Message": f"A list of {key} is required"}]}])
    return body


# --- identity -------------------------------------------------------------------------------------

ACCESS_SIGNING_KEY = secrets.token_urlsafe(32)  # the stand-in's own; Homeroom only reads the claims


@dataclass
class Code:
    """An authorisation code: single use, bound to its redirect URI and PKCE challenge."""

    redirect_uri: str
    challenge: str | None
    scope: str
    expires: float
    used: bool = False


@dataclass(eq=False)
class Chain:
    """One grant: what a user authorised once, followed through every refresh-token rotation."""

    scope: str
    connections: list[Json]
    auth_event: str = ""  # the authorisation that made it: `authEventId` of its connections
    current: str = ""  # the refresh token most recently issued
    revoked: bool = False


class Grants:
    """Codes, refresh tokens (rotating, with a grace period for the previous ones) and access tokens."""

    def __init__(self, tenants: list[Json], *, access_ttl: float, grace_seconds: float) -> None:
        self.tenants = tenants
        self.access_ttl = access_ttl
        self.grace_seconds = grace_seconds
        self.codes: dict[str, Code] = {}
        # refresh token -> (its chain, the end of its grace; None while it is the chain's current one)
        self.refresh: dict[str, tuple[Chain, float | None]] = {}
        self.access: dict[str, tuple[Chain, float]] = {}  # access token -> (its chain, its expiry)

    def issue_code(self, redirect_uri: str, challenge: str | None, scope: str, now: float) -> str:
        """A fresh authorisation code, as the authorize endpoint hands out."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = Code(redirect_uri, challenge, scope, now + CODE_TTL)
        return code

    def exchange_code(self, code: str, redirect_uri: str, verifier_hash: str | None, now: float) -> Json:
        """`grant_type=authorization_code`: a new grant chain and its first token pair."""
        found = self.codes.get(code)
        if found is None or found.used or now >= found.expires or found.redirect_uri != redirect_uri:
            raise oauth_error("invalid_grant")
        found.used = True
        if found.challenge is not None and verifier_hash != found.challenge:
            raise oauth_error("invalid_grant")
        auth_event = str(uuid.uuid4())
        stamp = iso_now()
        connections = [
            {
                "id": str(uuid.uuid4()),
                "authEventId": auth_event,
                "tenantId": tenant["tenantId"],
                "tenantType": tenant.get("tenantType", "ORGANISATION"),
                "tenantName": tenant.get("tenantName"),
                "createdDateUtc": stamp,
                "updatedDateUtc": stamp,
            }
            for tenant in self.tenants
        ]
        return self._issue(Chain(found.scope, connections, auth_event), now)

    def refresh_grant(self, token: str, now: float) -> Json:
        """`grant_type=refresh_token`: rotate; a previous token works until its grace runs out."""
        chain, grace_end = self.refresh.get(token, (None, None))
        if chain is None or chain.revoked:
            raise oauth_error("invalid_grant")
        if grace_end is not None and now >= grace_end:
            del self.refresh[token]
            raise oauth_error("invalid_grant")
        return self._issue(chain, now)

    def _issue(self, chain: Chain, now: float) -> Json:
        """A new access and refresh token; the chain's current refresh token turns previous."""
        if chain.current in self.refresh:
            self.refresh[chain.current] = (chain, now + self.grace_seconds)
        # Xero's access tokens are JWTs naming the authorisation they come from.
        claims = {"authentication_event_id": chain.auth_event, "jti": secrets.token_urlsafe(16)}
        access, refresh = jwt.encode(claims, ACCESS_SIGNING_KEY, algorithm="HS256"), secrets.token_urlsafe(32)
        chain.current = refresh
        self.refresh[refresh] = (chain, None)
        self.access[access] = (chain, now + self.access_ttl)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.access_ttl),
            "token_type": "Bearer",
            "scope": chain.scope,
            "id_token": None,
        }

    def revoke(self, token: str) -> None:
        """Revoke the grant a refresh (or access) token belongs to: all its tokens and connections."""
        chain = self.refresh.get(token, (None, None))[0] or self.access.get(token, (None, 0.0))[0]
        if chain is None:
            return  # RFC 7009: an unknown token is answered 200 all the same
        chain.revoked = True
        chain.connections.clear()
        self.refresh = {key: value for key, value in self.refresh.items() if value[0] is not chain}
        self.access = {key: value for key, value in self.access.items() if value[0] is not chain}

    def expire_refresh_tokens(self) -> None:
        """Every refresh token stops working (60 days unused, or the app was disconnected)."""
        self.refresh.clear()

    def expire_access_tokens(self, now: float) -> None:
        """Every access token issued so far is expired from now on."""
        self.access = {key: (chain, min(expiry, now)) for key, (chain, expiry) in self.access.items()}

    def chain_for(self, authorization: str | None, now: float) -> Chain:
        """The grant behind an `Authorization: Bearer` header, or the API's 401."""
        scheme, _, token = (authorization or "").partition(" ")
        chain, expiry = self.access.get(token.strip(), (None, 0.0))
        if scheme.lower() != "bearer" or chain is None or chain.revoked or now >= expiry:
            raise problem(401, "Unauthorized", "TokenExpired")
        return chain


# --- accounting -----------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Contacts, invoices and payments by Xero id; `owner` says which tenant each belongs to."""

    currency: str = "GBP"
    contacts: dict[str, Json] = field(default_factory=dict)
    invoices: dict[str, Json] = field(default_factory=dict)
    payments: dict[str, Json] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)

    def _find(self, store: dict[str, Json], tenant: str, record_id: str) -> Json:
        if record_id not in store or self.owner.get(record_id) != tenant:
            raise not_found()
        return store[record_id]

    def _write(
        self,
        tenant: str,
        items: list[Json],
        check: Callable[[str, Json, list[Json]], list[str]],
        create: Callable[[str, Json], Json],
    ) -> list[Json]:
        """Check every record first (against the store and the ones before it), then create all or none."""
        failed: list[Json] = []
        for index, item in enumerate(items):
            messages = check(tenant, item, items[:index])
            if messages:
                failed.append({**item, "ValidationErrors": [{"Message": text} for text in messages]})
        if failed:
            raise validation_error(failed)
        return [copy.deepcopy(create(tenant, item)) for item in items]

    # --- contacts ---

    def put_contacts(self, tenant: str, body: Any) -> Json:
        """`PUT/POST /Contacts`."""
        return {
            "Contacts": self._write(tenant, items_of(body, "Contacts"), self._contact_errors, self._contact)
        }

    def get_contact(self, tenant: str, contact_id: str) -> Json:
        """`GET /Contacts/{id}`."""
        return {"Contacts": [copy.deepcopy(self._find(self.contacts, tenant, contact_id))]}

    def _contact_errors(self, tenant: str, item: Json, before: list[Json]) -> list[str]:
        name = item.get("Name")
        if not isinstance(name, str) or not name.strip():
            return ["The contact name must be specified."]
        taken = [c["Name"] for key, c in self.contacts.items() if self.owner[key] == tenant]
        taken += [str(other.get("Name")) for other in before]
        if name.strip().casefold() in {other.strip().casefold() for other in taken}:
            return [
                f"The contact name {name} is already assigned to another contact. "
                "The contact name must be unique across all active contacts."
            ]
        return []

    def _contact(self, tenant: str, item: Json) -> Json:
        contact_id = str(uuid.uuid4())
        fields = {key: value for key, value in item.items() if key != "ContactID"}
        self.contacts[contact_id] = {
            "ContactID": contact_id,
            **fields,
            "ContactStatus": "ACTIVE",
            "UpdatedDateUTC": xero_date(),
        }
        self.owner[contact_id] = tenant
        return self.contacts[contact_id]

    # --- invoices ---

    def put_invoices(self, tenant: str, body: Any) -> Json:
        """`PUT/POST /Invoices`."""
        return {
            "Invoices": self._write(tenant, items_of(body, "Invoices"), self._invoice_errors, self._invoice)
        }

    def get_invoice(self, tenant: str, invoice_id: str) -> Json:
        """`GET /Invoices/{id}`, with its payments and what is still due."""
        return {"Invoices": [copy.deepcopy(self._find(self.invoices, tenant, invoice_id))]}

    def _invoice_errors(self, tenant: str, item: Json, before: list[Json]) -> list[str]:
        errors: list[str] = []
        if item.get("Type") not in ("ACCREC", "ACCPAY"):
            errors.append("Invoice Type must be ACCREC or ACCPAY")
        contact = item.get("Contact")
        contact_id = contact.get("ContactID") if isinstance(contact, dict) else None
        if not isinstance(contact_id, str) or self.owner.get(contact_id) != tenant:
            errors.append("A valid ContactID must be specified")
        if item.get("Status", "DRAFT") not in INVOICE_STATUSES:
            errors.append(f"Invoice Status must be one of {', '.join(INVOICE_STATUSES)}")
        if item.get("LineAmountTypes", "Exclusive") not in LINE_AMOUNT_TYPES:
            errors.append(f"LineAmountTypes must be one of {', '.join(LINE_AMOUNT_TYPES)}")
        for key in ("Date", "DueDate"):
            if key in item and parse_day(item[key]) is None:
                errors.append(f"{key} must be a date (YYYY-MM-DD)")
        if item.get("Type") == "ACCREC" and self._number_taken(tenant, item.get("InvoiceNumber"), before):
            errors.append("Invoice # must be unique.")
        return errors + _line_errors(item.get("LineItems"))

    def _number_taken(self, tenant: str, number: Any, before: list[Json]) -> bool:
        if not number:
            return False
        mine = [inv for key, inv in self.invoices.items() if self.owner[key] == tenant] + before
        return any(inv.get("Type") == "ACCREC" and inv.get("InvoiceNumber") == number for inv in mine)

    def _invoice(self, tenant: str, item: Json) -> Json:
        invoice_id = str(uuid.uuid4())
        contact_id = item["Contact"]["ContactID"]
        lines = [_line(line) for line in item["LineItems"]]
        total = sum((Decimal(str(line["LineAmount"])) for line in lines), Decimal(0))
        number = item.get("InvoiceNumber") or f"INV-{len(self.invoices) + 1:04d}"
        invoice: Json = {
            "InvoiceID": invoice_id,
            "Type": item["Type"],
            "InvoiceNumber": number,
            "Reference": item.get("Reference", ""),
            "Status": item.get("Status", "DRAFT"),
            "Contact": {"ContactID": contact_id, "Name": self.contacts[contact_id]["Name"]},
            **_dated("Date", parse_day(item.get("Date")) or date.today()),
            **(_dated("DueDate", parse_day(item["DueDate"])) if "DueDate" in item else {}),
            "LineAmountTypes": item.get("LineAmountTypes", "Exclusive"),
            "LineItems": lines,
            "SubTotal": cents(total),
            "TotalTax": 0.0,
            "Total": cents(total),
            "CurrencyCode": item.get("CurrencyCode", self.currency),
        }
        self.invoices[invoice_id] = invoice
        self.owner[invoice_id] = tenant
        self._settle(invoice_id)
        return invoice

    def _settle(self, invoice_id: str) -> None:
        """Recompute an invoice's payments, AmountPaid, AmountDue and PAID/AUTHORISED status."""
        invoice = self.invoices[invoice_id]
        live = [
            p
            for p in self.payments.values()
            if p["Invoice"]["InvoiceID"] == invoice_id and p["Status"] != "DELETED"
        ]
        paid = sum((Decimal(str(p["Amount"])) for p in live), Decimal(0))
        due = Decimal(str(invoice["Total"])) - paid
        invoice["Payments"] = [
            {
                "PaymentID": p["PaymentID"],
                "Amount": p["Amount"],
                "Date": p["Date"],
                "Reference": p["Reference"],
            }
            for p in live
        ]
        invoice["AmountPaid"] = cents(paid)
        invoice["AmountDue"] = cents(due)
        if invoice["Status"] in ("AUTHORISED", "PAID"):
            invoice["Status"] = "PAID" if due <= 0 else "AUTHORISED"
        invoice["UpdatedDateUTC"] = xero_date()

    # --- payments ---

    def put_payments(self, tenant: str, body: Any) -> Json:
        """`PUT/POST /Payments`."""
        return {
            "Payments": self._write(tenant, items_of(body, "Payments"), self._payment_errors, self._payment)
        }

    def get_payment(self, tenant: str, payment_id: str) -> Json:
        """`GET /Payments/{id}`."""
        return {"Payments": [copy.deepcopy(self._find(self.payments, tenant, payment_id))]}

    def _payment_errors(self, tenant: str, item: Json, before: list[Json]) -> list[str]:
        invoice_id = _invoice_id_of(item)
        if (
            not isinstance(invoice_id, str)
            or invoice_id not in self.invoices
            or self.owner[invoice_id] != tenant
        ):
            return ["Invoice could not be found"]
        invoice = self.invoices[invoice_id]
        account = item.get("Account")
        errors = [] if isinstance(account, dict) and account.get("Code") else ["Account could not be found"]
        if invoice["Status"] != "AUTHORISED":
            errors.append("Invoice not of valid status for modification")
        if "Date" in item and parse_day(item["Date"]) is None:
            errors.append("Date must be a date (YYYY-MM-DD)")
        amount = money(item.get("Amount"))
        earlier = [money(other.get("Amount")) for other in before if _invoice_id_of(other) == invoice_id]
        pending = sum((value for value in earlier if value is not None), Decimal(0))
        if amount is None or amount <= 0:
            errors.append("The payment amount must be greater than zero")
        elif amount + pending > Decimal(str(invoice["AmountDue"])):
            errors.append(OVERPAYMENT)
        return errors

    def _payment(self, tenant: str, item: Json) -> Json:
        payment_id = str(uuid.uuid4())
        invoice = self.invoices[item["Invoice"]["InvoiceID"]]
        self.payments[payment_id] = {
            "PaymentID": payment_id,
            "Date": xero_date(parse_day(item.get("Date")) or date.today()),
            "Amount": cents(money(item["Amount"]) or Decimal(0)),
            "Reference": item.get("Reference", ""),
            "Status": "AUTHORISED",
            "PaymentType": "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
            "Account": {"Code": item["Account"]["Code"]},
            "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice["InvoiceNumber"]},
            "UpdatedDateUTC": xero_date(),
        }
        self.owner[payment_id] = tenant
        self._settle(invoice["InvoiceID"])
        return self.payments[payment_id]

    def delete_payment(self, tenant: str, payment_id: str, body: Any) -> Json:
        """`POST /Payments/{id}` with `{"Payments": [{"Status": "DELETED"}]}`: the amount is due again."""
        payment = self._find(self.payments, tenant, payment_id)
        change = items_of(body, "Payments")[0]
        if change.get("Status") != "DELETED":
            raise validation_error([{**change, "ValidationErrors": [{"Message": "Status must be DELETED"}]}])
        if payment["Status"] == "DELETED":
            message = "This payment has already been deleted"
            raise validation_error([{**change, "ValidationErrors": [{"Message": message}]}])
        payment["Status"] = "DELETED"
        payment["UpdatedDateUTC"] = xero_date()
        self._settle(payment["Invoice"]["InvoiceID"])
        return {"Payments": [copy.deepcopy(payment)]}


def _invoice_id_of(payment: Json) -> Any:
    """The `Invoice.InvoiceID` a payment names (None when it names none)."""
    target = payment.get("Invoice")
    return target.get("InvoiceID") if isinstance(target, dict) else None


def _dated(key: str, day: date | None) -> Json:
    """`Date` and `DateString` (or `DueDate` and `DueDateString`) the way invoices carry them."""
    if day is None:
        return {}
    return {key: xero_date(day), f"{key}String": f"{day.isoformat()}T00:00:00"}


def _line_errors(lines: Any) -> list[str]:
    if not isinstance(lines, list) or not lines or not all(isinstance(line, dict) for line in lines):
        return ["At least one line item is required"]
    errors: list[str] = []
    for line in lines:
        if not line.get("AccountCode"):
            errors.append("Account code '' is not a valid code for this document.")
        if money(line.get("Quantity", 1)) is None or money(line.get("UnitAmount", 0)) is None:
            errors.append("Quantity and UnitAmount must be numbers")
    return errors


def _line(line: Json) -> Json:
    quantity = money(line.get("Quantity", 1)) or Decimal(0)
    unit = money(line.get("UnitAmount", 0)) or Decimal(0)
    return {
        "LineItemID": str(uuid.uuid4()),
        **line,
        "Quantity": float(quantity),
        "UnitAmount": float(unit),
        "LineAmount": cents(quantity * unit),
    }
