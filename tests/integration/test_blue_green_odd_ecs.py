"""Format "codedeploy", and a rolling job's containers checked against its service, against an ECS that answers
oddly: one report, naming the cause, nothing written.

A small fake ECS serves canned JSON (moto only answers what its model allows), reached like the real one
through AWS_ENDPOINT_URL_ECS.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from devtools.local_aws import REGION, SAMPLE_SERVICE_ARN, LocalAws, load_event
from devtools.loopback import LoopbackServer
from tests.integration.conftest import Invoke
from tests.samples import with_user_parameters

TASK_DEFINITION_ARN = f"arn:aws:ecs:{REGION}:123456789012:task-definition/shop:1"
SERVICE: dict[str, Any] = {
    "serviceArn": SAMPLE_SERVICE_ARN,
    "serviceName": "shop",
    "status": "ACTIVE",
    "taskDefinition": TASK_DEFINITION_ARN,
    "deploymentController": {"type": "CODE_DEPLOY"},
    "loadBalancers": [{"targetGroupArn": "blue", "containerName": "web", "containerPort": 8080}],
    "platformVersion": "1.4.0",
    "networkConfiguration": {
        "awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}
    },
}
TASK_DEFINITION: dict[str, Any] = {
    "taskDefinitionArn": TASK_DEFINITION_ARN,
    "family": "shop",
    "revision": 1,
    "containerDefinitions": [{"name": "web", "image": "old/web"}, {"name": "api", "image": "old/api"}],
}


@dataclass
class Answers:
    """What the fake ECS answers: raw bodies by operation, else the service and task definition as JSON."""

    service: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(SERVICE))
    task_definition: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(TASK_DEFINITION))
    raw: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def answer(self, operation: str) -> tuple[int, bytes]:
        if operation in self.raw:
            return self.raw[operation]
        if operation == "DescribeServices":
            return 200, json.dumps({"services": [self.service], "failures": []}).encode()
        return 200, json.dumps({"taskDefinition": self.task_definition}).encode()


class _FakeEcsHandler(BaseHTTPRequestHandler):
    server: _FakeEcsServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = self.server.answers.answer(self.headers.get("X-Amz-Target", "").rpartition(".")[2])
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


class _FakeEcsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answers: Answers) -> None:
        super().__init__(("127.0.0.1", 0), _FakeEcsHandler)
        self.answers = answers


@pytest.fixture
def ecs(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Answers]:
    answers = Answers()
    with LoopbackServer(_FakeEcsServer(answers)) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", server.url)
        monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", SAMPLE_SERVICE_ARN)
        yield answers


def _blue_green_job(aws: LocalAws, service: str = "prod/shop") -> dict[str, Any]:
    event = load_event("blue-green.json")
    aws.seed(event)
    parameters = {"format": "codedeploy", "service": service, "containers": {"WebImage": "web", "ApiImage": "api"}}
    return with_user_parameters(event, parameters)


def _error(code: str, message: str, status: int = 400) -> tuple[int, bytes]:
    return status, json.dumps({"__type": code, "message": message}).encode()


def _set(path: str, value: object) -> Callable[[Answers], None]:
    def change(answers: Answers) -> None:
        *parents, last = path.split(".")
        target: Any = answers.service
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value

    return change


def _rolling_job(aws: LocalAws, ecs: Answers) -> dict[str, Any]:
    """events/two-ecr-sources.json naming the sample service, which ECS then describes as a rolling one."""
    ecs.service["deploymentController"] = {"type": "ECS"}
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    return with_user_parameters(event, {"service": "prod/shop", "containers": {"WebImage": "web", "ApiImage": "api"}})


# Odd answers to what both kinds of job read: the service, then its task definition.
ODD_SERVICE_ANSWERS = [
    pytest.param(
        lambda answers: answers.raw.update(DescribeServices=_error("ClientException", "Bad request")),
        "ConfigurationError",
        ["ECS refused describing ECS service", "ClientException (Bad request)", 'UserParameters "service"'],
        id="ClientException",
    ),
    pytest.param(
        lambda answers: answers.raw.update(
            DescribeTaskDefinition=_error("InvalidParameterException", "Unable to describe task definition.")
        ),
        "ConfigurationError",
        ["ECS refused reading task definition", "InvalidParameterException"],
        id="InvalidParameterException",
    ),
    pytest.param(
        lambda answers: answers.raw.update(DescribeServices=_error("UnauthorizedOperation", "no", 400)),
        "ConfigurationError",
        ["Access denied describing ECS service", "EcsServiceArns parameter"],
        id="UnauthorizedOperation",
    ),
    pytest.param(
        lambda answers: answers.raw.update(DescribeServices=(429, b"")),
        "SystemUnavailable",
        ["ECS kept failing", "HTTP 429"],
        id="HTTP 429 without a body",
    ),
    pytest.param(
        lambda answers: answers.raw.update(DescribeServices=(200, b"<html>proxy</html>")),
        "SystemUnavailable",
        ["ECS answered", "not an ECS answer"],
        id="an HTML answer",
    ),
    pytest.param(
        lambda answers: answers.raw.update(DescribeServices=(200, b"[1, 2]")),
        "SystemUnavailable",
        ["not an ECS answer"],
        id="a JSON list",
    ),
    pytest.param(
        lambda answers: answers.service.pop("taskDefinition"),
        "SystemUnavailable",
        ['its "taskDefinition"', "not an ECS answer"],
        id="no taskDefinition",
    ),
    pytest.param(
        _set("serviceName", "other"),
        "ConfigurationError",
        ['ECS service "prod/shop" does not exist'],
        id="an answer for another service",
    ),
    pytest.param(
        _set("deploymentController", {"type": {"x": "ECS"}}),
        "SystemUnavailable",
        ['its "deploymentController"', "not an ECS answer"],
        id="a deployment controller that is a mapping",
    ),
    pytest.param(
        lambda answers: answers.task_definition.update(containerDefinitions=[{"name": 7}]),
        "ConfigurationError",
        ['"containerDefinitions", each with a "name"'],
        id="a container name that is a number",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected_type", "expected_parts"),
    [
        *ODD_SERVICE_ANSWERS,
        pytest.param(
            _set("loadBalancers.0.containerPort", [8080]),
            "ConfigurationError",
            ["0 load balancer containers and ports"],
            id="a port that is a list",
        ),
        pytest.param(
            _set("loadBalancers.0.containerName", "ghost"),
            "ConfigurationError",
            ['sends traffic to container "ghost"', 'Its containers are "web", "api"'],
            id="a load balancer container the task definition lacks",
        ),
        pytest.param(
            _set("platformVersion", {"x\nTaskDefinition": "evil"}),
            "SystemUnavailable",
            ['its "platformVersion"'],
            id="a platform version that is a mapping",
        ),
        pytest.param(
            _set("networkConfiguration.awsvpcConfiguration.subnets", [{"a: b\n  TaskDefinition": "x"}]),
            "SystemUnavailable",
            ['its "awsvpcConfiguration"'],
            id="subnets that are mappings",
        ),
        pytest.param(
            _set("capacityProviderStrategy", [{"capacityProvider": "FARGATE", "weight": "1\nHooks: x"}]),
            "SystemUnavailable",
            ['its "capacityProviderStrategy"'],
            id="a capacity provider weight that is a string",
        ),
        pytest.param(
            _set("capacityProviderStrategy", [{"weight": 1}]),
            "SystemUnavailable",
            ['its "capacityProviderStrategy"'],
            id="a capacity provider strategy item without a provider",
        ),
        pytest.param(
            _set("capacityProviderStrategy", {"capacityProvider": "FARGATE"}),
            "SystemUnavailable",
            ["not an ECS answer"],  # botocore's parser refuses it before the adapter sees it
            id="a capacity provider strategy that is no list",
        ),
    ],
)
def test_an_odd_ecs_answer_ends_in_one_report_naming_it(
    aws: LocalAws,
    invoke: Invoke,
    ecs: Answers,
    change: Callable[[Answers], None],
    expected_type: str,
    expected_parts: list[str],
) -> None:
    change(ecs)
    event = _blue_green_job(aws)

    failure = invoke(event).failure

    assert failure["type"] == expected_type
    for part in expected_parts:
        assert part in failure["message"]
    assert "Unexpected error" not in failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


@pytest.mark.parametrize(
    ("change", "expected_type", "expected_parts"),
    [
        *ODD_SERVICE_ANSWERS,
        pytest.param(
            _set("deploymentConfiguration", {"strategy": ["BLUE_GREEN"]}),
            "SystemUnavailable",
            ['its "deploymentConfiguration"', "not an ECS answer"],
            id="a strategy that is a list",
        ),
        pytest.param(
            _set("deploymentConfiguration", {"strategy": "LINEAR; web → evil"}),
            "SystemUnavailable",
            ['its "deploymentConfiguration"'],
            id="a strategy that is no ECS name",
        ),
        pytest.param(
            _set("deploymentConfiguration", "ROLLING"),
            "SystemUnavailable",
            ["not an ECS answer"],
            id="a deployment configuration that is a string",
        ),
        pytest.param(
            _set("deploymentController", {"type": "ECS\nCODE_DEPLOY"}),
            "SystemUnavailable",
            ['its "deploymentController"'],
            id="a deployment controller that is no ECS name",
        ),
    ],
)
def test_an_odd_ecs_answer_to_a_rolling_job_ends_in_one_report_naming_it(
    aws: LocalAws,
    invoke: Invoke,
    ecs: Answers,
    change: Callable[[Answers], None],
    expected_type: str,
    expected_parts: list[str],
) -> None:
    event = _rolling_job(aws, ecs)
    change(ecs)

    failure = invoke(event).failure

    assert failure["type"] == expected_type
    for part in expected_parts:
        assert part in failure["message"]
    assert "Unexpected error" not in failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


@pytest.mark.parametrize(
    ("configuration", "note"),
    [
        pytest.param({}, "", id="none (an older service)"),
        pytest.param({"strategy": "ROLLING", "maximumPercent": 200}, "", id="ROLLING"),
        pytest.param(
            {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5},
            ", which ECS deploys with its BLUE_GREEN strategy",
            id="BLUE_GREEN",
        ),
        pytest.param({"strategy": "LINEAR"}, ", which ECS deploys with its LINEAR strategy", id="LINEAR"),
        pytest.param({"strategy": "CANARY"}, ", which ECS deploys with its CANARY strategy", id="CANARY"),
        pytest.param({"strategy": "WAVES_2030"}, ", which ECS deploys with its WAVES_2030 strategy", id="a newer one"),
    ],
)
def test_the_summary_says_which_ecs_native_strategy_deploys_the_service(
    aws: LocalAws, invoke: Invoke, ecs: Answers, configuration: dict[str, Any], note: str
) -> None:
    # Given a rolling-controller service whose deployment configuration names a strategy (moto's names none)
    event = _rolling_job(aws, ecs)
    ecs.service["deploymentConfiguration"] = configuration

    result = invoke(event)

    assert result.report.request["executionDetails"]["summary"].endswith(
        f'; containers checked against ECS service "prod/shop" (task definition shop:1){note}'
    )


def test_a_service_arn_of_another_region_is_not_taken_for_the_local_service(
    aws: LocalAws, invoke: Invoke, ecs: Answers
) -> None:
    # Given ECS answers for the service in the function's region, whatever ARN was asked for
    event = _blue_green_job(aws, service=SAMPLE_SERVICE_ARN.replace(REGION, "eu-west-1"))

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert "does not exist" in failure["message"]


def test_a_number_json_cannot_hold_is_no_taskdef_json(aws: LocalAws, invoke: Invoke, ecs: Answers) -> None:
    ecs.raw["DescribeTaskDefinition"] = (
        200,
        json.dumps({"taskDefinition": TASK_DEFINITION}).replace('"revision": 1', '"cpu": 1e400').encode(),
    )
    event = _blue_green_job(aws)

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert "holds a number JSON cannot hold" in failure["message"]


def test_every_value_from_ecs_stays_a_value_in_appspec_yaml(aws: LocalAws, invoke: Invoke, ecs: Answers) -> None:
    # Given ECS values that would break a naive YAML writer
    odd = 'a"b\nc: d # e &anchor !!python/object \u2028\u0085'
    ecs.service["platformVersion"] = odd
    ecs.service["networkConfiguration"]["awsvpcConfiguration"]["subnets"] = [odd, "- x"]
    event = _blue_green_job(aws)

    assert invoke(event).report.succeeded

    appspec = yaml.safe_load(aws.output_files(event)["appspec.yaml"])
    properties = appspec["Resources"][0]["TargetService"]["Properties"]
    assert properties["TaskDefinition"] == "<TASK_DEFINITION>"
    assert properties["PlatformVersion"] == odd
    assert properties["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == [odd, "- x"]
    assert set(properties) == {"TaskDefinition", "LoadBalancerInfo", "PlatformVersion", "NetworkConfiguration"}


def test_a_service_whose_answer_names_no_controller_is_taken_as_on_the_ecs_controller(
    aws: LocalAws, invoke: Invoke, ecs: Answers
) -> None:
    # Given ECS describing the service without a deployment controller or configuration (ECS's default: ECS)
    event = _rolling_job(aws, ecs)
    del ecs.service["deploymentController"]

    result = invoke(event)

    assert result.report.request["executionDetails"]["summary"].endswith(
        '; containers checked against ECS service "prod/shop" (task definition shop:1)'
    )


FARGATE_NETWORK = {"Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}
SPOT_STRATEGY = [
    {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 1},
    {"capacityProvider": "FARGATE", "weight": 1, "base": 0},
]


def _without(*keys: str) -> Callable[[Answers], None]:
    def change(answers: Answers) -> None:
        for key in keys:
            answers.service.pop(key)

    return change


@pytest.mark.parametrize(
    ("change", "carried_over"),
    [
        pytest.param(
            lambda answers: answers.service.update(launchType="FARGATE"),
            {"PlatformVersion": "1.4.0", "NetworkConfiguration": {"AwsvpcConfiguration": FARGATE_NETWORK}},
            id="Fargate launch type: platform version and network",
        ),
        pytest.param(
            lambda answers: answers.service.update(capacityProviderStrategy=SPOT_STRATEGY),
            {
                "PlatformVersion": "1.4.0",
                "NetworkConfiguration": {"AwsvpcConfiguration": FARGATE_NETWORK},
                "CapacityProviderStrategy": [
                    {"Base": 1, "CapacityProvider": "FARGATE_SPOT", "Weight": 3},
                    {"Base": 0, "CapacityProvider": "FARGATE", "Weight": 1},
                ],
            },
            id="Fargate capacity providers: the strategy too",
        ),
        pytest.param(
            lambda answers: (
                _without("platformVersion")(answers),
                answers.service.update(
                    capacityProviderStrategy=[{"capacityProvider": "shop-asg", "weight": 1, "base": 0}]
                ),
            ),
            {
                "NetworkConfiguration": {"AwsvpcConfiguration": FARGATE_NETWORK},
                "CapacityProviderStrategy": [{"Base": 0, "CapacityProvider": "shop-asg", "Weight": 1}],
            },
            id="EC2 capacity provider, awsvpc: no platform version",
        ),
        pytest.param(
            lambda answers: (_without("platformVersion")(answers), answers.service.update(launchType="EC2")),
            {"NetworkConfiguration": {"AwsvpcConfiguration": FARGATE_NETWORK}},
            id="EC2 launch type, awsvpc: the network only",
        ),
        pytest.param(
            lambda answers: (
                _without("platformVersion", "networkConfiguration")(answers),
                answers.service.update(launchType="EC2"),
            ),
            {},
            id="EC2 launch type, bridge network: none of them",
        ),
    ],
)
def test_what_the_live_service_runs_on_is_carried_into_the_appspec_where_it_has_it(
    aws: LocalAws, invoke: Invoke, ecs: Answers, change: Callable[[Answers], None], carried_over: dict[str, Any]
) -> None:
    # Given a blue/green service with (or without) a platform version, a network and a capacity provider strategy
    change(ecs)
    event = _blue_green_job(aws)

    # When the job runs
    assert invoke(event).report.succeeded

    # Then the appspec holds exactly what the service has of them
    properties = yaml.safe_load(aws.output_files(event)["appspec.yaml"])["Resources"][0]["TargetService"]["Properties"]
    assert properties == {
        "TaskDefinition": "<TASK_DEFINITION>",
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
        **carried_over,
    }
