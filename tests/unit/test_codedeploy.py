"""Format "codedeploy": taskdef.json and appspec.yaml for CodeDeployToECS, from a service's task definition."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
import yaml

from imagedefs.config import Settings, parse_user_parameters
from imagedefs.errors import ConfigurationError
from imagedefs.formats.codedeploy import (
    REGISTER_TASK_DEFINITION_MEMBERS,
    BlueGreenService,
    LoadBalancerTarget,
    appspec_yaml,
    is_port,
    service_from_task_definition_file,
)
from imagedefs.formats.image_files import parse_image_detail
from tests.samples import (
    DIGEST_A,
    DIGEST_B,
    READ_ONLY_MEMBERS,
    REGISTRY,
    described_task_definition,
    image_detail,
    web_appspec,
)

FLAGS = {"container_flag": "--lb-container", "port_flag": "--lb-port"}


def shop_service(**changes: Any) -> BlueGreenService:
    described = described_task_definition()
    fields: dict[str, Any] = {
        "described_as": 'the task definition shop:7 of ECS service "prod/shop"',
        "task_definition": described["taskDefinition"],
        "tags": tuple(described["tags"]),
        "load_balancer": LoadBalancerTarget("web", 8080),
    }
    return BlueGreenService(**{**fields, **changes})


def plan_for(service: BlueGreenService, parameters: dict[str, Any]) -> dict[str, bytes]:
    from imagedefs.plan import build_plan

    config = parse_user_parameters(json.dumps({"format": "codedeploy", **parameters}), Settings())
    sources = [
        parse_image_detail("WebImage", json.dumps(image_detail("shop/web", DIGEST_A, ["v1.4.2"])).encode()),
        parse_image_detail("ApiImage", json.dumps(image_detail("shop/api", DIGEST_B, ["v1.4.2"])).encode()),
    ]
    plan = build_plan(sources, ["BlueGreen"], config, Settings(), service)
    (output,) = plan.outputs
    return {file.name: file.content for file in output.files}


def test_the_register_task_definition_members_are_botocores() -> None:
    shape = (
        botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape
    )
    assert shape is not None
    assert set(shape.members) == REGISTER_TASK_DEFINITION_MEMBERS


def test_taskdef_json_is_the_current_task_definition_with_the_jobs_images() -> None:
    # Given the service's current task definition, as DescribeTaskDefinition returns it with its tags
    described = described_task_definition()

    # When the job gives web and api their new images
    files = plan_for(shop_service(), {"containers": {"WebImage": "web", "ApiImage": "api"}})

    # Then taskdef.json is that task definition as RegisterTaskDefinition input: read-only members dropped,
    # tags added, every other member and container unchanged, the two images set
    expected = {key: value for key, value in described["taskDefinition"].items() if key not in READ_ONLY_MEMBERS}
    web, api, log_router = expected["containerDefinitions"]
    web["image"], api["image"] = f"{REGISTRY}/shop/web:v1.4.2", f"{REGISTRY}/shop/api:v1.4.2"
    expected["tags"] = described["tags"]
    assert list(files) == ["taskdef.json", "appspec.yaml"]
    assert json.loads(files["taskdef.json"]) == expected
    assert log_router["image"] == "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"


def test_appspec_yaml_names_the_placeholder_the_load_balancer_target_and_the_network() -> None:
    service = shop_service(
        platform_version="1.4.0",
        awsvpc_configuration={
            "subnets": ["subnet-1", "subnet-2"],
            "securityGroups": ["sg-1"],
            "assignPublicIp": "DISABLED",
        },
    )

    assert yaml.safe_load(appspec_yaml(service)) == web_appspec(["subnet-1", "subnet-2"], ["sg-1"])


def test_appspec_yaml_without_platform_version_or_network_has_neither() -> None:
    properties = yaml.safe_load(appspec_yaml(shop_service()))["Resources"][0]["TargetService"]["Properties"]
    assert set(properties) == {"TaskDefinition", "LoadBalancerInfo"}


@pytest.mark.parametrize("value", ['a": b\n  - c', "#comment", "x: y", "'", "\\", "ü", "null", "1.0"])
def test_no_value_can_change_the_appspecs_structure(value: str) -> None:
    service = shop_service(platform_version=value, awsvpc_configuration={"subnets": [value]})
    properties = yaml.safe_load(appspec_yaml(service))["Resources"][0]["TargetService"]["Properties"]
    assert properties["PlatformVersion"] == value
    assert properties["NetworkConfiguration"] == {"AwsvpcConfiguration": {"Subnets": [value]}}


def test_a_container_the_task_definition_lacks_is_a_configuration_error_naming_its_containers() -> None:
    with pytest.raises(ConfigurationError) as error:
        plan_for(shop_service(), {"containers": {"WebImage": "frontend", "ApiImage": "api"}})
    assert str(error.value) == (
        'The job gives an image to container(s) "frontend", which the task definition shop:7 of ECS service '
        '"prod/shop" does not have. Its containers are "web", "api", "log-router": name those with '
        'UserParameters "containers".'
    )


def test_a_task_definition_file_takes_the_load_balancer_target_from_its_one_container_with_a_port() -> None:
    document = described_task_definition()
    document["taskDefinition"]["containerDefinitions"][1]["portMappings"] = []

    service = service_from_task_definition_file(json.dumps(document).encode(), "td.json", None, None, **FLAGS)

    assert service.load_balancer == LoadBalancerTarget("web", 8080)
    assert service.tags == tuple(document["tags"])


def test_a_bare_task_definition_file_is_read_too() -> None:
    bare = described_task_definition()["taskDefinition"]

    service = service_from_task_definition_file(json.dumps(bare).encode(), "td.json", "api", 9000, **FLAGS)

    assert (service.task_definition, service.tags, service.load_balancer) == (bare, (), LoadBalancerTarget("api", 9000))


@pytest.mark.parametrize(
    ("document", "container", "message"),
    [
        (
            described_task_definition(),
            None,
            r'has 2 containers that map a port \("web", "api"\); .* with --lb-container',
        ),
        (described_task_definition(), "db", r'--lb-container is "db", which the task definition in td.json does not'),
        ({"family": "shop"}, None, r'The task definition in td.json is not one ECS describes: it needs a "family"'),
        ([1], None, "is not one ECS describes"),
    ],
    ids=["two containers map a port", "unknown container", "no containers", "not an object"],
)
def test_a_task_definition_file_that_does_not_say_enough_names_the_flag(
    document: Any, container: str | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        service_from_task_definition_file(json.dumps(document).encode(), "td.json", container, None, **FLAGS)


def test_a_port_is_a_whole_number_from_1_to_65535_and_json_true_is_none() -> None:
    assert [is_port(value) for value in (1, 8080, 65535)] == [True, True, True]
    assert [is_port(value) for value in (0, 65536, True, "80", 80.0, None)] == [False] * 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff{}", "The task definition in td.json is not UTF-8 text."),
        (
            b"{",
            "The task definition in td.json is not valid JSON (Expecting property name enclosed in double quotes at",
        ),
        (
            json.dumps({**described_task_definition(), "tags": "team=shop"}).encode(),
            'The "tags" in td.json must be a list of {"key", "value"} objects.',
        ),
        (
            json.dumps({**described_task_definition(), "tags": [{"key": "team"}, "cost-center"]}).encode(),
            'The "tags" in td.json must be a list of {"key", "value"} objects.',
        ),
    ],
    ids=["not utf-8", "not json", "tags a string", "a tag a string"],
)
def test_a_task_definition_file_that_cannot_be_read_says_why(data: bytes, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        service_from_task_definition_file(data, "td.json", "web", 8080, **FLAGS)

    assert str(raised.value).startswith(message)


def test_a_task_definition_file_with_a_byte_order_mark_and_no_tags_is_read() -> None:
    # Given describe-task-definition's output without tags, saved by a tool that writes a byte order mark
    document = {"taskDefinition": described_task_definition()["taskDefinition"]}
    data = b"\xef\xbb\xbf" + json.dumps(document).encode()

    service = service_from_task_definition_file(data, "td.json", "web", 8080, **FLAGS)

    assert (service.tags, service.load_balancer) == ((), LoadBalancerTarget("web", 8080))


def test_the_tags_member_of_a_bare_task_definition_is_no_tag_list() -> None:
    # A bare task definition has no "tags" of its own (describe-task-definition puts them beside it): left as it is
    bare = {**described_task_definition()["taskDefinition"], "tags": "not the output's tags"}

    service = service_from_task_definition_file(json.dumps(bare).encode(), "td.json", "web", 8080, **FLAGS)

    assert service.tags == ()


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        ([{"containerPort": 8080}, {"containerPort": 9090}], "(its ports: 8080, 9090)"),
        ([], "(its ports: none)"),
        (["8080", {"containerPort": True}, {"hostPort": 80}], "(its ports: none)"),
    ],
)
def test_a_port_the_container_does_not_map_lists_the_ports_it_maps(mappings: list[Any], message: str) -> None:
    document = described_task_definition()
    document["taskDefinition"]["containerDefinitions"][0]["portMappings"] = mappings

    with pytest.raises(ConfigurationError) as raised:
        service_from_task_definition_file(json.dumps(document).encode(), "td.json", "web", 443, **FLAGS)

    assert str(raised.value) == (
        f'--lb-port is 443, which container "web" in td.json does not map {message}. The load balancer can only '
        "reach a mapped port."
    )
