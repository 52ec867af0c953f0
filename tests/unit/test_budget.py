"""The time budget keeps time back for the report and sizes S3 timeouts to what is left."""

from __future__ import annotations

import pytest

from imagedefs.budget import TimeBudget
from imagedefs.errors import ServiceUnavailableError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_is_kept_back_for_the_report() -> None:
    assert TimeBudget.from_remaining_millis(60_000, FakeClock()).seconds == 50.0
    assert TimeBudget.from_remaining_millis(5_000, FakeClock()).seconds == pytest.approx(3.5)


@pytest.mark.parametrize("remaining_millis", [3_000, 6_000, 60_000, 900_000])
def test_one_s3_call_with_its_retries_fits_in_half_of_what_is_left(remaining_millis: int) -> None:
    budget = TimeBudget.from_remaining_millis(remaining_millis, FakeClock())
    timeouts = budget.s3_timeouts()
    worst_case = timeouts.max_attempts * (timeouts.connect_timeout + timeouts.read_timeout)
    assert worst_case <= budget.seconds / 2 + 1e-9


def test_little_time_left_means_a_single_short_attempt() -> None:
    timeouts = TimeBudget.from_remaining_millis(1_000, FakeClock()).s3_timeouts()
    assert timeouts.max_attempts == 1
    assert timeouts.connect_timeout + timeouts.read_timeout < 0.5


def test_a_spent_budget_refuses_new_calls() -> None:
    clock = FakeClock()
    budget = TimeBudget.from_remaining_millis(10_000, clock)
    budget.check("reading")
    clock.now += 7.0
    with pytest.raises(ServiceUnavailableError, match="ran out of time before reading"):
        budget.check("reading")
