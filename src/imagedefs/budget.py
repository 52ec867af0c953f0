"""The job's time budget: a hard deadline on all of the job's work, and a reserve kept to report before Lambda's.

Lambda kills a function at its timeout; a job killed before it reports leaves the pipeline waiting
20 minutes. Socket timeouts cannot prevent that on their own: they bound each read, and a server that
trickles one byte at a time, or answers every request just in time, never trips them. So each remote
call runs in a worker thread that the job waits for only until the deadline; a call still running then
is abandoned (the client refuses to send any further request once the budget is spent), and the job
reports with the reserve still intact.

The budget is counted to Lambda's deadline, an absolute time, from the handler's first line: whatever runs
before the job (building a cold CodePipeline client takes 0.2-0.5 s) is counted, and so is the job's own work
(compiling and matching the tag pattern, see tag_pattern.py), not only its remote calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from imagedefs.errors import ServiceUnavailableError

# What a spent budget is blamed on, unless the step that was running says better.
SLOW_SERVICES: Final = (
    "S3, ECS or ECR was too slow or stalled; retry the action, or raise the function's Timeout (its stack's "
    "FunctionTimeout parameter)."
)
# Kept back for reporting the result: a share of the time left, at most this many seconds.
REPORT_RESERVE_SHARE: Final = 0.3
MAX_REPORT_RESERVE_SECONDS: Final = 10.0
# The report itself stops waiting this long before Lambda's deadline, so the handler can still return or raise.
FINAL_MARGIN_SHARE: Final = 0.2
MAX_CONNECT_TIMEOUT_SECONDS: Final = 2.0
MAX_READ_TIMEOUT_SECONDS: Final = 10.0
MIN_TIMEOUT_SECONDS: Final = 0.2

_Result = TypeVar("_Result")


class DeadlineReachedError(TimeoutError):
    """A call did not finish before its deadline; it was abandoned."""


@dataclass(frozen=True)
class RemoteCallLimits:
    """botocore settings for one client: `total_max_attempts` counts the first request too."""

    connect_timeout: float
    read_timeout: float
    total_max_attempts: int


@dataclass(frozen=True)
class TimeBudget:
    """`seconds` for the job's work and `reserve` after it for the report, from `started` on a monotonic clock."""

    seconds: float
    reserve: float
    started: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_remaining_millis(cls, remaining_millis: int, clock: Callable[[], float] = time.monotonic) -> TimeBudget:
        """The budget of `remaining_millis` from now on `clock`."""
        return cls._ending_after(remaining_millis, started=clock(), clock=clock)

    @classmethod
    def until_lambdas_deadline(cls, remaining_millis: Callable[[], int]) -> TimeBudget:
        """The budget up to Lambda's deadline, read from Lambda's own count of the time left
        (`context.get_remaining_time_in_millis`): its clock is Lambda's, so nothing that runs before or after the
        budget is made escapes it, and what is left is what Lambda will allow."""

        def lambdas_clock() -> float:
            return -remaining_millis() / 1000

        remaining = remaining_millis()
        return cls._ending_after(remaining, started=-remaining / 1000, clock=lambdas_clock)

    @classmethod
    def _ending_after(cls, remaining_millis: int, started: float, clock: Callable[[], float]) -> TimeBudget:
        remaining = max(0.0, remaining_millis / 1000)
        reserve = min(MAX_REPORT_RESERVE_SECONDS, remaining * REPORT_RESERVE_SHARE)
        return cls(seconds=remaining - reserve, reserve=reserve, started=started, clock=clock)

    def left(self) -> float:
        """Seconds of work left before the reserve."""
        return self.seconds - (self.clock() - self.started)

    def left_to_report(self) -> float:
        """Seconds the report may take: up to Lambda's deadline, less a final margin in which the handler returns
        or raises (none when that time is gone: Lambda's retry is then the job's only chance)."""
        return max(0.0, self.left() + self.reserve * (1 - FINAL_MARGIN_SHARE))

    def check(self, doing: str, blame: str = SLOW_SERVICES) -> None:
        """Refuse to start anything once the work budget is spent."""
        if self.left() <= 0:
            raise self.out_of_time(f"before {doing}", blame)

    def run(self, doing: str, call: Callable[[], _Result]) -> _Result:
        """Run a remote call with the budget's end as a hard deadline, whatever the server does."""
        self.check(doing)
        try:
            return call_with_deadline(call, self.left())
        except DeadlineReachedError:
            raise self.out_of_time(f"while {doing}: the call was still running at the deadline") from None

    def limits(self) -> RemoteCallLimits:
        """Socket timeouts and attempts that let a retry happen within the budget (the deadline stays hard)."""
        left = max(0.0, self.left())
        attempts = 3 if left >= 6 else 2 if left >= 2 else 1
        per_attempt = left / attempts
        return RemoteCallLimits(
            connect_timeout=max(MIN_TIMEOUT_SECONDS, min(MAX_CONNECT_TIMEOUT_SECONDS, per_attempt / 3)),
            read_timeout=max(MIN_TIMEOUT_SECONDS, min(MAX_READ_TIMEOUT_SECONDS, per_attempt * 2 / 3)),
            total_max_attempts=attempts,
        )

    def out_of_time(self, when: str, blame: str = SLOW_SERVICES) -> ServiceUnavailableError:
        """The failure for a spent budget: when it ran out, and `blame`, what took the time and what to do."""
        return ServiceUnavailableError(
            f"The function ran out of time {when} (budget {self.seconds:.1f} s; {self.reserve:.1f} s more are kept "
            f"to report). {blame}"
        )


def call_with_deadline(call: Callable[[], _Result], seconds: float) -> _Result:
    """The call's result or exception, if it ends within `seconds`; else DeadlineReachedError.

    The call runs in a daemon thread, which is abandoned at the deadline: a thread cannot be stopped
    from outside, and the caller must not wait for it.
    """
    outcome: list[_Result] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def target() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the caller's thread as is
            failure.append(exc)
        finally:
            finished.set()

    threading.Thread(target=target, name="deadline-call", daemon=True).start()
    if not finished.wait(max(0.0, seconds)):
        raise DeadlineReachedError(f"no answer within {seconds:.1f} s")
    if failure:
        raise failure[0]
    return outcome[0]
