"""Request parsing with pydantic: malformed JSON is a 400, invalid content a 422 with field errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar

from flask import request
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from backend.core.errors import BadRequest, ValidationFailed

M = TypeVar("M", bound=BaseModel)


class InputModel(BaseModel):
    """Base for request bodies and query strings: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


def _iso_text(pattern: re.Pattern[str], form: str) -> Callable[[Any], Any]:
    """A query string holds text: only the ISO form counts (not "0", read as a Unix time)."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"use the form {form}")
        return value

    return check


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})", re.I
)
# A point in time with its offset, that converts to UTC (a naive time is ambiguous: refused).
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]


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
# In query strings: dates as YYYY-MM-DD, timestamps as ISO 8601 with an offset.
QueryDate = Annotated[date, BeforeValidator(_iso_text(_ISO_DATE, "YYYY-MM-DD"))]
QueryTimestamp = Annotated[Timestamp, BeforeValidator(_iso_text(_ISO_TIMESTAMP, "YYYY-MM-DDTHH:MM:SS+00:00"))]


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


def parse_body(model: type[M], *, optional: bool = False) -> M:
    """The JSON body of the current request, validated as `model`.

    A body of another type never gets here (the pipeline answers 415), so no JSON means no body:
    a 400, or with `optional` the model's defaults.
    """
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
