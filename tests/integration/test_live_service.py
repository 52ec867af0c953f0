"""A rolling job's containers checked against the live service (moto's ECS): refused in one report before anything
is written, when the ECS deploy action would fail on them only after it started."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import SAMPLE_SERVICE_ARN, LocalAws, load_event
from imagedefs.budget import TimeBudget
from tests.integration.conftest import Invoke
from tests.samples import REGISTRY, with_user_parameters

STACK_PARAMETER = "EcsServiceArns parameter of the function's stack (environment variable IMAGEDEFS_ECS_SERVICES)"
TASK_DEFINITION_ARN = "arn:aws:ecs:us-west-2:123456789012:task-definition/shop:1"


@pytest.fixture
def rolling_job(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """events/two-ecr-sources.json naming the sample service, its inputs in S3, the function allowed to read it."""
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", SAMPLE_SERVICE_ARN)
    return with_user_parameters(event, user_parameters())


def user_parameters(**changes: Any) -> dict[str, Any]:
    return {"service": "prod/shop", "containers": {"WebImage": "web", "ApiImage": "api"}, **changes}


def test_containers_the_service_has_are_written_and_the_summary_says_they_were_checked(
    aws: LocalAws, invoke: Invoke, rolling_job: dict[str, Any]
) -> None:
    # Given a rolling (ECS controller) service whose task definition has the containers web, api and log-router
    aws.seed_service(controller="ECS")

    # When the job naming it runs
    result = invoke(rolling_job)

    # Then the file is what it is without the check, and the summary says what was checked
    assert result.report.succeeded
    assert json.loads(aws.output_files(rolling_job)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v1.4.2"},
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:v2.0.1"},
    ]
    assert result.report.request["executionDetails"]["summary"] == (
        f"web → {REGISTRY}/shop/web:v1.4.2; api → {REGISTRY}/shop/api:v2.0.1; "
        'containers checked against ECS service "prod/shop" (task definition shop:1)'
    )


def test_the_service_may_be_named_by_its_arn(aws: LocalAws, invoke: Invoke, rolling_job: dict[str, Any]) -> None:
    aws.seed_service(controller="ECS")

    result = invoke(with_user_parameters(rolling_job, user_parameters(service=SAMPLE_SERVICE_ARN)))

    assert result.report.request["executionDetails"]["summary"].endswith(
        'containers checked against ECS service "prod/shop" (task definition shop:1)'
    )


@pytest.mark.parametrize(
    ("parameters", "controller", "message"),
    [
        pytest.param(
            user_parameters(containers={"WebImage": "frontend", "ApiImage": ["api", "worker"]}),
            "ECS",
            'The job writes container(s) "frontend", "worker" into the image definitions, which the task definition '
            f'{TASK_DEFINITION_ARN} of ECS service "prod/shop" does not have: the ECS deploy action, which makes the '
            'new revision from that task definition, would fail with "The AWS ECS container frontend does not '
            'exist". Its containers are "web", "api", "log-router": name those with UserParameters "containers", or '
            'set UserParameters "service" to the service this pipeline deploys.',
            id="containers the task definition lacks",
        ),
        pytest.param(
            user_parameters(),
            "CODE_DEPLOY",
            'ECS service "prod/shop" is deployed blue/green by CodeDeploy (deployment controller CODE_DEPLOY), which '
            'the ECS deploy action and imagedefinitions.json cannot update: use format "codedeploy" and the '
            "CodeDeployToECS deploy action.",
            id="a blue/green service",
        ),
        pytest.param(
            user_parameters(),
            "EXTERNAL",
            'ECS service "prod/shop" uses the EXTERNAL deployment controller: a third-party controller deploys it '
            "through task sets, and ECS lets no one else change its task definition, so the ECS deploy action cannot "
            "take an imagedefinitions.json for it. Deploy it with that controller's own tooling, or name a service "
            "on the ECS deployment controller.",
            id="an external controller",
        ),
        pytest.param(
            user_parameters(service="prod/nothing"),
            "ECS",
            'ECS service "prod/nothing" does not exist (or is deleted) in the function\'s region. Check '
            'UserParameters "service": <cluster>/<service> or the service\'s ARN, in the region of the function.',
            id="an unknown service",
        ),
        pytest.param(
            user_parameters(service="staging/shop"),
            "ECS",
            'Failed describing ECS service "staging/shop": ClusterNotFoundException. Check UserParameters "service": '
            "<cluster>/<service> or the service's ARN, in the region of the function.",
            id="an unknown cluster",
        ),
    ],
)
def test_a_service_the_job_cannot_deploy_to_is_refused_before_anything_is_written(
    aws: LocalAws,
    invoke: Invoke,
    rolling_job: dict[str, Any],
    parameters: dict[str, Any],
    controller: Any,
    message: str,
) -> None:
    aws.seed_service(controller=controller)

    result = invoke(with_user_parameters(rolling_job, parameters))

    assert (result.failure["type"], result.failure["message"]) == ("ConfigurationError", message)
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(rolling_job)


def test_without_readable_services_the_message_names_the_stack_parameter(
    aws: LocalAws, invoke: Invoke, rolling_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.seed_service(controller="ECS")
    monkeypatch.delenv("IMAGEDEFS_ECS_SERVICES")

    failure = invoke(rolling_job).failure

    assert (failure["type"], failure["message"]) == (
        "ConfigurationError",
        'To check the containers, UserParameters "service" reads ECS service "prod/shop" with the function\'s own '
        f"role, which may read no ECS service: list the service's ARN in the {STACK_PARAMETER} and deploy the "
        "function's stack again.",
    )


def test_ecs_access_denied_names_the_stack_parameter_and_ecs_is_read_with_the_functions_own_credentials(
    aws: LocalAws, invoke: Invoke, rolling_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultyS3(Fault(status=400, code="AccessDeniedException", json_error=True)) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)

        failure = invoke(rolling_job).failure
        access_keys = set(ecs.access_keys)

    assert failure["type"] == "ConfigurationError"
    assert failure["message"] == (
        'Access denied describing ECS service "prod/shop": AccessDeniedException. The function\'s role may read only '
        f"the ECS services listed in the {STACK_PARAMETER}: add the service's ARN "
        "(arn:aws:ecs:<region>:<account>:service/<cluster>/<service>) there and deploy the function's stack again."
    )
    artifact_key = rolling_job["CodePipeline.job"]["data"]["artifactCredentials"]["accessKeyId"]
    assert access_keys == {"local"} != {artifact_key}


def test_a_stalled_ecs_ends_in_system_unavailable_before_the_deadline(
    aws: LocalAws, invoke: Invoke, rolling_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ECS that sends its answer's headers a byte at a time (no socket timeout trips), and 6 s left
    remaining_millis = 6_000
    budget = TimeBudget.from_remaining_millis(remaining_millis)
    with FaultyS3(Fault(trickle="headers")) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
        started = time.monotonic()

        result = invoke(rolling_job, remaining_millis=remaining_millis)
        elapsed = time.monotonic() - started

    # Then one SystemUnavailable report, sent with the reserve intact, and nothing written
    assert result.failure["type"] == "SystemUnavailable"
    assert (
        'while describing ECS service "prod/shop": the call was still running at the deadline'
        in (result.failure["message"])
    )
    assert elapsed < budget.seconds + 0.5 < remaining_millis / 1000
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(rolling_job)


def test_a_job_without_a_service_reads_no_ecs(
    aws: LocalAws, invoke: Invoke, rolling_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ECS that would deny every call
    with FaultyS3(Fault(status=400, code="AccessDeniedException", json_error=True)) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)

        result = invoke(with_user_parameters(rolling_job, {"containers": {"WebImage": "web", "ApiImage": "api"}}))
        calls = len(ecs.access_keys)

    assert result.report.succeeded
    assert calls == 0
