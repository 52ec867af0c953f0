"""Test data built from the sample jobs in events/: one definition, many variants."""

from __future__ import annotations

import copy
import json
from typing import Any

from devtools.local_aws import EVENTS_DIR, load_event, sample_artifacts

REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
# What DescribeTaskDefinition returns and RegisterTaskDefinition does not take (the list).
READ_ONLY_MEMBERS = {
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
}


def image_detail(repository: str = "shop/web", digest: str = DIGEST_A, tags: list[str] | None = None) -> dict[str, Any]:
    """An imageDetail.json as the ECR source action writes it."""
    return {
        "ImageSizeInBytes": "44728918",
        "ImageDigest": digest,
        "Version": "1.0",
        "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019",
        "RegistryId": "123456789012",
        "RepositoryName": repository,
        "ImageURI": f"{REGISTRY}/{repository}@{digest}",
        "ImageTags": ["latest"] if tags is None else tags,
    }


def documented_image_detail() -> dict[str, Any]:
    """The single-source sample's imageDetail.json (the AWS documentation's example, with real-looking values)."""
    event = load_event("single-ecr-source.json")
    location = event["CodePipeline.job"]["data"]["inputArtifacts"][0]["location"]["s3Location"]
    detail: dict[str, Any] = sample_artifacts()[f"{location['bucketName']}/{location['objectKey']}"]["imageDetail.json"]
    return copy.deepcopy(detail)


def with_user_parameters(event: dict[str, Any], parameters: dict[str, Any] | str | None) -> dict[str, Any]:
    configuration = event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    if parameters is None:
        configuration.pop("UserParameters", None)
    else:
        configuration["UserParameters"] = parameters if isinstance(parameters, str) else json.dumps(parameters)
    return event


def input_location(event: dict[str, Any], index: int = 0) -> tuple[str, str]:
    location = event["CodePipeline.job"]["data"]["inputArtifacts"][index]["location"]["s3Location"]
    return location["bucketName"], location["objectKey"]


def artifact_names(event: dict[str, Any], kind: str) -> list[str]:
    return [artifact["name"] for artifact in event["CodePipeline.job"]["data"][kind]]


def described_task_definition() -> dict[str, Any]:
    """events/describe-task-definition.json: `aws ecs describe-task-definition --include TAGS` of a three-container
    service, read-only members (ARN, revision, status, requiresAttributes, compatibilities, registration) included.
    """
    described: dict[str, Any] = json.loads((EVENTS_DIR / "describe-task-definition.json").read_text())
    return described


def web_appspec(subnets: list[str], security_groups: list[str]) -> dict[str, Any]:
    """The ECS AppSpec of a Fargate service whose load balancer reaches web:8080, as CodeDeploy documents the format."""
    properties = {
        "TaskDefinition": "<TASK_DEFINITION>",
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
        "PlatformVersion": "1.4.0",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {"Subnets": subnets, "SecurityGroups": security_groups, "AssignPublicIp": "DISABLED"}
        },
    }
    return {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}]}
