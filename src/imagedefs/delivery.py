"""A job's one report, sent before Lambda's deadline: the same for the job function and the on-failure destination."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from imagedefs.budget import DeadlineReachedError, TimeBudget, call_with_deadline
from imagedefs.errors import ReportNotDeliveredError
from imagedefs.observability import logger, metrics

if TYPE_CHECKING:
    from imagedefs.aws.codepipeline import ReportOutcome


def deliver_before_deadline(budget: TimeBudget, report: Callable[[], ReportOutcome], *, retried: str) -> ReportOutcome:
    """Send the report within the time kept for it; raise, so that Lambda retries `retried` (the job, or the
    destination's record) with a whole timeout, if CodePipeline refuses it or does not answer in time."""
    try:
        try:
            return call_with_deadline(report, budget.left_to_report())
        except DeadlineReachedError as exc:
            raise ReportNotDeliveredError("CodePipeline did not answer before the function's deadline") from exc
    except ReportNotDeliveredError:
        logger.exception(f"The job's result could not be reported; raising so that Lambda retries {retried}")
        metrics.add_metric(name="ReportsNotDelivered", unit=MetricUnit.Count, value=1)
        raise
