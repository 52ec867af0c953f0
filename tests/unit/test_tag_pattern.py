"""The `tag` pattern: the first tag it matches whole, and a pattern that backtracks refused within its time limit."""

from __future__ import annotations

import json
import re
import time

import pytest

from imagedefs.budget import TimeBudget
from imagedefs.errors import ConfigurationError, ServiceUnavailableError
from imagedefs.tag_pattern import (
    EARLIER_STEPS,
    EXAMPLE,
    SLOW_PATTERN,
    TagPattern,
)
from tests.timing import SCHEDULING_SLACK_SECONDS

SOURCE = 'UserParameters "tag"'


def test_the_first_tag_matched_whole_is_taken() -> None:
    pattern = TagPattern.compile(r"v[0-9]+", SOURCE)
    assert pattern.first_match(["latest", "v12x", "v7", "v8"]) == "v7"
    assert pattern.first_match(["latest"]) is None
    assert pattern.first_match([]) is None


def test_a_pattern_that_takes_too_long_is_refused_naming_it_the_tag_and_where_it_was_set() -> None:
    # Given a pattern with nested repetition and a tag that makes it backtrack
    pattern = TagPattern.compile("(a+)+$", SOURCE)
    # When it is matched under a short time limit
    with pytest.raises(ConfigurationError) as raised:
        pattern.first_match(["v1", "a" * 40 + "!"], seconds=0.05)
    # Then the message says where the pattern was set, the pattern, the tag it was matched against, and the limit
    message = str(raised.value)
    assert message.startswith(f'{SOURCE} "(a+)+$" was refused')
    assert f'against tag "{"a" * 40}!"' in message
    assert "took more than 0.05 s" in message
    assert "Write a simpler pattern" in message


def test_an_invalid_pattern_is_refused_naming_where_it_was_set() -> None:
    with pytest.raises(ConfigurationError, match=r'^UserParameters "tag" is not a valid regular expression .*"v\[0-9"'):
        TagPattern.compile("v[0-9", SOURCE)


def slow_to_compile(variant: str) -> str:
    """A 1,000-character pattern that takes seconds to compile: character classes spanning the BMP, under (?i).

    `variant` keeps it out of re's cache of compiled patterns, so that each test compiles it afresh.
    """
    pattern = f"(?i){variant}" + "[ -\uffff]" * 196
    return pattern[:1000]


def test_a_pattern_slow_to_compile_is_refused_naming_it_and_where_it_was_set() -> None:
    # Given a 1,000-character pattern that takes seconds to compile
    pattern = slow_to_compile("own-limit")
    # When it is compiled under a short limit
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as raised:
        TagPattern.compile(pattern, SOURCE, seconds=0.05)
    # Then it is refused at the limit, not after seconds, saying where it was set and what to write instead
    assert time.monotonic() - started < 0.05 + SCHEDULING_SLACK_SECONDS
    message = str(raised.value)
    assert message.startswith(f"{SOURCE} {json.dumps(pattern)} was refused: compiling it took more than 0.05 s")
    assert message.endswith(f"Write a simpler pattern, for example {EXAMPLE}.")


def test_a_pattern_slow_to_compile_is_refused_within_the_jobs_budget() -> None:
    # Given a job with 0.5 s of work left, less than compiling's own limit
    budget = TimeBudget.from_remaining_millis(700)
    started = time.monotonic()
    # When a pattern that takes seconds to compile is compiled
    with pytest.raises(ServiceUnavailableError) as raised:
        TagPattern.compile(slow_to_compile("budget"), SOURCE, budget)
    # Then compiling stops at the budget's end, and the message blames the pattern, not S3
    assert time.monotonic() - started < 0.7 + SCHEDULING_SLACK_SECONDS
    message = str(raised.value)
    assert message.startswith(f"The function ran out of time while compiling {SOURCE} ")
    assert message.endswith(SLOW_PATTERN)
    assert "S3" not in message


def test_matching_stops_at_the_budgets_end_and_blames_the_pattern() -> None:
    # Given a pattern compiled for a job with 0.5 s of work left, and tags that make it backtrack
    budget = TimeBudget.from_remaining_millis(700)
    pattern = TagPattern.compile("(a+)+$", SOURCE, budget)
    started = time.monotonic()
    # When it is matched (its own limit, 1 s, is longer than what the budget has left)
    with pytest.raises(ServiceUnavailableError) as raised:
        pattern.first_match(["v1", "a" * 40 + "!"])
    # Then matching stops at the budget's end; the message names the pattern and the tag, and blames the pattern
    assert time.monotonic() - started < 0.7 + SCHEDULING_SLACK_SECONDS
    message = str(raised.value)
    assert message.startswith(
        f'The function ran out of time while matching {SOURCE} "(a+)+$" against tag "{"a" * 40}!"'
    )
    assert message.endswith(SLOW_PATTERN)
    assert "S3" not in message


def test_the_patterns_own_limit_applies_when_the_budget_has_more_time() -> None:
    pattern = TagPattern.compile("(a+)+$", SOURCE, TimeBudget.from_remaining_millis(60_000))
    with pytest.raises(ConfigurationError, match=r"took more than 0\.05 s, so it backtracks catastrophically"):
        pattern.first_match(["a" * 40 + "!"], seconds=0.05)


def test_a_spent_budget_compiles_and_matches_nothing() -> None:
    # Given a job whose budget is spent
    spent = TimeBudget(seconds=1.0, reserve=1.0, started=0.0, clock=lambda: 5.0)
    # When a pattern is compiled or matched, then neither starts, and the message says the time was gone before
    with pytest.raises(ServiceUnavailableError, match=f'before compiling {SOURCE} "v1"') as raised:
        TagPattern.compile("v1", SOURCE, spent)
    assert str(raised.value).endswith(EARLIER_STEPS)
    pattern = TagPattern(re.compile("v1"), SOURCE, spent)
    with pytest.raises(ServiceUnavailableError, match=f'before matching {SOURCE} "v1" against an image\'s tags'):
        pattern.first_match(["v1"])


def test_a_budget_that_ends_between_its_check_and_the_timer_still_limits_the_match() -> None:
    # Given a budget with time left at its check and none a moment later, when the limit is armed
    readings = iter([0.5, 1.0])
    budget = TimeBudget(seconds=1.0, reserve=1.0, started=0.0, clock=lambda: next(readings, 1.0))
    pattern = TagPattern(re.compile("(a|aa)+$"), SOURCE, budget)
    # When a backtracking pattern is matched
    with pytest.raises(ServiceUnavailableError) as raised:
        pattern.first_match(["a" * 40 + "-"])
    # Then the match is stopped at once (a limit of 0 would have been no limit) and the pattern is blamed
    assert "while matching" in str(raised.value)
