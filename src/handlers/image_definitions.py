"""Lambda entry point for CodePipeline's Invoke action: ECR imageDetail.json in, imagedefinitions.json out."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagedefs.action import EcsReader, handle_job
from imagedefs.aws.codepipeline import JobReporter, codepipeline_client
from imagedefs.aws.s3_artifacts import artifact_s3_client
from imagedefs.budget import TimeBudget
from imagedefs.config import Wording
from imagedefs.job import JOB_KEY, job_id_of
from imagedefs.observability import logger, metrics, scrubbed

if TYPE_CHECKING:
    from imagedefs.aws.sts import AssumedRole
    from imagedefs.config import TargetRole
    from imagedefs.image_gate import EcrImages


@cache
def _reporter() -> JobReporter:
    # One CodePipeline client per execution environment, reused by warm invocations.
    return JobReporter(codepipeline_client())


def _ecs_reader(budget: TimeBudget, wording: Wording, role: AssumedRole | None) -> EcsReader:
    # Imported here: only a job naming a service loads the ECS adapter (and the task definition format it reads).
    from imagedefs.aws.ecs import EcsServiceReader, ecs_client

    return EcsServiceReader(ecs_client(budget, role), wording, budget, role=role)


def _ecr_reader(budget: TimeBudget, wording: Wording, role: AssumedRole | None) -> EcrImages:
    # Imported here: only a job with "verify" or "failOnSeverity" loads the ECR adapter.
    from imagedefs.aws.ecr import EcrImageReader, function_ecr_clients

    return EcrImageReader(function_ecr_clients(budget), wording, budget, role=role)


def _assumed_role(
    target: TargetRole, *, job_id: str, budget: TimeBudget, wording: Wording, function_role_arn: str
) -> AssumedRole:
    # Imported here: only a job whose UserParameters name a "role" loads the STS adapter.
    from imagedefs.aws.sts import AssumedRole

    return AssumedRole(target, job_id=job_id, budget=budget, wording=wording, function_role_arn=function_role_arn)


@metrics.log_metrics
# log_event=False: POWERTOOLS_LOGGER_LOG_EVENT=true would print the raw event, artifact credentials included.
@logger.inject_lambda_context(clear_state=True, log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    # First: every step counts against the time to Lambda's deadline, building the cold CodePipeline client too.
    budget = TimeBudget.until_lambdas_deadline(context.get_remaining_time_in_millis)
    job_id = job_id_of(event)
    if job_id is None:
        # Without a job id there is nothing to report to; only a misconfigured caller sends this.
        metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
        message = f'Not a CodePipeline job event: no "{JOB_KEY}" with an "id". Invoke it from a Lambda Invoke action.'
        logger.error(message, extra={"event_keys": sorted(map(str, event))[:10] if isinstance(event, dict) else []})
        raise ValueError(message)
    logger.set_correlation_id(job_id)
    try:
        outcome = handle_job(
            event=event,
            job_id=job_id,
            request_id=context.aws_request_id,
            budget=budget,
            environ=os.environ,
            artifact_client=artifact_s3_client,
            ecs_reader=_ecs_reader,
            ecr_reader=_ecr_reader,
            assumed_role=_assumed_role,
            reporter=_reporter(),
        )
    except Exception as exc:  # the job could not be reported: Lambda's retry must run it again
        raise scrubbed(exc) from None  # awslambdaric prints it and posts it as the error body, unredacted
    return {"jobId": job_id, "report": outcome}
