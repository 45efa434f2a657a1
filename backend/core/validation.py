"""Request parsing with pydantic: a body of another type than the route's is a 415, malformed JSON
a 400, invalid content a 422 with field errors.

The rules every input model follows: unknown fields are errors; text is judged by its length as
sent (the OpenAPI document's maxLength), then trimmed of white space (`trim`, the one definition),
then judged for the rest (not blank, its pattern); dates are ISO 8601 calendar dates (`IsoDate`)
and points in time ISO 8601 with an offset (`Timestamp`), never Unix times.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar, cast

from flask import request
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from backend.core.errors import BadRequest, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)


# Text typed by people: any character but the control ones (line feed and carriage return aside)
# and the invisible format characters (zero-width, bidirectional overrides) that would make a
# printed comment read differently from the one typed. JSON Schema patterns: the OpenAPI says it too.
VISIBLE = (
    r"[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
# The same, and no line break of any kind (U+2028, U+2029 too: an email header would break there):
# names, labels and titles (printed in the PDF, the CSV and email subjects).
ONE_LINE = (
    r"[^\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def trim(text: str) -> str:
    """The one definition of what is trimmed from text: white space at either end, as
    `str.isspace()` has it (Unicode's: U+0085, U+00A0, U+2028, U+3000 ..., and U+001C-U+001F)."""
    return text.strip()


_TEXT_RULE = "homeroom_text_rule"
# Keys of a core schema that hold values, not schemas: left as they are.
_NOT_SCHEMAS = frozenset({"metadata", "config", "default", "serialization", "expected", "members", "cls"})


def _as_sent_then_trimmed(max_length: int | None) -> core_schema.NoInfoWrapValidatorFunction:
    def check(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, str):
            if max_length is not None and len(value) > max_length:
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": max_length},
                )
            value = trim(value)
        return handler(value)

    return check


def _text_rule(schema: Any) -> Any:
    """`schema` with the text rule around every string in it: the maximum length is judged on the
    value as sent (the document's `maxLength`), then the value is trimmed, then everything else
    (a minimum of 1 means "not blank", a pattern) is judged on the trimmed text. A string declared
    `strip_whitespace=False` (a password) is kept and judged as sent."""
    if isinstance(schema, list | tuple):
        return type(schema)(_text_rule(item) for item in schema)
    if not isinstance(schema, dict) or schema.get("metadata", {}).get(_TEXT_RULE):
        return schema
    if schema.get("type") == "str":
        if schema.get("strip_whitespace") is False:
            return schema
        return core_schema.no_info_wrap_validator_function(
            _as_sent_then_trimmed(schema.get("max_length")),
            {**schema, "strip_whitespace": False},
            metadata={_TEXT_RULE: True},
        )
    return {key: value if key in _NOT_SCHEMAS else _text_rule(value) for key, value in schema.items()}


class InputModel(BaseModel):
    """Base for request bodies and query strings: unknown fields are errors, not silently dropped;
    text is judged by the text rule (`_text_rule`: its length as sent, then trimmed)."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # pydantic builds every input model's schema through here (`handler(source)` is its own);
        # the JSON schema, and so the OpenAPI document, is unchanged: the rule wraps each string
        # without changing it, and the document is generated from the string inside.
        return cast(CoreSchema, _text_rule(handler(source)))


# A field whose value never shows in a repr (a log line, a traceback, a debugger): credentials,
# addresses, health data. `Annotated[str, Hidden]`, or `Field(default=..., repr=False)` when optional.
Hidden = Field(repr=False)


class OutputModel(BaseModel):
    """Base for response bodies: read from ORM rows and dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})",
    re.I,
)


def _iso_date(value: Any) -> Any:
    """Only an ISO 8601 calendar date, as text: not a Unix time ("0", 1700000000, which pydantic
    would read as one), not 20260102, not a date with a time. A `date` from Python passes."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # 2026-13-01: the form, but no such day
    raise PydanticCustomError("date_format", "Use a calendar date in the form YYYY-MM-DD (ISO 8601).")


# Reads the text once its form is checked: a JSON body is validated strictly, where a string is no
# longer read as a time once a validator before the type has seen it.
_AWARE = TypeAdapter(AwareDatetime)


def _iso_timestamp(value: Any) -> Any:
    """Only an ISO 8601 point in time with its offset, as text (not a Unix time); a `datetime` passes."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_TIMESTAMP.fullmatch(value):
        try:
            return _AWARE.validate_python(value)
        except ValidationError:
            pass  # the form, but no such time (hour 25)
    raise PydanticCustomError(
        "datetime_format",
        "Use a point in time in the form YYYY-MM-DDTHH:MM:SS+00:00 (ISO 8601, with its offset).",
    )


# Every date a request gives, in a body or a query string (documented as `format: date`).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# A point in time with its offset, that converts to UTC (a naive time is ambiguous: refused).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_timestamp), AfterValidator(_in_utc)]


def _whole(value: Any) -> Any:
    """JSON has one number type: 14.0 is the integer 14 (a fraction part is still refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


MAX_HUNDREDTHS = Decimal("999999.99")
_DECIMAL_TEXT = re.compile(r"\d{1,6}(\.\d{1,2})?")


def _decimal_text(value: Any) -> Any:
    """A JSON number or a decimal string as a Decimal (a number exactly as written in the JSON)."""
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise ValueError("write it as digits with at most two decimal places, such as 12.5")
        return Decimal(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


# A decimal of up to two places, as a JSON number (15, 15.5, 15.25) or a string ("15.25").
DecimalText = BeforeValidator(_decimal_text)


def decimal_schema(minimum: Decimal, maximum: Decimal = MAX_HUNDREDTHS) -> WithJsonSchema:
    """What a two-place decimal from `minimum` (0 or 0.01) to `maximum` (all nines, e.g. 9999.99)
    accepts: a JSON number that is a multiple of 0.01, or a string of up to two places ("12.5"; not
    zero when positive)."""
    not_zero = r"(?!0+(\.0{1,2})?$)" if minimum > 0 else ""
    digits = len(str(int(maximum)))
    return WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "minimum": float(minimum),
                    "maximum": float(maximum),
                    "multipleOf": 0.01,
                },
                {"type": "string", "pattern": rf"^{not_zero}\d{{1,{digits}}}(\.\d{{1,2}})?$"},
            ],
            "description": f"{minimum} to {maximum}, at most two decimal places.",
        },
        mode="validation",
    )


# An integer in a JSON body: 14 or 14.0.
Integer = Annotated[int, BeforeValidator(_whole)]


# A NUL in JSON text can only be the escape \u0000 (preceded by an even number of backslashes).
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
NUL_MESSAGE = "Text may not contain NUL characters."


class PatchModel(InputModel):
    """A partial update: at least one field, and a field given is not null unless `NULLABLE` says so."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The document says what is validated: at least one field, null only where NULLABLE."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["minProperties"] = 1
        for name, prop in schema.get("properties", {}).items():
            if name in cls.NULLABLE or "anyOf" not in prop:
                continue
            options = [option for option in prop.pop("anyOf") if option.get("type") != "null"]
            prop.pop("default", None)
            if len(options) == 1:
                prop.update(options[0])
            else:
                prop["anyOf"] = options
        return schema

    @model_validator(mode="after")
    def _something_to_change(self) -> PatchModel:
        if not self.model_fields_set:
            raise ValueError(f"Give at least one of: {', '.join(type(self).model_fields)}.")
        for name in self.model_fields_set - self.NULLABLE:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null.")
        return self


def one_per_student(items: list[Any]) -> list[Any]:
    """Validator for bulk bodies (attendance, grades): a student may appear once per request."""
    if len({item.student_id for item in items}) != len(items):
        raise ValueError("each student may appear only once")
    return items


def field_errors(error: ValidationError, prefix: str) -> list[dict[str, str]]:
    """pydantic errors as `[{"field": "body.x.0", "message": ..., "type": ...}]`, values never echoed."""
    return [
        {
            "field": ".".join([prefix, *(str(part) for part in item["loc"])]),
            "message": item["msg"],
            "type": item["type"],
        }
        for item in error.errors(include_input=False, include_url=False, include_context=False)
    ]


def validate(model: type[M], data: Any, prefix: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(field_errors(error, prefix)) from None


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = "application/json"


def has_body() -> bool:
    """Whether the request carries a body that counts (other methods' bodies are ignored)."""
    return request.method in BODY_METHODS and (
        bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def check_media_type(accepted: str | None) -> None:
    """A body, when there is one, is of the type the route declares: JSON unless it declares
    another (`text/csv`); else 415. `@api` checks it, so after authentication and `@requires`:
    a caller learns a route's body rules only once allowed to use it."""
    if not has_body():
        return
    if accepted is not None:
        if request.mimetype != accepted:
            raise UnsupportedMediaType(f"This request's body must be {accepted} (Content-Type: {accepted}).")
    elif not request.is_json:
        raise UnsupportedMediaType(f"Request bodies must be JSON (Content-Type: {JSON_MEDIA_TYPE}).")


def parse_body(model: type[M], *, optional: bool = False) -> M:
    """The JSON body of the current request, validated as `model`.

    A body of another type is a 415 (`check_media_type`), so no JSON means no body: a 400, or
    with `optional` the model's defaults.
    """
    check_media_type(None)
    if not request.is_json:
        if optional and not request.content_length:
            return validate(model, {}, "body")
        raise BadRequest("A JSON request body is required.")
    raw = request.get_data(cache=True)
    if _JSON_NUL.search(raw.decode("utf-8", "replace")):  # PostgreSQL cannot store NUL: refuse it here
        raise ValidationFailed.on("body", NUL_MESSAGE, "nul_character")
    try:
        # Strict JSON validation: "5" is not a number and "no" is not a boolean in a JSON body.
        return model.model_validate_json(raw, strict=True)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise BadRequest("The request body is not valid JSON.") from None
        raise ValidationFailed(field_errors(error, "body")) from None


def parse_query(model: type[M], args: Mapping[str, Any] | None = None) -> M:
    """The query string validated as `model`; repeated keys become lists only where declared."""
    source = request.args if args is None else args
    if any("\x00" in key or "\x00" in value for key, value in source.items()):
        raise ValidationFailed.on("query", NUL_MESSAGE, "nul_character")
    return validate(model, dict(source.items()), "query")
