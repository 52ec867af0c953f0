"""The `tag` regular expression: compiled once, and matched under a time limit.

The pattern comes from UserParameters or the stack, the tags from whoever can push to the repository.
Python's backtracking engine takes exponential time on patterns such as "(a|aa)+$" or "(a+)+b", which no
input check can rule out, and compiling takes seconds for some 1,000-character patterns (character classes
spanning the BMP under (?i)); so compiling and every match run under a wall-clock limit, enforced with SIGALRM
(the engine checks for signals while it backtracks, and the compiler is Python code), and a pattern that
reaches it is refused with a message. The limit is the smaller of the step's own and what the job's budget has
left: a pattern is never what makes a job miss its report. (Why not a linear-time engine such as RE2: see
docs/reliability.md, "Tag patterns".)
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Final

from imagedefs.budget import TimeBudget
from imagedefs.errors import ConfigurationError

# Seconds that matching one pattern against all of an image's tags may take. Any sane pattern needs
# microseconds for tags of at most 128 characters, even on a 128 MB function's share of a CPU.
MATCH_TIME_LIMIT_SECONDS: Final = 1.0
# Seconds that compiling the pattern may take: a valid tag pattern compiles in well under a millisecond.
COMPILE_TIME_LIMIT_SECONDS: Final = 1.0
EXAMPLE: Final = '"v[0-9]+\\\\.[0-9]+\\\\.[0-9]+"'
# What a budget spent is blamed on: the pattern, when its work was running; else what ran before it.
SLOW_PATTERN: Final = (
    f"The tag pattern took the time left: write a simpler pattern, for example {EXAMPLE}, or raise the function's "
    "Timeout (its stack's FunctionTimeout parameter)."
)
EARLIER_STEPS: Final = (
    "The steps before it took the time; retry the action, or raise the function's Timeout (its stack's "
    "FunctionTimeout parameter)."
)


# The shortest limit armed: the budget may end between its check and the timer's start.
MIN_LIMIT_SECONDS: Final = 0.001


class _TimeLimitReachedError(Exception):
    pass


@dataclass(frozen=True)
class TagPattern:
    """A compiled tag pattern, where it was set (for messages): 'UserParameters "tag"', ..., and the job's budget,
    which compiling and matching count against."""

    regex: re.Pattern[str]
    source: str
    budget: TimeBudget | None = field(default=None, compare=False, repr=False)

    @classmethod
    def compile(
        cls, text: str, source: str, budget: TimeBudget | None = None, seconds: float = COMPILE_TIME_LIMIT_SECONDS
    ) -> TagPattern:
        """Compile `text`; refuse it if it is invalid or compiling takes over `seconds`."""
        try:
            with _limited(seconds, budget, lambda: f"compiling {source} {json.dumps(text)}"):
                regex = re.compile(text)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ConfigurationError(
                f"{source} is not a valid regular expression ({exc}): {json.dumps(text)}. Write a Python regular "
                f"expression that a whole tag matches, for example {EXAMPLE}."
            ) from exc
        except _TimeLimitReachedError:
            raise ConfigurationError(
                f"{source} {json.dumps(text)} was refused: compiling it took more than {seconds:g} s (a tag pattern "
                "compiles in microseconds; large character classes under (?i), repeated, take seconds). Write a "
                f"simpler pattern, for example {EXAMPLE}."
            ) from None
        return cls(regex, source, budget)

    @property
    def text(self) -> str:
        return self.regex.pattern

    def first_match(self, tags: Iterable[str], seconds: float = MATCH_TIME_LIMIT_SECONDS) -> str | None:
        """The first tag that the pattern matches whole; refuse the pattern if matching takes over `seconds`."""
        tag = ""  # none taken yet: a spent budget, or a limit that fires before the first tag, says "an image's tags"

        def doing() -> str:
            against = f"tag {json.dumps(tag)}" if tag else "an image's tags"
            return f"matching {self.source} {json.dumps(self.text)} against {against}"

        try:
            with _limited(seconds, self.budget, doing):
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
def _limited(seconds: float, budget: TimeBudget | None, doing: Callable[[], str]) -> Iterator[None]:
    """Raise _TimeLimitReachedError after `seconds`; or, when the job's budget ends first, the budget's failure,
    which blames the pattern (its work was what ran) and says what it was `doing`."""
    left = seconds
    if budget is not None:
        budget.check(doing(), EARLIER_STEPS)
        left = budget.left()
    try:
        # Never 0 or less: setitimer takes 0 to mean "no timer", which would lift the limit just as time runs out.
        with _time_limit(max(min(seconds, left), MIN_LIMIT_SECONDS)):
            yield
    except _TimeLimitReachedError:
        if budget is not None and left < seconds:
            raise budget.out_of_time(f"while {doing()}", SLOW_PATTERN) from None
        raise


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
