"""Text in requests: its length is judged as sent (what the OpenAPI document's maxLength promises),
then it is trimmed of white space (one definition: `str.isspace()`), then judged for the rest (not
blank, its pattern). Passwords are kept as sent."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import pytest
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from backend.core.errors import ValidationFailed
from backend.core.validation import InputModel, PatchModel, trim, validate

Short = Annotated[str, StringConstraints(min_length=1, max_length=5)]
# Unicode's white space, as str.isspace() has it: NEXT LINE, NO-BREAK SPACE, LINE SEPARATOR,
# IDEOGRAPHIC SPACE, OGHAM SPACE MARK, the information separators, and the ASCII ones.
SPACES = ["\x85", "\xa0", "\u2028", "\u2029", "\u3000", "\u1680", "\u202f", "\x1c", "\x1f", "\t", "\n", " "]


class NoteIn(InputModel):
    name: Short
    note: Annotated[str, StringConstraints(max_length=5)] | None = None
    tags: list[Short] = Field(default_factory=list)
    code: Annotated[str, StringConstraints(max_length=5, pattern=r"^[a-z]+$")] | None = None
    secret: Annotated[str, StringConstraints(min_length=1, max_length=5, strip_whitespace=False)] | None = (
        None
    )


class NoteQuery(InputModel):
    q: Short | None = None


class NotePatch(PatchModel):
    name: Short | None = None


class Outer(InputModel):
    inner: NoteIn


def _errors(model: type[Any], data: Any, prefix: str = "body") -> dict[str, str]:
    with pytest.raises(ValidationFailed) as raised:
        validate(model, data, prefix)
    errors = raised.value.extra["errors"]
    return {error["field"]: error["type"] for error in errors}


def _json_errors(model: type[Any], raw: str) -> dict[str, str]:
    """The body path: strict JSON validation, as `parse_body` does it."""
    with pytest.raises(ValidationError) as raised:
        model.model_validate_json(raw, strict=True)
    return {".".join(str(part) for part in e["loc"]): e["type"] for e in raised.value.errors()}


def test_trim_is_str_isspace_and_nothing_else() -> None:
    removed = {code for code in range(sys.maxunicode + 1) if trim(chr(code)) == ""}
    assert removed == {code for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    assert {0x85, 0xA0, 0x2028, 0x3000} <= removed
    assert trim("\u200b a b \u3000") == "\u200b a b"  # a zero-width space is not white space


@pytest.mark.parametrize("space", SPACES)
def test_one_more_than_the_maximum_as_sent_is_refused(space: str) -> None:
    """Before: the leading white space was trimmed first, and the rest (the maximum) accepted."""
    value = space + "abcde"
    assert _errors(NoteIn, {"name": value}) == {"body.name": "string_too_long"}
    assert _errors(NoteIn, {"name": "a", "note": value}) == {"body.note": "string_too_long"}
    assert _errors(NoteIn, {"name": "a", "tags": ["ab", value]}) == {"body.tags.1": "string_too_long"}
    assert _errors(Outer, {"inner": {"name": value}}) == {"body.inner.name": "string_too_long"}
    assert _errors(NotePatch, {"name": value}) == {"body.name": "string_too_long"}
    assert _errors(NoteQuery, {"q": value}, "query") == {"query.q": "string_too_long"}
    assert _json_errors(NoteIn, json.dumps({"name": value})) == {"name": "string_too_long"}


@pytest.mark.parametrize("space", SPACES)
def test_the_maximum_as_sent_is_accepted_and_trimmed(space: str) -> None:
    assert validate(NoteIn, {"name": f"{space}abc{space}"}, "body").name == "abc"
    assert validate(NoteIn, {"name": "a", "tags": [f"{space}a{space}"]}, "body").tags == ["a"]
    assert validate(NoteQuery, {"q": f"{space}{space}abc"}, "query").q == "abc"
    assert validate(NoteIn, {"name": f"abc{space}{space}"}, "body").name == "abc"


def test_padding_of_every_kind_is_trimmed() -> None:
    assert validate(NoteIn, {"name": "\u3000\xa0a\x85\u2028"}, "body").name == "a"  # 5 as sent
    assert _errors(NoteIn, {"name": "\u3000\xa0ab\x85\u2028"}) == {"body.name": "string_too_long"}  # 6


@pytest.mark.parametrize("blank", ["", " ", "\x85", "\u3000\xa0", "\x1c\x1d"])
def test_a_required_text_of_only_white_space_is_refused(blank: str) -> None:
    """Not blank is judged after trimming: the length as sent is no excuse for empty text."""
    assert _errors(NoteIn, {"name": blank}) == {"body.name": "string_too_short"}
    assert _errors(NoteIn, {"name": "a", "tags": [blank]}) == {"body.tags.0": "string_too_short"}
    assert _errors(NotePatch, {"name": blank}) == {"body.name": "string_too_short"}


def test_optional_text_may_be_blank_and_becomes_empty() -> None:
    assert validate(NoteIn, {"name": "a", "note": "\x85\u3000"}, "body").note == ""


def test_patterns_judge_the_trimmed_text() -> None:
    assert validate(NoteIn, {"name": "a", "code": "\xa0abc "}, "body").code == "abc"
    assert _errors(NoteIn, {"name": "a", "code": "\xa0abcde"}) == {"body.code": "string_too_long"}


def test_text_kept_as_sent_is_not_trimmed() -> None:
    """Passwords (`strip_whitespace=False`) are compared as typed: white space is part of them."""
    assert validate(NoteIn, {"name": "a", "secret": " ab\x85"}, "body").secret == " ab\x85"
    assert _errors(NoteIn, {"name": "a", "secret": " abcde"}) == {"body.secret": "string_too_long"}


def test_non_text_is_still_a_type_error() -> None:
    assert _json_errors(NoteIn, '{"name": 12345}') == {"name": "string_type"}


def test_the_document_is_unchanged_by_the_rule() -> None:
    """The schemas still say what pydantic's constraints say: the rule adds no step to them."""
    schema = TypeAdapter(NoteIn).json_schema()
    assert schema["properties"]["name"] == {"maxLength": 5, "minLength": 1, "title": "Name", "type": "string"}
    assert schema["properties"]["tags"]["items"] == {"maxLength": 5, "minLength": 1, "type": "string"}
