"""Pipelines that deploy into another account: the job's "role" reads that account's ECS service and ECR images
(moto's STS maps the assumed role's credentials to account 222222222222); a denied AssumeRole comes from a double
that answers as STS does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.utils import utcnow
from moto.sts.models import sts_backends

from devtools.ecr_double import Answer, EcrDouble, EcrDoubleServer
from devtools.ecr_double import error as ecr_error
from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import REGION, LocalAws, load_event
from devtools.sts_double import IssuedCredentials, StsDouble, StsDoubleServer, StsError
from imagedefs.aws.sts import SESSION_SECONDS
from tests.integration.conftest import Invoke
from tests.integration.test_ecr_gate import pushed
from tests.integration.test_secrets import everything_at_debug
from tests.samples import DIGEST_A, DIGEST_B, REGISTRY, image_detail, input_location, with_user_parameters
from tests.secret_forms import leaked_forms, secret_access_key, session_token

TARGET = "222222222222"
ROLE = f"arn:aws:iam::{TARGET}:role/image-definitions-reader"
TARGET_SERVICE = f"arn:aws:ecs:{REGION}:{TARGET}:service/prod/shop"
TARGET_REGISTRY = f"{TARGET}.dkr.ecr.{REGION}.amazonaws.com"
FUNCTION_ROLE = "arn:aws:iam::123456789012:role/image-definitions-ImageDefinitionsFunctionRole-EXAMPLE"


@pytest.fixture
def target(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """Account 222222222222 (its clients), and a function that may assume its role and read its service."""
    monkeypatch.setenv("IMAGEDEFS_ASSUMABLE_ROLES", ROLE)
    monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", f"arn:aws:ecs:{REGION}:{TARGET}:service/prod/*")
    monkeypatch.setenv("IMAGEDEFS_FUNCTION_ROLE_ARN", FUNCTION_ROLE)
    return aws.in_account_of(f"arn:aws:iam::{TARGET}:role/test-seeding")


def blue_green_job(aws: LocalAws, **changes: Any) -> dict[str, Any]:
    parameters = {
        "format": "codedeploy",
        "service": "prod/shop",
        "containers": {"WebImage": "web", "ApiImage": "api"},
        "role": ROLE,
        **changes,
    }
    event = with_user_parameters(load_event("blue-green.json"), parameters)
    aws.seed(event)
    return event


def sessions_of_the_function() -> list[Any]:
    """The sessions moto's STS issued for the role the function assumes (the test's own seeding left out)."""
    return [role for role in sts_backends[TARGET]["aws"].assumed_roles if role.role_arn == ROLE]


def test_a_blue_green_job_renders_the_service_of_the_roles_account(
    aws: LocalAws, invoke: Invoke, target: LocalAws
) -> None:
    # Given the service in account 222222222222 only (the pipeline's account has none)
    target.seed_service()
    event = blue_green_job(aws)

    # When the job runs
    result = invoke(event)

    # Then taskdef.json is the target account's task definition, and the role was assumed once, for this job, for
    # STS's shortest session
    assert result.report.succeeded, result.report.request
    taskdef = json.loads(aws.output_files(event)["taskdef.json"])
    assert taskdef["family"] == "shop"
    assert [container["image"] for container in taskdef["containerDefinitions"]][:2] == [
        f"{REGISTRY}/shop/web:v1.4.2",
        f"{REGISTRY}/shop/api:v2.0.1",
    ]
    job_id = event["CodePipeline.job"]["id"]
    [session] = sessions_of_the_function()
    assert session.session_name == f"imagedefs-{job_id}"
    # moto keeps the session's end (issued + DurationSeconds): the job took far less than a minute
    assert SESSION_SECONDS - 60 < (session.expiration - utcnow()).total_seconds() <= SESSION_SECONDS
    assert not aws.ecs.list_clusters()["clusterArns"]  # nothing was read from, or created in, the pipeline's account


def test_the_gate_reads_images_of_the_roles_account_through_it_and_others_with_the_functions_role(
    aws: LocalAws, invoke: Invoke, target: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an image in the pipeline's account (a central registry) and one in account 222222222222, each pushed
    # only there
    repositories = f"arn:aws:ecr:{REGION}:123456789012:repository/*,arn:aws:ecr:*:{TARGET}:repository/*"
    monkeypatch.setenv("IMAGEDEFS_ECR_REPOSITORIES", repositories)
    pushed(aws, DIGEST_A, "v1")
    pushed(target, DIGEST_B, "v2", repository="shop/api")
    parameters = {"verify": True, "role": ROLE, "images": {"api": f"{TARGET_REGISTRY}/shop/api:v2"}}
    event = with_user_parameters(load_event("single-ecr-source.json"), parameters)
    bucket, key = input_location(event)
    aws.seed(event, {f"{bucket}/{key}": {"imageDetail.json": image_detail(digest=DIGEST_A, tags=["v1"])}})

    # When the job runs
    result = invoke(event)

    # Then both were found, each in its own account, and the target image's digest is a variable
    assert result.report.succeeded, result.report.request
    summary = result.report.request["executionDetails"]["summary"]
    assert f"web → {REGISTRY}/shop/web:v1 (found in ECR)" in summary
    assert f"api → {TARGET_REGISTRY}/shop/api:v2 (found in ECR)" in summary
    assert result.report.request["outputVariables"]["api_digest"] == DIGEST_B
    assert len(sessions_of_the_function()) == 1


def test_a_role_the_stack_does_not_list_fails_the_job_naming_the_parameter(
    aws: LocalAws, invoke: Invoke, target: LocalAws
) -> None:
    other = f"arn:aws:iam::{TARGET}:role/deployer"

    result = invoke(blue_green_job(aws, role=other))

    assert result.failure["type"] == "ConfigurationError"
    assert result.failure["message"].startswith(
        f'UserParameters "role" is "{other}", which the AssumableRoleArns parameter of the function\'s stack '
        "(environment variable IMAGEDEFS_ASSUMABLE_ROLES) does not list"
    )
    assert sessions_of_the_function() == []


def test_a_service_of_a_third_account_fails_the_job_naming_both_accounts(
    aws: LocalAws, invoke: Invoke, target: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    third = f"arn:aws:ecs:{REGION}:333333333333:service/prod/shop"
    monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", f"{TARGET_SERVICE},{third}")

    result = invoke(blue_green_job(aws, service=third))

    assert result.failure["type"] == "ConfigurationError"
    assert "is in account 333333333333" in result.failure["message"]
    assert f"is a role of account {TARGET} ({ROLE})" in result.failure["message"]
    assert sessions_of_the_function() == []


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[StsDouble]:
    """STS answered by the double (validating each request against botocore's model)."""
    with StsDoubleServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
        yield server.double
        assert not server.double.rejected, server.double.rejected


def test_assume_role_denied_names_the_functions_role_arn_to_trust(
    aws: LocalAws, invoke: Invoke, target: LocalAws, sts: StsDouble
) -> None:
    # Given a target role whose trust policy does not trust the function's role: STS answers AccessDenied
    target.seed_service()
    sts.error = StsError(
        "AccessDenied",
        403,
        f"User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: sts:AssumeRole on {ROLE}",
    )
    event = blue_green_job(aws)

    result = invoke(event)

    # Then the job is a ConfigurationError saying which ARN to trust, in which account, and how
    assert result.failure["type"] == "ConfigurationError"
    message = result.failure["message"]
    assert message.startswith(f'Access denied assuming role {ROLE} (UserParameters "role"): AccessDenied. ')
    assert f"The role's trust policy in account {TARGET} does not trust the function's role {FUNCTION_ROLE}" in message
    assert f"deploy examples/target-account-role.yaml with FunctionRoleArn={FUNCTION_ROLE}" in message
    # And the request was STS's AssumeRole, as the model has it, with the job's session name and 900 s
    job_id = event["CodePipeline.job"]["id"]
    assert sts.requests == [
        {"RoleArn": ROLE, "RoleSessionName": f"imagedefs-{job_id}", "DurationSeconds": SESSION_SECONDS}
    ]


@pytest.mark.parametrize(
    "error",
    [StsError("Throttling", 400, "Rate exceeded"), StsError("ExpiredToken", 400, "The security token expired")],
    ids=["throttled", "the function's token expired"],
)
def test_a_throttled_or_expired_assume_role_is_system_unavailable(
    aws: LocalAws, invoke: Invoke, target: LocalAws, sts: StsDouble, error: StsError
) -> None:
    sts.error = error

    result = invoke(blue_green_job(aws))

    assert result.failure["type"] == "SystemUnavailable"
    assert f"assuming role {ROLE}" in result.failure["message"]
    assert result.failure["message"].endswith("Retry the action.")


def test_the_roles_credentials_are_printed_nowhere_and_a_denial_names_the_action_and_resource(
    aws: LocalAws,
    invoke: Invoke,
    target: LocalAws,
    sts: StsDouble,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Given STS issuing the role's credentials, and ECS refusing the role with a message that quotes them, with
    # botocore and the function logging at DEBUG
    secret, token = secret_access_key(), session_token()
    sts.credentials = IssuedCredentials("ASIAEXAMPLEROLEKEY01", secret, token)
    refusal = Fault(status=400, code="AccessDeniedException", json_error=True, message=f"denied {token} {secret}")
    with FaultyS3(refusal) as ecs, everything_at_debug():
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
        result = invoke(blue_green_job(aws))
        answers = b"".join(ecs.answers).decode()
        signed_with = list(ecs.access_keys)
    printed = result.log + "".join(capfd.readouterr())

    # Then ECS was called with the role's credentials (botocore dumped the signed request) and quoted them back
    assert signed_with == ["ASIAEXAMPLEROLEKEY01"]
    assert "X-Amz-Security-Token" in printed
    assert leaked_forms(answers, token)
    # And the failure names the role, the action and the resource its policy must allow
    assert result.failure["type"] == "ConfigurationError"
    message = result.failure["message"]
    assert message.startswith(
        f'Access denied describing ECS service "prod/shop" through role {ROLE} (UserParameters "role", account '
        f"{TARGET}): AccessDeniedException. The role may not call ecs:DescribeServices on {TARGET_SERVICE}"
    )
    # And neither the secret key nor the session token is in any form in the report or anything printed
    for secret_part in (secret, token):
        assert leaked_forms(message + printed, secret_part) == []


WEB_IMAGE = f"{REGISTRY}/shop/web@sha256:2a1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"
API_IMAGE = f"{REGISTRY}/shop/api@sha256:3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
PULL_STATEMENT = {
    "Sid": f"AllowPullFromAccount{TARGET}",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{TARGET}:root"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


def central_registry(aws: LocalAws, monkeypatch: pytest.MonkeyPatch, **statements: dict[str, Any] | None) -> None:
    """The blue/green job's two images pushed to the pipeline's account, each repository with the policy statement
    given (None: no policy), and the function allowed to read them."""
    monkeypatch.setenv("IMAGEDEFS_ECR_REPOSITORIES", f"arn:aws:ecr:{REGION}:123456789012:repository/shop/*")
    for uri, tag in ((WEB_IMAGE, "v1.4.2"), (API_IMAGE, "v2.0.1")):
        repository = uri.split("/", 1)[1].split("@")[0]
        pushed(aws, uri.split("@")[1], tag, repository=repository)
        statement = statements[repository.replace("shop/", "")]
        if statement is not None:
            policy = {"Version": "2012-10-17", "Statement": [statement]}
            aws.ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(policy))


def test_a_service_account_that_may_not_pull_an_image_fails_the_job_naming_the_statement_to_add(
    aws: LocalAws, invoke: Invoke, target: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the service in account 222222222222, and images in the pipeline's account: shop/web's policy lets that
    # account pull, shop/api has no policy
    target.seed_service()
    central_registry(aws, monkeypatch, web=PULL_STATEMENT, api=None)
    event = blue_green_job(aws, verify=True)

    # When the job runs
    result = invoke(event)

    # Then it fails before writing, naming the image, the repository, the account and the statement to add
    assert result.failure["type"] == "JobFailed"
    message = result.failure["message"]
    assert message.startswith(
        f'Image {REGISTRY}/shop/api:v2.0.1 for container "api": ECS service {TARGET_SERVICE} (UserParameters '
        f'"service") is in account {TARGET}, and ECR repository "shop/api" (registry 123456789012, {REGION}) does '
        "not let that account pull the image: the repository has no repository policy, so no other account may pull "
        "from it."
    )
    assert json.loads(message[message.index("{") :]) == PULL_STATEMENT
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


def test_the_summary_says_which_pulls_were_checked_and_why_not(
    aws: LocalAws, invoke: Invoke, target: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given shop/web's policy granting the pull, and shop/api's granting it only within an organisation
    target.seed_service()
    in_organisation = {**PULL_STATEMENT, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-example"}}}
    central_registry(aws, monkeypatch, web=PULL_STATEMENT, api={**in_organisation, "Sid": "Org"})

    result = invoke(blue_green_job(aws, verify=True))

    assert result.report.succeeded, result.report.request
    summary = result.report.request["executionDetails"]["summary"]
    assert f"found in ECR, account {TARGET} may pull it" in summary
    assert (
        'found in ECR, pull permission not checked (the repository policy\'s statement "Org" may grant the pull (it '
        "has a Condition))"
    ) in summary


@pytest.fixture
def ecr_double(monkeypatch: pytest.MonkeyPatch) -> Iterator[EcrDouble]:
    """ECR answered by the double (the job's two images found by their tags), the rest by moto."""
    digests = {uri.split("/", 1)[1].split("@")[0]: uri.split("@")[1] for uri in (WEB_IMAGE, API_IMAGE)}
    with EcrDoubleServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", server.url)
        monkeypatch.setenv("IMAGEDEFS_ECR_REPOSITORIES", f"arn:aws:ecr:{REGION}:123456789012:repository/shop/*")
        server.double.scripts["DescribeImages"] = lambda request: Answer(
            {
                "imageDetails": [
                    {
                        "repositoryName": request["repositoryName"],
                        "imageDigest": digests[request["repositoryName"]],
                        "imageTags": [request["imageIds"][0]["imageTag"]],
                    }
                ]
            }
        )
        yield server.double
        assert not server.double.rejected, server.double.rejected


def test_a_policy_the_function_may_not_read_leaves_the_pull_unchecked(
    aws: LocalAws, invoke: Invoke, target: LocalAws, ecr_double: EcrDouble
) -> None:
    # Given a function's role that may not read the repository policies (a stack deployed before it was granted)
    target.seed_service()
    ecr_double.scripts["GetRepositoryPolicy"] = lambda _: ecr_error("AccessDeniedException", 400)

    result = invoke(blue_green_job(aws, verify=True))

    # Then the job succeeds, and the summary says the pull was not checked, why, and how to have it checked
    assert result.report.succeeded, result.report.request
    assert (
        "found in ECR, pull permission not checked (the function's role may not read the repository's policy, "
        "AccessDeniedException: it gets ecr:GetRepositoryPolicy on the repositories the EcrRepositoryArns parameter"
    ) in result.report.request["executionDetails"]["summary"]
    # And each repository's policy was asked for once, of its registry
    asked = [request for operation, request in ecr_double.requests if operation == "GetRepositoryPolicy"]
    assert asked == [
        {"registryId": "123456789012", "repositoryName": "shop/web"},
        {"registryId": "123456789012", "repositoryName": "shop/api"},
    ]


@pytest.mark.parametrize(
    "answer",
    [Answer({"policyText": 7}, odd=True), Answer([1], odd=True), ecr_error("ServerException", 500)],
    ids=["a policy that is a number", "a JSON list", "ECR failing"],
)
def test_an_odd_or_failing_policy_answer_is_system_unavailable(
    aws: LocalAws, invoke: Invoke, target: LocalAws, ecr_double: EcrDouble, answer: Answer
) -> None:
    target.seed_service()
    ecr_double.scripts["GetRepositoryPolicy"] = lambda _: answer

    failure = invoke(blue_green_job(aws, verify=True)).failure

    assert failure["type"] == "SystemUnavailable"
    assert 'the repository policy of ECR repository "shop/web" (registry 123456789012' in failure["message"]
