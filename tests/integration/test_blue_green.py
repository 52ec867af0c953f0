"""Format "codedeploy" end to end: taskdef.json and appspec.yaml rendered from moto's live ECS service."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import SAMPLE_SERVICE_ARN, LocalAws, load_event
from tests.integration.conftest import Invoke
from tests.samples import READ_ONLY_MEMBERS, REGISTRY, described_task_definition, web_appspec, with_user_parameters
from tests.timing import SCHEDULING_SLACK_SECONDS

STACK_PARAMETER = "EcsServiceArns parameter of the function's stack (environment variable IMAGEDEFS_ECS_SERVICES)"


@pytest.fixture
def blue_green_job(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """events/blue-green.json, its input artifacts in S3, and the function allowed to read the sample service."""
    event = load_event("blue-green.json")
    aws.seed(event)
    monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", SAMPLE_SERVICE_ARN)
    return event


def user_parameters(**changes: Any) -> dict[str, Any]:
    return {
        "format": "codedeploy",
        "service": "prod/shop",
        "containers": {"WebImage": "web", "ApiImage": "api"},
        **changes,
    }


def test_taskdef_and_appspec_are_rendered_from_the_live_service(
    aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any]
) -> None:
    # Given a CODE_DEPLOY service behind a load balancer, running a three-container task definition with tags
    aws.seed_service()
    network = aws.ecs.describe_services(cluster="prod", services=["shop"])["services"][0]["networkConfiguration"]

    # When the blue/green job runs
    result = invoke(blue_green_job)

    # Then the output artifact holds exactly taskdef.json and appspec.yaml
    assert result.report.succeeded
    files = aws.output_files(blue_green_job)
    assert list(files) == ["taskdef.json", "appspec.yaml"]
    # taskdef.json: the task definition ECS describes, as RegisterTaskDefinition input (moto's answer has the ARN,
    # revision, status and compatibilities to drop; tests/unit/test_codedeploy.py has all of AWS's), tags included,
    # every other member and container unchanged, the two images set
    registered = aws.ecs.describe_task_definition(taskDefinition="shop:1", include=["TAGS"])
    assert {"taskDefinitionArn", "revision", "status", "compatibilities"} <= set(registered["taskDefinition"])
    expected: dict[str, Any] = {
        key: value for key, value in registered["taskDefinition"].items() if key not in READ_ONLY_MEMBERS
    }
    web, api, _ = expected["containerDefinitions"]
    web["image"], api["image"] = f"{REGISTRY}/shop/web:v1.4.2", f"{REGISTRY}/shop/api:v2.0.1"
    expected["tags"] = described_task_definition()["tags"]
    taskdef = json.loads(files["taskdef.json"])
    assert taskdef == expected
    assert not READ_ONLY_MEMBERS & set(taskdef)
    # appspec.yaml: the placeholder, the load balancer's container and port, platform version and network
    assert yaml.safe_load(files["appspec.yaml"]) == web_appspec(
        network["awsvpcConfiguration"]["subnets"], network["awsvpcConfiguration"]["securityGroups"]
    )
    assert result.report.request["executionDetails"]["summary"] == (
        f"web → {REGISTRY}/shop/web:v1.4.2; api → {REGISTRY}/shop/api:v2.0.1"
    )


def test_the_service_may_be_named_by_its_arn(aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any]) -> None:
    aws.seed_service()

    result = invoke(with_user_parameters(blue_green_job, user_parameters(service=SAMPLE_SERVICE_ARN)))

    assert result.report.succeeded


@pytest.mark.parametrize(
    ("parameters", "controller", "message"),
    [
        pytest.param(
            user_parameters(containers={"WebImage": "frontend", "ApiImage": "api"}),
            "CODE_DEPLOY",
            'The job gives an image to container(s) "frontend", which the task definition '
            'arn:aws:ecs:us-west-2:123456789012:task-definition/shop:1 of ECS service "prod/shop" does not have. '
            'Its containers are "web", "api", "log-router": name those with UserParameters "containers".',
            id="a container the task definition lacks",
        ),
        pytest.param(
            user_parameters(),
            "ECS",
            'ECS service "prod/shop" uses the ECS deployment controller (rolling update); format "codedeploy" is for '
            "services deployed blue/green by CodeDeploy",
            id="a rolling-update service",
        ),
        pytest.param(
            user_parameters(service="prod/nothing"),
            "CODE_DEPLOY",
            'ECS service "prod/nothing" does not exist (or is deleted) in the function\'s region. Check '
            'UserParameters "service"',
            id="an unknown service",
        ),
        pytest.param(
            user_parameters(service="staging/shop"),
            "CODE_DEPLOY",
            'Failed describing ECS service "staging/shop": ClusterNotFoundException. Check UserParameters "service"',
            id="an unknown cluster",
        ),
        pytest.param(
            {"format": "codedeploy"},
            "CODE_DEPLOY",
            'Format "codedeploy" needs the ECS service whose task definition it renders: set UserParameters "service"',
            id="no service",
        ),
    ],
)
def test_a_service_that_cannot_be_deployed_blue_green_is_a_configuration_error(
    aws: LocalAws,
    invoke: Invoke,
    blue_green_job: dict[str, Any],
    parameters: dict[str, Any],
    controller: Any,
    message: str,
) -> None:
    aws.seed_service(controller=controller)

    result = invoke(with_user_parameters(blue_green_job, parameters))

    assert result.failure["type"] == "ConfigurationError"
    assert message in result.failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(blue_green_job)


def test_without_readable_services_the_message_names_the_stack_parameter(
    aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.seed_service()
    monkeypatch.delenv("IMAGEDEFS_ECS_SERVICES")

    failure = invoke(blue_green_job).failure

    assert failure["type"] == "ConfigurationError"
    assert failure["message"] == (
        'Format "codedeploy" reads ECS service "prod/shop" with the function\'s own role, which may read no ECS '
        f"service: list the service's ARN in the {STACK_PARAMETER} and deploy the function's stack again."
    )


def test_ecs_access_denied_names_the_stack_parameter_and_ecs_is_read_with_the_functions_own_credentials(
    aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ECS that denies the function's role, as it answers: HTTP 400 with a JSON AccessDeniedException
    with FaultyS3(Fault(status=400, code="AccessDeniedException", json_error=True)) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)

        failure = invoke(blue_green_job).failure
        access_keys = set(ecs.access_keys)

    assert failure["type"] == "ConfigurationError"
    assert failure["message"].startswith(
        'Access denied describing ECS service "prod/shop": AccessDeniedException. The function\'s role may read '
        f"only the ECS services listed in the {STACK_PARAMETER}: add the service's ARN"
    )
    artifact_key = blue_green_job["CodePipeline.job"]["data"]["artifactCredentials"]["accessKeyId"]
    assert access_keys == {"local"} != {artifact_key}


def test_a_slow_ecs_ends_in_system_unavailable_before_the_deadline(
    aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ECS that sends its answer's headers a byte at a time (no socket timeout trips), and 6 s left
    remaining_millis = 6_000
    with FaultyS3(Fault(trickle="headers")) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
        started = time.monotonic()

        result = invoke(blue_green_job, remaining_millis=remaining_millis)
        elapsed = time.monotonic() - started

    # Then one SystemUnavailable report at the deadline, saying so, and nothing written
    assert result.failure["type"] == "SystemUnavailable"
    assert (
        'while describing ECS service "prod/shop": the call was still running at the deadline'
        in (result.failure["message"])
    )
    assert elapsed < remaining_millis / 1000 + SCHEDULING_SLACK_SECONDS
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(blue_green_job)


def test_overrides_and_hooks_from_resolved_pipeline_variables_reach_the_deploy_actions_files(
    aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the live service, a stack default hook, and UserParameters as CodePipeline hands them over once it
    # resolved #{SourceVariables.CommitId}
    aws.seed_service()
    monkeypatch.setenv("IMAGEDEFS_DEFAULT_HOOKS", "AfterAllowTraffic=CodeDeployHook_notify")
    commit = "4f2a9c1e0b7d3a6f8e5c2b1a0d9e8f7c6b5a4d3e"
    parameters = user_parameters(
        overrides={
            "containers": {
                "web": {"environment": {"GIT_SHA": commit, "LOG_FORMAT": "text"}, "dockerLabels": {"commit": commit}},
                "api": {"command": ["serve", "--workers", "4"]},
            },
            "task": {"cpu": "1024", "memory": "2048"},
        },
        hooks={"AfterAllowTestTraffic": "CodeDeployHook_smoke_test"},
    )

    # When the blue/green job runs
    result = invoke(with_user_parameters(blue_green_job, parameters))

    # Then taskdef.json has the overrides on top of the live task definition, and appspec.yaml the hooks
    assert result.report.succeeded
    files = aws.output_files(blue_green_job)
    taskdef = json.loads(files["taskdef.json"])
    web, api, log_router = taskdef["containerDefinitions"]
    assert web["environment"] == [
        {"name": "LOG_FORMAT", "value": "text"},
        {"name": "UPSTREAM", "value": "http://localhost:9000"},
        {"name": "GIT_SHA", "value": commit},
    ]
    assert web["dockerLabels"] == {"commit": commit}
    assert web["secrets"] == described_task_definition()["taskDefinition"]["containerDefinitions"][0]["secrets"]
    assert api["command"] == ["serve", "--workers", "4"]
    assert log_router == described_task_definition()["taskDefinition"]["containerDefinitions"][2]
    assert (taskdef["cpu"], taskdef["memory"]) == ("1024", "2048")
    assert yaml.safe_load(files["appspec.yaml"])["Hooks"] == [
        {"AfterAllowTestTraffic": "CodeDeployHook_smoke_test"},
        {"AfterAllowTraffic": "CodeDeployHook_notify"},
    ]


def test_an_override_of_a_secret_variable_fails_the_job_and_writes_nothing(
    aws: LocalAws, invoke: Invoke, blue_green_job: dict[str, Any]
) -> None:
    aws.seed_service()
    parameters = user_parameters(overrides={"containers": {"web": {"environment": {"DB_PASSWORD": "hunter2"}}}})

    result = invoke(with_user_parameters(blue_green_job, parameters))

    assert result.failure["type"] == "ConfigurationError"
    assert (
        'sets environment variable(s) "DB_PASSWORD", which the container takes from a secret'
        in (result.failure["message"])
    )
    assert "hunter2" not in result.failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(blue_green_job)
