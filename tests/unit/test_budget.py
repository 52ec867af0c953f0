"""The time budget keeps time back for the report, sizes S3 timeouts to what is left, and is a hard deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest

from devtools.local_aws import load_event
from handlers import image_definitions
from imagedefs.aws.codepipeline import JobReporter
from imagedefs.budget import DeadlineReachedError, TimeBudget, call_with_deadline
from imagedefs.errors import ServiceUnavailableError
from tests.timing import SCHEDULING_SLACK_SECONDS


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_is_kept_back_for_the_report() -> None:
    assert TimeBudget.from_remaining_millis(60_000, FakeClock()).seconds == 50.0
    assert TimeBudget.from_remaining_millis(5_000, FakeClock()).seconds == pytest.approx(3.5)


@pytest.mark.parametrize("remaining_millis", [3_000, 6_000, 60_000, 900_000])
def test_every_attempt_of_one_call_fits_in_what_is_left(remaining_millis: int) -> None:
    budget = TimeBudget.from_remaining_millis(remaining_millis, FakeClock())
    limits = budget.limits()
    worst_case = limits.total_max_attempts * (limits.connect_timeout + limits.read_timeout)
    assert worst_case <= budget.seconds + 1e-9
    assert limits.total_max_attempts == (3 if budget.seconds >= 6 else 2 if budget.seconds >= 2 else 1)


def test_little_time_left_means_a_single_short_attempt() -> None:
    limits = TimeBudget.from_remaining_millis(1_000, FakeClock()).limits()
    assert limits.total_max_attempts == 1
    assert limits.connect_timeout + limits.read_timeout < 0.8


def test_the_report_may_use_the_reserve_but_not_all_of_it() -> None:
    clock = FakeClock()
    budget = TimeBudget.from_remaining_millis(10_000, clock)
    clock.now += 7.5  # the work budget (7 s) is spent: 2.5 s to Lambda's deadline
    assert budget.left() == pytest.approx(-0.5)
    assert budget.left_to_report() == pytest.approx(-0.5 + 3.0 * 0.8)
    clock.now += 10.0  # past Lambda's deadline: no time to report in; Lambda's retry must
    assert budget.left_to_report() == 0.0


def test_a_call_that_outlives_the_budget_is_abandoned_at_the_deadline() -> None:
    budget = TimeBudget.from_remaining_millis(1_000)
    release = threading.Event()
    started = time.monotonic()

    with pytest.raises(ServiceUnavailableError, match="ran out of time while reading: the call was still running"):
        budget.run("reading", lambda: release.wait(30))

    assert 0.6 <= time.monotonic() - started < 1.0 + SCHEDULING_SLACK_SECONDS
    release.set()


def test_a_call_within_the_budget_gives_its_result_or_its_error() -> None:
    budget = TimeBudget.from_remaining_millis(10_000)
    assert budget.run("reading", lambda: "bytes") == "bytes"
    with pytest.raises(KeyError, match="from the call"):
        budget.run("reading", _raise_key_error)


def _raise_key_error() -> None:
    raise KeyError("from the call")


def test_call_with_deadline_raises_when_the_time_is_up() -> None:
    with pytest.raises(DeadlineReachedError):
        call_with_deadline(lambda: time.sleep(1), 0.05)


def test_a_spent_budget_refuses_new_calls() -> None:
    clock = FakeClock()
    budget = TimeBudget.from_remaining_millis(10_000, clock)
    budget.check("reading")
    clock.now += 7.0
    with pytest.raises(ServiceUnavailableError, match="ran out of time before reading") as raised:
        budget.check("reading")
    # And the message gives the budget and the reserve, and what to do
    assert "(budget 7.0 s; 3.0 s more are kept to report)" in str(raised.value)
    assert "retry the action, or raise the function's Timeout" in str(raised.value)


@pytest.mark.parametrize(
    ("left", "attempts", "connect_timeout", "read_timeout"),
    [
        (60.0, 3, 2.0, 10.0),  # plenty: capped at 2 s to connect and 10 s to answer
        (6.0, 3, 2 / 3, 4 / 3),  # 6 s: three attempts of 2 s
        (5.9, 2, 5.9 / 6, 5.9 / 3),  # just under: two
        (2.0, 2, 1 / 3, 2 / 3),
        (1.9, 1, 1.9 / 3, 1.9 * 2 / 3),
        (0.3, 1, 0.2, 0.2),  # never under 0.2 s, a socket's least useful timeout
        (-5.0, 1, 0.2, 0.2),  # spent: the client refuses to send anyway
    ],
)
def test_timeouts_and_attempts_follow_the_time_left(
    left: float, attempts: int, connect_timeout: float, read_timeout: float
) -> None:
    limits = TimeBudget(seconds=left, reserve=1.0, started=100.0, clock=FakeClock()).limits()
    assert limits.total_max_attempts == attempts
    assert limits.connect_timeout == pytest.approx(connect_timeout)
    assert limits.read_timeout == pytest.approx(read_timeout)


def test_the_reserve_is_30_percent_of_the_time_left_and_at_most_10_seconds() -> None:
    assert TimeBudget.from_remaining_millis(10_000, FakeClock()).reserve == pytest.approx(3.0)
    assert TimeBudget.from_remaining_millis(900_000, FakeClock()).reserve == 10.0
    spent = TimeBudget.from_remaining_millis(-5, FakeClock())
    assert (spent.seconds, spent.reserve) == (0.0, 0.0)


def test_a_call_within_the_deadline_gives_its_result_and_its_error() -> None:
    assert call_with_deadline(lambda: 42, 1.0) == 42
    with pytest.raises(KeyError, match="from the call"):
        call_with_deadline(_raise_key_error, 1.0)
    with pytest.raises(DeadlineReachedError, match=r"no answer within 0\.1 s"):
        call_with_deadline(lambda: time.sleep(1), 0.1)


def test_an_abandoned_call_runs_on_in_a_named_daemon_thread_that_cannot_keep_the_process_alive() -> None:
    release = threading.Event()
    with pytest.raises(DeadlineReachedError):
        call_with_deadline(lambda: release.wait(5), 0.05)
    abandoned = [thread for thread in threading.enumerate() if thread.name == "deadline-call" and thread.is_alive()]
    assert abandoned
    assert all(thread.daemon for thread in abandoned)
    release.set()


def test_a_spent_budget_runs_no_call_and_says_what_was_not_started() -> None:
    spent = TimeBudget(seconds=0.0, reserve=1.0, started=0.0, clock=lambda: 0.0)
    calls: list[int] = []
    with pytest.raises(ServiceUnavailableError, match="ran out of time before reading the zip"):
        spent.run("reading the zip", lambda: calls.append(1))
    assert calls == []


class LambdaClock:
    """Lambda's count of the time left (`get_remaining_time_in_millis`), on a fake clock."""

    def __init__(self, clock: FakeClock, remaining_millis: int) -> None:
        self.clock = clock
        self.deadline = clock.now + remaining_millis / 1000

    def __call__(self) -> int:
        return max(0, round((self.deadline - self.clock.now) * 1000))


def test_a_budget_to_lambdas_deadline_counts_what_ran_before_it_was_made() -> None:
    # Given an invocation with 3 s left, of which 0.5 s pass before the budget is made
    clock = FakeClock()
    remaining = LambdaClock(clock, 3_000)
    clock.now += 0.5
    # When the budget is made from Lambda's own count, and another 0.5 s pass
    budget = TimeBudget.until_lambdas_deadline(remaining)
    clock.now += 0.5
    # Then it has what Lambda allows, less the reserve kept to report: 2 s to the deadline, 30% of 2.5 s kept back
    assert budget.reserve == pytest.approx(0.75)
    assert budget.left() == pytest.approx(2.0 - 0.75)
    assert budget.left_to_report() == pytest.approx(2.0 - 0.75 * 0.2)
    # And at Lambda's deadline nothing is left, to work or to report
    clock.now += 5
    assert budget.left() == pytest.approx(-0.75)
    assert budget.left_to_report() == 0.0


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # the job itself is replaced here
def test_the_budget_starts_at_the_handlers_first_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an invocation with 3 s left and a cold CodePipeline client that takes 0.5 s to build
    clock = FakeClock()
    context = LambdaContext(LambdaClock(clock, 3_000))
    reporter = JobReporter(cast(Any, None))

    def cold_reporter() -> JobReporter:
        clock.now += 0.5
        return reporter

    budgets: list[TimeBudget] = []

    def job_started(*, budget: TimeBudget, **rest: Any) -> str:
        budgets.append(budget)
        return "reported"

    monkeypatch.setattr(image_definitions, "_reporter", cold_reporter)
    monkeypatch.setattr(image_definitions, "handle_job", job_started)

    # When the handler runs the job
    image_definitions.lambda_handler(load_event("single-ecr-source.json"), cast(Any, context))

    # Then the job's budget counts the 0.5 s the client took: 2.5 s to the deadline, 0.9 s of it kept to report
    assert budgets[0].left() == pytest.approx(3.0 - 0.5 - 0.9)


@dataclass
class LambdaContext:
    get_remaining_time_in_millis: Callable[[], int]
    aws_request_id: str = "req-1"
    function_name: str = "image-definitions"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:123456789012:function:image-definitions"
