"""The `tag` regular expression: compiled once, and matched under a time limit.

The pattern comes from UserParameters or the stack, the tags from whoever can push to the repository.
Python's backtracking engine takes exponential time on patterns such as "(a|aa)+$" or "(a+)+b", which no
input check can rule out; so every match runs under a wall-clock limit, enforced with SIGALRM (the engine
checks for signals while it backtracks), and a pattern that reaches it is refused with a message.
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Final

from imagedefs.errors import ConfigurationError

# Seconds that matching one pattern against all of an image's tags may take. Any sane pattern needs
# microseconds for tags of at most 128 characters, even on a 128 MB function's share of a CPU.
MATCH_TIME_LIMIT_SECONDS: Final = 1.0
EXAMPLE: Final = '"v[0-9]+\\\\.[0-9]+\\\\.[0-9]+"'


class _TimeLimitReachedError(Exception):
    pass


@dataclass(frozen=True)
class TagPattern:
    """A compiled tag pattern, and where it was set (for messages): 'UserParameters "tag"', ..."""

    regex: re.Pattern[str]
    source: str

    @classmethod
    def compile(cls, text: str, source: str) -> TagPattern:
        try:
            return cls(re.compile(text), source)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ConfigurationError(
                f"{source} is not a valid regular expression ({exc}): {json.dumps(text)}. Write a Python regular "
                f"expression that a whole tag matches, for example {EXAMPLE}."
            ) from exc

    @property
    def text(self) -> str:
        return self.regex.pattern

    def first_match(self, tags: Iterable[str], seconds: float = MATCH_TIME_LIMIT_SECONDS) -> str | None:
        """The first tag that the pattern matches whole; refuse the pattern if matching takes over `seconds`."""
        tag = ""  # pragma: no mutate (read only if the limit fires before the first tag is taken)
        try:
            with _time_limit(seconds):
                for tag in tags:
                    if self.regex.fullmatch(tag):
                        return tag
        except _TimeLimitReachedError:
            raise ConfigurationError(
                f"{self.source} {json.dumps(self.text)} was refused: matching it against tag {json.dumps(tag)} took "
                f"more than {seconds:g} s, so it backtracks catastrophically (nested repetition such as (a+)+, or "
                f"alternatives that overlap under a repetition such as (a|aa)+). Write a simpler pattern, for "
                f"example {EXAMPLE}."
            ) from None
        return None


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _TimeLimitReachedError in this block after `seconds` of wall-clock time.

    Signals reach only the main thread, where Lambda's runtime and the command line call the function;
    elsewhere the block runs without a limit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    armed = True

    def expire(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise _TimeLimitReachedError

    previous_handler = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
