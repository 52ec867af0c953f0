"""The function exactly as `sam build` packaged it, under awslambdaric, Lambda's own runtime interface client.

This catches what in-process tests cannot: a handler string that does not import in Lambda, or a
dependency present on this machine but missing from the package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.shared.version import VERSION

from devtools.local_aws import LocalAws, load_event
from devtools.packaged_function import PackagedFunction, function_configuration
from tests.samples import REGISTRY


@pytest.fixture
def packaged(aws: LocalAws) -> Iterator[PackagedFunction]:
    with PackagedFunction(aws.environment) as function:
        yield function


def test_a_success_job_under_the_runtime_client(aws: LocalAws, packaged: PackagedFunction) -> None:
    event = load_event("two-ecr-sources.json")
    aws.seed(event)

    result = packaged.invoke(event)

    assert result.succeeded, packaged.log
    assert result.body == {"jobId": event["CodePipeline.job"]["id"], "report": "reported"}
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v1.4.2"},
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:v2.0.1"},
    ]
    (report,) = aws.double.reports
    assert report.succeeded
    assert '"correlation_id":"1c5b7d4f-6e3a-4f9b-8c2d-8e7f6a5b4c32"' in packaged.log


def test_a_failure_job_under_the_runtime_client(aws: LocalAws, packaged: PackagedFunction) -> None:
    event = load_event("bad-user-parameters.json")
    aws.seed(event)

    result = packaged.invoke(event)

    assert result.succeeded, packaged.log  # a reported failure is a normal return, so Lambda does not retry
    (report,) = aws.double.reports
    assert report.request["failureDetails"]["type"] == "ConfigurationError"
    assert '"pinned"' in report.request["failureDetails"]["message"]


def test_nothing_from_this_machine_is_on_the_functions_path(aws: LocalAws, packaged: PackagedFunction) -> None:
    # The interpreter runs with -S and a PYTHONPATH of the package and the runtime's libraries only.
    probe = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) for m in ('moto', 'pytest')))"
    completed = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-S", "-c", probe], env=packaged.process_environment(), capture_output=True
    )
    assert completed.returncode == 0, completed.stderr


def test_the_package_holds_the_powertools_the_tests_ran_with() -> None:
    code_dir, _, _ = function_configuration()
    assert [path.name for path in code_dir.glob("aws_lambda_powertools-*.dist-info")] == [
        f"aws_lambda_powertools-{VERSION}.dist-info"
    ]


def test_a_job_with_no_input_artifact_under_the_runtime_client(aws: LocalAws, packaged: PackagedFunction) -> None:
    # Given the sample job of a pipeline whose ECRBuildAndPublish action handed on its image as variables only
    event = load_event("build-and-publish.json")
    aws.seed(event)

    # When the packaged function runs it
    result = packaged.invoke(event)

    # Then it writes the ECS deploy's file from UserParameters alone, in the job's account and the function's region
    assert result.succeeded, packaged.log
    digest = "sha256:8c5b3e9f1a2d4c6b7e0f9a8d1c2b3e4f5a6d7c8b9e0f1a2d3c4b5a6e7f8d9c0b"
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web@{digest}"}
    ]
    (report,) = aws.double.reports
    assert report.succeeded
