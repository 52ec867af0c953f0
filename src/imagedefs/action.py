"""One CodePipeline job, start to finish: read, transform, write, report exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

from imagedefs.artifacts import ArtifactStore, S3Location
from imagedefs.budget import TimeBudget
from imagedefs.config import Settings, parse_user_parameters
from imagedefs.errors import ImageDefsError, ReportNotDeliveredError, failure_type_of
from imagedefs.observability import NAMESPACE, logger, metrics, redactor
from imagedefs.reporting import JobReporter, ReportOutcome
from imagedefs.transform import Plan, build_plan, select_inputs

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event import CodePipelineArtifact
    from mypy_boto3_s3 import S3Client

ArtifactClientFactory = Callable[[CodePipelineJobEvent, TimeBudget], "S3Client"]


def run_job(job: CodePipelineJobEvent, settings: Settings, store: ArtifactStore) -> Plan:
    """Read the inputs, decide every output, then write them; nothing is written unless all is valid."""
    data = job.data
    config = parse_user_parameters(data.action_configuration.configuration.user_parameters, settings)
    inputs = {artifact.name: artifact for artifact in data.input_artifacts}
    outputs = {artifact.name: artifact for artifact in data.output_artifacts}
    logger.append_keys(input_artifacts=list(inputs), output_artifacts=list(outputs))
    selected, ignored = select_inputs(list(inputs), config)
    if ignored:
        logger.info("Input artifacts not named in containers are ignored", extra={"ignored_artifacts": ignored})
    sources = [store.read_source(name, _location(inputs[name])) for name in selected]
    plan = build_plan(sources, list(outputs), config, settings)
    for output in plan.outputs:
        store.write_output(_location(outputs[output.artifact]), output)
    return plan


def handle_job(
    job: CodePipelineJobEvent,
    request_id: str,
    remaining_millis: int,
    environ: Mapping[str, str],
    artifact_client: ArtifactClientFactory,
    reporter: JobReporter,
) -> ReportOutcome:
    """Run the job and report its result once; a failure is reported, not raised."""
    with redactor.hiding(*_secrets_of(job)):
        budget = TimeBudget.from_remaining_millis(remaining_millis)
        try:
            settings = Settings.from_environment(environ)
            key = job.data.encryption_key
            store = ArtifactStore(artifact_client(job, budget), kms_key_id=key.get_id if key else None, budget=budget)
            plan = run_job(job, settings, store)
        except Exception as exc:  # every failure must end in a report, or the pipeline hangs
            return _report_failure(job, request_id, reporter, exc)
        return _report_success(job, request_id, reporter, plan)


def _report_success(job: CodePipelineJobEvent, request_id: str, reporter: JobReporter, plan: Plan) -> ReportOutcome:
    logger.info(
        "Image definitions written",
        extra={
            "outcome": "succeeded",
            "images": {image.name: image.image_uri for image in plan.images},
            "outputs": {output.artifact: list(output.containers) for output in plan.outputs},
        },
    )
    variables = plan.output_variables()
    if not variables:
        logger.warning("Output variables left out: together they pass CodePipeline's 122,880-byte limit")
    with _reporting_tracked():
        outcome = reporter.succeed(job.get_id, plan.summary(), request_id, variables)
    _record_outcome(outcome, failure_type=None)
    return outcome


def _secrets_of(job: CodePipelineJobEvent) -> tuple[str, str]:
    credentials = job.data.get("artifactCredentials") or {}
    return credentials.get("secretAccessKey", ""), credentials.get("sessionToken", "")


def _report_failure(
    job: CodePipelineJobEvent, request_id: str, reporter: JobReporter, error: Exception
) -> ReportOutcome:
    failure_type = failure_type_of(error)
    if isinstance(error, ImageDefsError):
        message = str(error)
        logger.warning("Job failed", extra={"outcome": "failed", "failure_type": failure_type, "reason": message})
    else:
        message = (
            f"Unexpected error {type(error).__name__} in the image definitions function (request id {request_id}). "
            "The function's CloudWatch log has the details under that request id."
        )
        logger.exception("Job failed unexpectedly", extra={"outcome": "failed", "failure_type": failure_type})
    with _reporting_tracked():
        outcome = reporter.fail(job.get_id, failure_type, message, request_id)
    _record_outcome(outcome, failure_type)
    return outcome


@contextmanager
def _reporting_tracked() -> Iterator[None]:
    try:
        yield
    except ReportNotDeliveredError:
        logger.exception("The job's result could not be reported; raising so that Lambda retries the job")
        metrics.add_metric(name="ReportsNotDelivered", unit=MetricUnit.Count, value=1)
        raise


def _record_outcome(outcome: ReportOutcome, failure_type: str | None) -> None:
    """Metrics: JobsSucceeded, JobsFailed by FailureType, and DuplicateDeliveries left alone."""
    if outcome == "already_closed":
        logger.info("Job was already reported or is gone (a duplicate delivery); left alone")
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    elif failure_type is None:
        metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        with single_metric(name="JobsFailed", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as by_type:
            by_type.add_dimension(name="FailureType", value=failure_type)


def _location(artifact: CodePipelineArtifact) -> S3Location:
    s3_location = artifact.location.s3_location
    return S3Location(bucket=s3_location.bucket_name, key=s3_location.key)
