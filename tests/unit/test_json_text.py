"""JSON from untrusted text: ambiguity refused, numbers and nesting bounded, each with a reason."""

from __future__ import annotations

import pytest

from imagedefs.json_text import JsonTextError, json_kind, parse_json


def test_plain_json_is_read() -> None:
    assert parse_json('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize("number", ["1" * 64, "1." + "5" * 62, "-" + "9" * 63])
def test_numbers_of_up_to_64_characters_are_read(number: str) -> None:
    assert parse_json(f"[{number}]") == [float(number) if "." in number else int(number)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" + "1" * 65 + "]", "a number 65 characters long; at most 64 are read"),
        ("[1." + "5" * 63 + "]", "a number 65 characters long"),
        ("[1e999]", "the number 1e999, which is too large"),
        ("[-1e999]", "it holds the number -1e999, which is too large"),
        ("[Infinity]", "not valid JSON: it holds Infinity"),
        ('{"a": 1, "a": 2}', 'key "a" appears more than once'),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to be read (arrays or objects inside each other)"),
        ('{"a": }', "(Expecting value at line 1 column 7)"),
    ],
)
def test_what_cannot_be_read_unambiguously_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(JsonTextError) as raised:
        parse_json(text)
    assert reason in str(raised.value)
    if reason.endswith(")"):  # a reason that closes the message
        assert str(raised.value).endswith(reason)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("{}", "an object"),
        ("[1]", "a list"),
        ('"x"', "a string"),
        ("true", "a boolean"),
        ("1", "a number"),
        ("1.5", "a number"),
        ("null", "null"),
    ],
)
def test_each_json_value_is_named_by_its_kind_never_by_its_value(text: str, kind: str) -> None:
    assert json_kind(parse_json(text)) == kind


def test_a_value_json_cannot_hold_is_something_else() -> None:
    assert json_kind(b"secret") == "something else"
    assert json_kind((1, 2)) == "something else"
