"""One CodePipeline job, start to finish: parse, read, plan, write, report exactly once."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from imagedefs.aws.codepipeline import JobReporter, ReportOutcome
from imagedefs.aws.s3_artifacts import ArtifactStore
from imagedefs.budget import TimeBudget
from imagedefs.config import ActionConfig, EcsService, Settings, TargetRole, Wording, parse_user_parameters
from imagedefs.delivery import deliver_before_deadline
from imagedefs.errors import (
    ConfigurationError,
    ImageDefsError,
    capitalized,
    failure_type_of,
)
from imagedefs.job import FUNCTION_SECRET_VARIABLES, ArtifactCredentials, Job, parse_job, secrets_of
from imagedefs.model import LiveService, Plan
from imagedefs.observability import NAMESPACE, logger, metrics, redactor
from imagedefs.plan import plan_job

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from imagedefs.aws.sts import AssumedRole
    from imagedefs.formats.codedeploy import BlueGreenService
    from imagedefs.image_gate import EcrImages

ArtifactClientFactory = Callable[[ArtifactCredentials, TimeBudget], "S3Client"]


class EcsReader(Protocol):
    """Reads ECS services (aws.ecs, which only a job naming a service loads)."""

    def blue_green_service(self, service: EcsService) -> BlueGreenService:
        """What a "codedeploy" job renders from."""

    def live_service(self, service: EcsService) -> LiveService:
        """What a rolling job's containers are checked against."""


# The ECS reader, created only for a job that names a service: the function's own, or through the job's role.
EcsReaderFactory = Callable[[TimeBudget, Wording, "AssumedRole | None"], EcsReader]
# The ECR reader, created only for a job with "verify" or "failOnSeverity" and an ECR image; the images of the
# role's account go through the job's role.
EcrReaderFactory = Callable[[TimeBudget, Wording, "AssumedRole | None"], "EcrImages"]


class AssumedRoleFactory(Protocol):
    """The job's role of another account (aws.sts, which only a job with "role" loads), assumed when first used."""

    def __call__(
        self, target: TargetRole, *, job_id: str, budget: TimeBudget, wording: Wording, function_role_arn: str
    ) -> AssumedRole: ...


def run_job(
    job: Job,
    settings: Settings,
    store: ArtifactStore,
    budget: TimeBudget,
    *,
    ecs_reader: EcsReaderFactory,
    ecr_reader: EcrReaderFactory,
    assumed_role: AssumedRoleFactory,
) -> Plan:
    """Read the inputs, decide every output, then write them; nothing is written unless all is valid."""
    config = parse_user_parameters(job.user_parameters, settings, budget, job.account_id)
    logger.append_keys(input_artifacts=list(job.inputs), output_artifacts=list(job.outputs))
    # Never the artifacts' credentials: the store keeps those; the role reads ECS and ECR of its account only.
    role = (
        assumed_role(
            config.role,
            job_id=job.id,
            budget=budget,
            wording=settings.wording,
            function_role_arn=settings.function_role_arn,
        )
        if config.role is not None
        else None
    )
    ecs = functools.cache(lambda: ecs_reader(budget, settings.wording, role))
    ecr = functools.cache(lambda: ecr_reader(budget, settings.wording, role))  # one for the lookups and the gate
    tag_digests = None
    if config.verify:
        # Imported here: only a job that asks for the ECR gate loads it.
        from imagedefs.image_gate import TagDigests

        tag_digests = TagDigests(config=config, settings=settings, ecr=ecr)
    plan = plan_job(
        config,
        settings,
        list(job.inputs),
        list(job.outputs),
        lambda name: store.read_source(name, job.inputs[name]),
        lambda config: _blue_green_service(config, settings, ecs),
        _LoggedNotes(),
        live_service=lambda service: _readable_ecs(
            service, f"to check the containers, {settings.wording.options.service} reads", settings, ecs
        ).live_service(service),
        digest_resolver=tag_digests,
    )
    if config.verify or config.fail_on_severity is not None:
        from imagedefs.image_gate import check_images

        plan = check_images(
            plan, config, settings, ecr, tag_digests.found if tag_digests else None, account_id=job.account_id
        )
    store.write_outputs([(job.outputs[output.artifact], output) for output in plan.outputs])
    return plan


class _LoggedNotes:
    """The flow's notes, as log lines."""

    def inputs_ignored(self, artifacts: list[str]) -> None:
        logger.info("Input artifacts not named in containers are ignored", extra={"ignored_artifacts": artifacts})

    def definitions_left_out(self, artifact: str, containers: list[str]) -> None:
        logger.info(
            "Entries of a merged imagedefinitions.json not named in containers are left out",
            extra={"artifact": artifact, "left_out_containers": containers},
        )


def handle_job(
    *,
    event: Mapping[str, Any],
    job_id: str,
    request_id: str,
    budget: TimeBudget,
    environ: Mapping[str, str],
    artifact_client: ArtifactClientFactory,
    ecs_reader: EcsReaderFactory,
    ecr_reader: EcrReaderFactory,
    assumed_role: AssumedRoleFactory,
    reporter: JobReporter,
) -> ReportOutcome:
    """Run the job within `budget`, made when the invocation began, and report its result once; a failure is
    reported, not raised."""
    redactor.hide(*secrets_of(event), *(environ.get(name, "") for name in FUNCTION_SECRET_VARIABLES))
    try:
        job = parse_job(event, job_id)
        settings = Settings.from_environment(environ, budget=budget)
        store = ArtifactStore(artifact_client(job.credentials, budget), kms_key_id=job.kms_key_id, budget=budget)
        plan = run_job(
            job, settings, store, budget, ecs_reader=ecs_reader, ecr_reader=ecr_reader, assumed_role=assumed_role
        )
    except Exception as exc:  # every failure must end in a report, or the pipeline hangs
        return _report_failure(job_id, request_id, reporter, budget, exc)
    return _report_success(job_id, request_id, reporter, budget, plan)


def _blue_green_service(
    config: ActionConfig, settings: Settings, ecs_reader: Callable[[], EcsReader]
) -> BlueGreenService:
    if config.service is None:
        raise ConfigurationError(
            f'Format "codedeploy" needs the ECS service whose task definition it renders: set '
            f"{config.wording.options.service}, for example {config.wording.examples.service}."
        )
    return _readable_ecs(config.service, 'format "codedeploy" reads', settings, ecs_reader).blue_green_service(
        config.service
    )


def _readable_ecs(
    service: EcsService, purpose: str, settings: Settings, ecs_reader: Callable[[], EcsReader]
) -> EcsReader:
    """The ECS reader, once the stack lets the function's role read some service (else say which parameter)."""
    if not settings.ecs_services:
        raise ConfigurationError(
            f'{capitalized(purpose)} ECS service "{service}" with the function\'s own role, which may read no ECS '
            f"service: list the service's ARN in {settings.wording.settings.ecs_services} and deploy the function's "
            "stack again."
        )
    return ecs_reader()


def _report_success(
    job_id: str, request_id: str, reporter: JobReporter, budget: TimeBudget, plan: Plan
) -> ReportOutcome:
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
    outcome = deliver_before_deadline(
        budget, lambda: reporter.succeed(job_id, plan.summary(), request_id, variables), retried="the job"
    )
    _record_outcome(outcome, failure_type=None)
    return outcome


def _report_failure(
    job_id: str, request_id: str, reporter: JobReporter, budget: TimeBudget, error: Exception
) -> ReportOutcome:
    failure_type = failure_type_of(error)
    if isinstance(error, ImageDefsError):
        message = redactor.clean(str(error))  # what CodePipeline shows and the log's "reason": the same, redacted
        logger.warning("Job failed", extra={"outcome": "failed", "failure_type": failure_type, "reason": message})
    else:
        message = (
            f"Unexpected error {type(error).__name__} in the image definitions function (request id {request_id}). "
            "The function's CloudWatch log has the details under that request id."
        )
        logger.exception("Job failed unexpectedly", extra={"outcome": "failed", "failure_type": failure_type})
    outcome = deliver_before_deadline(
        budget, lambda: reporter.fail(job_id, failure_type, message, request_id), retried="the job"
    )
    _record_outcome(outcome, failure_type)
    return outcome


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
