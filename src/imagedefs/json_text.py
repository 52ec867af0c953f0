"""JSON from untrusted text: every ambiguity refused, every size bounded, one error type for all of it.

Python's json module takes the last of duplicate keys, accepts NaN and Infinity, converts numbers of any
length (and fails past 4,300 digits with a ValueError) and recurses once per nesting level. Each is a way
for a file or UserParameters to mean two things, or to end in an unexpected error instead of a message.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

# No file or setting this function reads holds a number at all; these bound what it will convert.
MAX_NUMBER_CHARS: Final = 64


class JsonTextError(ValueError):
    """The text is not JSON this function accepts; the message says why, read after "the file is" / "... is"."""


def parse_json(text: str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity, overlong numbers and runaway nesting."""
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
