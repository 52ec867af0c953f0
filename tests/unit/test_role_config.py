"""UserParameters "role": a role of another account that the stack lets the function assume, reading only there."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from imagedefs.config import Settings, TargetRole, parse_user_parameters
from imagedefs.errors import ConfigurationError

ROLE = "arn:aws:iam::222222222222:role/image-definitions-reader"
SERVICE_ARN = "arn:aws:ecs:us-west-2:222222222222:service/prod/shop"
ROLES_PARAMETER = "AssumableRoleArns parameter of the function's stack (environment variable IMAGEDEFS_ASSUMABLE_ROLES)"
SERVICES_PARAMETER = "EcsServiceArns parameter of the function's stack (environment variable IMAGEDEFS_ECS_SERVICES)"


def settings(roles: str = ROLE, services: str = SERVICE_ARN, region: str = "us-west-2") -> Settings:
    return Settings.from_environment(
        {"IMAGEDEFS_ASSUMABLE_ROLES": roles, "IMAGEDEFS_ECS_SERVICES": services, "AWS_REGION": region}
    )


def parameters(**changes: Any) -> str:
    return json.dumps({"format": "codedeploy", "service": "prod/shop", "role": ROLE, **changes})


def test_a_listed_role_is_read_with_its_account_and_partition() -> None:
    config = parse_user_parameters(parameters(), settings())
    assert config.role == TargetRole(arn=ROLE, partition="aws", account="222222222222")


@pytest.mark.parametrize(
    "listed",
    [ROLE, f"arn:aws:iam::111111111111:role/other,{ROLE}", "arn:aws:iam::222222222222:role/image-definitions-*"],
    ids=["exactly", "among others", "by a wildcard"],
)
def test_a_role_may_be_listed_exactly_or_by_a_wildcard(listed: str) -> None:
    assert parse_user_parameters(parameters(), settings(roles=listed)).role is not None


@pytest.mark.parametrize(
    "role",
    [
        "arn:aws:iam::222222222222:role/paths/may/be/deep/reader",
        "arn:aws-us-gov:iam::222222222222:role/reader",
        "arn:aws-cn:iam::222222222222:role/a+b=c,d.e@f_g-h",
    ],
)
def test_role_arns_of_every_partition_and_iams_name_grammar_are_read(role: str) -> None:
    region = {"aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}.get(role.split(":")[1], "us-west-2")
    service = f"arn:{role.split(':')[1]}:ecs:{region}:222222222222:service/prod/shop"
    # A name with a comma can be listed only by a wildcard: the parameter is comma-separated
    listed = "arn:aws*:iam::222222222222:role/*"
    config = parse_user_parameters(parameters(role=role), settings(roles=listed, services=service, region=region))
    assert config.role is not None and config.role.arn == role


@pytest.mark.parametrize(
    "role",
    [
        "image-definitions-reader",
        "arn:aws:iam::222222222222:user/someone",
        "arn:aws:iam::22222222222:role/reader",
        "arn:aws:sts::222222222222:assumed-role/reader/session",
        "arn:aws-iso:iam::222222222222:role/reader",
        "arn:aws:iam::222222222222:role/",
        "arn:aws:iam::222222222222:role/" + "n" * 65,
        "arn:aws:iam::222222222222:role/reader*",
        " arn:aws:iam::222222222222:role/reader",
    ],
)
def test_a_role_that_is_no_iam_role_arn_is_refused_with_the_grammar(role: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(parameters(role=role), settings(roles="arn:aws*:iam::*"))
    assert str(raised.value).startswith('UserParameters "role" is ')
    assert "arn:aws:iam::<account>:role/<name>" in str(raised.value)
    assert "examples/target-account-role.yaml" in str(raised.value)


@pytest.mark.parametrize("role", [42, ["arn"], {"arn": ROLE}, True])
def test_a_role_that_is_no_string_is_refused(role: object) -> None:
    with pytest.raises(ConfigurationError, match=r'^UserParameters "role" must be a string \(an IAM role ARN\)'):
        parse_user_parameters(parameters(role=role), settings())


def test_a_role_the_stack_does_not_list_is_refused_naming_the_parameter() -> None:
    other = "arn:aws:iam::222222222222:role/deployer"
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(parameters(role=other), settings())
    assert str(raised.value) == (
        f'UserParameters "role" is "{other}", which the {ROLES_PARAMETER} does not list, so the function may not '
        "assume it. Add the role's ARN (or a wildcard such as arn:aws:iam::<account>:role/image-definitions-*) there "
        "and deploy the function's stack again, or name a listed role."
    )


def test_a_role_when_the_stack_lists_none_says_the_parameter_is_empty() -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"may assume no role: the {ROLES_PARAMETER} is empty")):
        parse_user_parameters(parameters(), settings(roles=""))


def test_a_role_of_another_partition_than_the_functions_is_refused() -> None:
    role = "arn:aws-cn:iam::222222222222:role/reader"
    with pytest.raises(ConfigurationError, match=r"partition aws-cn, but the function runs in us-west-2"):
        parse_user_parameters(parameters(role=role), settings(roles=role))


def test_a_service_of_another_account_than_the_roles_names_both_accounts() -> None:
    third = "arn:aws:ecs:us-west-2:333333333333:service/prod/shop"
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(parameters(service=third), settings(services=f"{SERVICE_ARN},{third}"))
    assert str(raised.value) == (
        f'UserParameters "service" is in account 333333333333 ({third}), but UserParameters "role" is a role of '
        f"account 222222222222 ({ROLE}): the role reads its own account only. Name the service of account "
        "222222222222, or a role of account 333333333333."
    )


@pytest.mark.parametrize("service", ["prod/shop", SERVICE_ARN])
def test_a_service_read_through_a_role_must_still_be_listed_in_ecs_service_arns(service: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(
            parameters(service=service), settings(services="arn:aws:ecs:us-west-2:123456789012:service/prod/shop")
        )
    assert str(raised.value).startswith(
        f'ECS service {SERVICE_ARN} (UserParameters "service", read through UserParameters "role") is not listed in '
        f"the {SERVICES_PARAMETER}"
    )


def test_a_service_read_through_a_role_may_be_listed_by_a_wildcard() -> None:
    listed = "arn:aws:ecs:us-west-2:222222222222:service/prod/*"
    assert parse_user_parameters(parameters(), settings(services=listed)).role is not None


def test_a_role_that_would_read_nothing_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_user_parameters(json.dumps({"role": ROLE}), settings())
    assert "this action reads nothing in another account" in str(raised.value)
    assert "Artifacts are always read and written with the job's artifact credentials" in str(raised.value)


def test_a_role_for_the_ecr_gate_alone_is_read() -> None:
    config = parse_user_parameters(json.dumps({"role": ROLE, "verify": True}), settings())
    assert config.role is not None and config.service is None
