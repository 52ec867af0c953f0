"""The job's time budget: every S3 call must end early enough to leave time for the report.

Lambda kills a function at its timeout; a job killed before it reports leaves the pipeline
waiting 20 minutes. So the S3 client's timeouts and retries derive from the time Lambda
says is left, and no S3 call starts once the budget is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from imagedefs.errors import ServiceUnavailableError

# Kept back for reporting the result: a share of the time left, at most this many seconds.
REPORT_RESERVE_SHARE: Final = 0.3
MAX_REPORT_RESERVE_SECONDS: Final = 10.0
MAX_CONNECT_TIMEOUT_SECONDS: Final = 2.0
MAX_READ_TIMEOUT_SECONDS: Final = 10.0
MIN_TIMEOUT_SECONDS: Final = 0.2
# One job makes a handful of S3 calls; let no single call use more than this share of the budget.
SHARE_OF_ONE_CALL: Final = 0.5


@dataclass(frozen=True)
class S3Timeouts:
    connect_timeout: float
    read_timeout: float
    max_attempts: int


@dataclass(frozen=True)
class TimeBudget:
    """Seconds the job may spend on S3, counted from `started`, on a monotonic clock."""

    seconds: float
    started: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_remaining_millis(cls, remaining_millis: int, clock: Callable[[], float] = time.monotonic) -> TimeBudget:
        remaining = max(0.0, remaining_millis / 1000)
        reserve = min(MAX_REPORT_RESERVE_SECONDS, remaining * REPORT_RESERVE_SHARE)
        return cls(seconds=remaining - reserve, started=clock(), clock=clock)

    def left(self) -> float:
        return self.seconds - (self.clock() - self.started)

    def check(self, doing: str) -> None:
        """Refuse to start an S3 call once the budget is spent."""
        if self.left() <= 0:
            raise ServiceUnavailableError(
                f"The function ran out of time before {doing} (budget {self.seconds:.1f} s, kept back time to "
                "report). S3 was too slow; retry the action, or raise the function's Timeout."
            )

    def s3_timeouts(self) -> S3Timeouts:
        """Timeouts and attempts such that one call, retries included, fits in its share of the budget."""
        per_call = max(0.0, self.left()) * SHARE_OF_ONE_CALL
        max_attempts = 3 if per_call >= 6 else 2 if per_call >= 2 else 1
        per_attempt = per_call / max_attempts
        return S3Timeouts(
            connect_timeout=max(MIN_TIMEOUT_SECONDS, min(MAX_CONNECT_TIMEOUT_SECONDS, per_attempt / 3)),
            read_timeout=max(MIN_TIMEOUT_SECONDS, min(MAX_READ_TIMEOUT_SECONDS, per_attempt * 2 / 3)),
            max_attempts=max_attempts,
        )
