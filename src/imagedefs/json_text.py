"""JSON from untrusted text: every ambiguity refused, every size bounded, one error type for all of it.

Python's json module takes the last of duplicate keys, accepts NaN and Infinity, converts numbers of any
length (and fails past 4,300 digits with a ValueError) and recurses once per nesting level. It also turns
an escaped lone surrogate ("\\ud800") into a string no UTF-8 encoder takes, which would fail later, far from
here, wherever the string is written (a zip member name, a log line, a report). Each is a way for a file or
UserParameters to mean two things, or to end in an unexpected error instead of a message.
"""

from __future__ import annotations

import json
import math
from collections import deque
from typing import Any, Final

# No file or setting this function reads holds a number at all; these bound what it will convert.
MAX_NUMBER_CHARS: Final = 64


_KINDS: Final[dict[type, str]] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


class JsonTextError(ValueError):
    """The text is not JSON this function accepts; the message says why, read after "the file is" / "... is"."""


def parse_json(text: str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity, overlong numbers, runaway nesting and unpaired
    surrogates (in keys and values alike).
    """
    document = _parse(text)
    if (unencodable := _first_unencodable_string(document)) is not None:
        raise JsonTextError(
            f"not valid Unicode: {unencodable} holds an unpaired surrogate (\\ud800-\\udfff), which no "
            "UTF-8 text can hold; write the character itself"
        )
    return document


def json_kind(value: object) -> str:
    """What kind of JSON value this is, as messages name it ("an object", "null"); the value itself is never shown,
    as it may be a secret."""
    return _KINDS.get(type(value), "something else")


def is_unicode_text(text: str) -> bool:
    """Whether the text can be written as UTF-8 (it holds no unpaired surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_unencodable_string(document: Any) -> str | None:
    """Where the first string that UTF-8 cannot encode is ("the string at ...", "a key of ..."), or None.

    Breadth first, without recursion (the parser allows nesting as deep as the recursion limit); each
    node keeps its parent's path as a link, so that the path is built only for the string found.
    """
    pending: deque[tuple[Any, _Path]] = deque([(document, None)])
    while pending:
        value, path = pending.popleft()
        if isinstance(value, str) and not is_unicode_text(value):
            return f"the string at {_dotted(path)}" if path else "the string"
        if isinstance(value, dict):
            for key, item in value.items():
                if not is_unicode_text(key):
                    return f"a key of the object at {_dotted(path)}" if path else "a key of the top-level object"
                pending.append((item, (key, path)))
        elif isinstance(value, list):
            pending.extend((item, (index, path)) for index, item in enumerate(value))
    return None


_Path = tuple["str | int", "_Path"] | None


def _dotted(path: _Path) -> str:
    """The JSON-quoted path of a value: "containers.WebImage[1]"."""
    steps: list[str | int] = []
    while path is not None:
        step, path = path
        steps.append(step)
    dotted = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in reversed(steps))
    return json.dumps(dotted.removeprefix("."))


def _parse(text: str) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_with_unique_keys,
            parse_int=_bounded_number(int),
            parse_float=_bounded_number(float),
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    except RecursionError as exc:  # the C parser's guard against deep nesting: the depth is bounded by it
        raise JsonTextError("nested too deeply to be read (arrays or objects inside each other)") from exc


def _object_with_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise JsonTextError(
                f"ambiguous: key {json.dumps(key)} appears more than once in one object; keep only one of them"
            )
        seen.add(key)
    return dict(pairs)


def _bounded_number(convert: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        if len(text) > MAX_NUMBER_CHARS:
            raise JsonTextError(
                f"not readable: it holds a number {len(text)} characters long; at most {MAX_NUMBER_CHARS} are read"
            )
        number = convert(text)
        if not math.isfinite(number):
            raise JsonTextError(f"not readable: it holds the number {text}, which is too large to be read")
        return number

    return parse


def _refuse_constant(name: str) -> Any:
    raise JsonTextError(f"not valid JSON: it holds {name}")
