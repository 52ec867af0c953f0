"""`make deploy`, `make deploy-guided` and `make rollback`, with a stand-in for SAM CLI and moto's server as AWS.

The stand-in records each command line it is given, so the tests see what would be built and deployed, in which
order, with which options; no stack is deployed. The credentials check (devtools/deploy_check.py) and the rollback
(devtools/rollback.py) run for real, with .venv-sam's Python, against moto's STS, CloudFormation and Lambda.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.local_aws import LocalAws
from tests.templates import ROOT

MOTO_ACCOUNT = "123456789012"  # the account moto answers GetCallerIdentity with
# Make the stand-in and never install a virtual environment (they exist when the tests run).
# Nothing installed, and the real build left alone: a stand-in `sam` must never make a stale build look fresh
# (`make build` runs sam only when the build is older than its inputs: tests/repository/test_makefile.py).
NO_INSTALL = ["-o", ".venv-sam/.installed", "-o", ".venv/bin/.installed", "-o", ".aws-sam/build/template.yaml"]


@dataclass
class MakeRun:
    returncode: int
    stdout: str
    stderr: str
    sam_calls: list[list[str]]


@pytest.fixture
def fake_sam(tmp_path: Path) -> Path:
    """A `sam` that records its arguments, one JSON list a line, in sam-calls.jsonl beside it."""
    sam = tmp_path / "sam"
    sam.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "with open(pathlib.Path(__file__).with_name('sam-calls.jsonl'), 'a') as calls:\n"
        "    calls.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    sam.chmod(0o755)
    return sam


def clean_environment(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any AWS setting or credentials, nor make variables of an outer make."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in {"REGION", "STACK", "PARAMS", "TAGS", "MAKEFLAGS", "MAKELEVEL"}
    }
    return environment | {
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookup, which would try the network
    }


def run_make(
    target: str, fake_sam: Path, environment: dict[str, str], *variables: str, timeout: float = 120
) -> MakeRun:
    completed = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", *NO_INSTALL, target, f"SAM={fake_sam}", *variables],  # noqa: S607
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    calls_file = fake_sam.with_name("sam-calls.jsonl")
    calls = [json.loads(line) for line in calls_file.read_text().splitlines()] if calls_file.exists() else []
    return MakeRun(completed.returncode, completed.stdout, completed.stderr, calls)


def with_moto(environment: dict[str, str], aws: LocalAws) -> dict[str, str]:
    return environment | {
        "AWS_ENDPOINT_URL": aws.s3_url,  # moto's server answers every service
        "AWS_ACCESS_KEY_ID": "deployer",
        "AWS_SECRET_ACCESS_KEY": "deployerSecretAccessKey0123456789abcdefgh",
    }


def test_deploy_without_credentials_fails_before_building(tmp_path: Path, fake_sam: Path) -> None:
    result = run_make("deploy", fake_sam, clean_environment(tmp_path), "REGION=eu-west-1")

    assert result.returncode != 0
    assert "make deploy: no AWS credentials found: sign in first" in result.stderr
    assert "Nothing was built or deployed." in result.stderr
    assert result.sam_calls == []  # no sam validate, no sam build, no sam deploy


def test_deploy_without_a_region_names_the_region_variable(tmp_path: Path, fake_sam: Path) -> None:
    # Before the credentials: the region is asked for first, in make's words, not SAM's --region
    result = run_make("deploy", fake_sam, clean_environment(tmp_path))

    assert result.returncode != 0
    assert "make deploy: no AWS region: give the pipeline's region, for example `make deploy REGION=eu-west-1`" in (
        result.stderr
    )
    assert "--region" not in result.stderr
    assert result.sam_calls == []


def test_a_region_that_is_no_region_name_is_refused(tmp_path: Path, fake_sam: Path) -> None:
    result = run_make("deploy", fake_sam, clean_environment(tmp_path), "REGION=Ireland")

    assert result.returncode != 0
    assert "make deploy: REGION=Ireland is not an AWS region name: give one like REGION=eu-west-1" in result.stderr
    assert result.sam_calls == []


@pytest.mark.integration
def test_credentials_that_cannot_be_checked_fail_before_building(tmp_path: Path, fake_sam: Path, aws: LocalAws) -> None:
    environment = with_moto(clean_environment(tmp_path), aws) | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9/"}

    result = run_make("deploy", fake_sam, environment, "REGION=eu-west-1")

    assert result.returncode != 0
    assert "make deploy: could not check the credentials with AWS STS in eu-west-1" in result.stderr
    assert result.sam_calls == []


@pytest.mark.integration
def test_deploy_checks_then_builds_then_deploys_with_the_given_settings_and_no_question(
    tmp_path: Path, fake_sam: Path, aws: LocalAws
) -> None:
    # Quotes and spaces reach SAM as given: an empty value needs its quotes, a tag pattern may hold a space
    params = 'AllowedRegistries=123456789012 DefaultTagPattern="v[0-9]+ rc" EcsServiceArns=""'
    tags = 'team="platform" cost-center=1234'

    result = run_make(
        "deploy",
        fake_sam,
        with_moto(clean_environment(tmp_path), aws),
        "REGION=eu-west-1",
        "STACK=shop-images",
        f"PARAMS={params}",
        f"TAGS={tags}",
    )

    assert result.returncode == 0, result.stderr
    assert f"make deploy: stack shop-images, account {MOTO_ACCOUNT} in eu-west-1" in result.stdout
    assert result.sam_calls == [
        [
            "deploy",
            "--no-confirm-changeset",
            "--region",
            "eu-west-1",
            "--stack-name",
            "shop-images",
            "--parameter-overrides",
            params,
            "--tags",
            tags,
        ],
    ]


@pytest.mark.integration
def test_deploy_with_samconfigs_settings_passes_only_what_was_given(
    tmp_path: Path, fake_sam: Path, aws: LocalAws
) -> None:
    # The region from the AWS configuration; stack name, parameters and tags from samconfig.toml (SAM reads it)
    environment = with_moto(clean_environment(tmp_path), aws) | {"AWS_DEFAULT_REGION": "ap-southeast-2"}

    result = run_make("deploy", fake_sam, environment, "CONFIRM=1")

    assert result.returncode == 0, result.stderr
    assert f"make deploy: stack image-definitions, account {MOTO_ACCOUNT} in ap-southeast-2" in result.stdout
    assert result.sam_calls[-1] == ["deploy", "--confirm-changeset"]


@pytest.mark.integration
def test_the_guided_deploy_checks_credentials_and_leaves_the_region_to_sam(
    tmp_path: Path, fake_sam: Path, aws: LocalAws
) -> None:
    result = run_make("deploy-guided", fake_sam, with_moto(clean_environment(tmp_path), aws))

    assert result.returncode == 0, result.stderr
    assert "in the region you choose next" in result.stdout
    assert result.sam_calls == [["deploy", "--guided"]]


def published_function(region: str, versions: int) -> tuple[Any, str]:
    """A function with the given number of published versions, alias "live" on the last, and its stack."""
    lambda_client = boto3.client("lambda", region_name=region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam", region_name=region).create_role(
        RoleName="function-role", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    name = "image-definitions-ImageDefinitionsFunction-abc123"
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    for number in range(1, versions + 1):
        lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": {"N": str(number)}})
        lambda_client.publish_version(FunctionName=name, Description=f"pin=tag release {number}")
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=str(versions))
    template: dict[str, Any] = {"Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}}}
    template["Outputs"] = {"FunctionName": {"Value": name}}
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName="image-definitions", TemplateBody=json.dumps(template)
    )
    return lambda_client, name


@pytest.mark.integration
@pytest.mark.parametrize(("variables", "expected"), [((), "2"), (("VERSION=1",), "1")], ids=["previous", "VERSION="])
def test_rollback_points_the_alias_at_the_previous_or_the_given_version(
    tmp_path: Path, fake_sam: Path, aws: LocalAws, monkeypatch: pytest.MonkeyPatch, variables: tuple[str], expected: str
) -> None:
    environment = with_moto(clean_environment(tmp_path), aws)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, environment[name])
    lambda_client, function = published_function("eu-west-1", versions=3)

    result = run_make("rollback", fake_sam, environment, "REGION=eu-west-1", *variables)

    assert result.returncode == 0, result.stderr
    assert lambda_client.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == expected
    assert f'alias "live" of {function} moved from version 3 to {expected} (pin=tag release {expected})' in (
        result.stdout
    )
    assert result.sam_calls == []  # nothing built or deployed


@pytest.mark.integration
def test_rollback_to_a_version_that_does_not_exist_names_the_published_ones(
    tmp_path: Path, fake_sam: Path, aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = with_moto(clean_environment(tmp_path), aws)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, environment[name])
    lambda_client, function = published_function("eu-west-1", versions=2)

    result = run_make("rollback", fake_sam, environment, "REGION=eu-west-1", "VERSION=7")

    assert result.returncode != 0
    assert "make rollback: VERSION=7 is not a published version (published: 1, 2)" in result.stderr
    assert lambda_client.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "2"


def test_deploy_builds_first_when_the_build_is_older_than_its_inputs(tmp_path: Path, fake_sam: Path) -> None:
    # Given a build to be made again (make's --always-make), shown as a dry run: nothing runs
    shown = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", "--dry-run", "--always-make", "deploy", f"SAM={fake_sam}"],  # noqa: S607
        cwd=ROOT,
        env=clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout.splitlines()

    # Then the credentials check comes first, then sam validate and sam build, then sam deploy
    sam = str(fake_sam)
    wanted = ["-m devtools.deploy_check deploy", f"{sam} validate", f"{sam} build", f"{sam} deploy"]
    first = [next(number for number, line in enumerate(shown) if step in line) for step in wanted]
    assert first == sorted(first), shown
