"""Lambda entry point of the on-failure destination: a job the image definitions function never finished is
reported failed, once, from Lambda's invocation record. It never runs the job again and reads no artifact."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagedefs.aws.codepipeline import JobReporter, codepipeline_client
from imagedefs.budget import TimeBudget
from imagedefs.delivery import deliver_before_deadline
from imagedefs.errors import failure_type_of
from imagedefs.invocation_record import failed_invocation_of, record_keys, record_secrets
from imagedefs.job import FUNCTION_SECRET_VARIABLES
from imagedefs.observability import logger, metrics, redactor


@cache
def _reporter() -> JobReporter:
    # One CodePipeline client per execution environment, reused by warm invocations.
    return JobReporter(codepipeline_client())


@metrics.log_metrics
# log_event=False: the record holds the job event, artifact credentials included.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    redactor.hide(*record_secrets(event), *(os.environ.get(name, "") for name in FUNCTION_SECRET_VARIABLES))
    invocation = failed_invocation_of(event)
    if invocation is None:
        # Nothing to report to: returning (not raising) spares a record that no retry can make reportable.
        metrics.add_metric(name="InvalidRecords", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Not the record of a failed CodePipeline job (no job id, or a success): nothing to report",
            extra={"record_keys": record_keys(event)},
        )
        return {"report": "none"}
    logger.set_correlation_id(invocation.job_id)
    failure = invocation.failure(os.environ)
    failure_type = failure_type_of(failure)
    budget = TimeBudget.from_remaining_millis(context.get_remaining_time_in_millis())
    external_id = invocation.request_id or context.aws_request_id
    outcome = deliver_before_deadline(
        budget,
        lambda: _reporter().fail(invocation.job_id, failure_type, str(failure), external_id),
        retried="the record",
    )
    details = {"condition": invocation.condition, "attempts": invocation.attempts, "error_type": invocation.error_type}
    if outcome == "already_closed":
        logger.info("Job was already reported or is gone; left alone", extra=details)
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    else:
        logger.warning(
            "Job reported failed for the image definitions function, which did not finish it",
            extra={**details, "outcome": "failed", "failure_type": failure_type, "reason": str(failure)},
        )
        metrics.add_metric(name="UnfinishedJobsReported", unit=MetricUnit.Count, value=1)
    return {"jobId": invocation.job_id, "report": outcome}
