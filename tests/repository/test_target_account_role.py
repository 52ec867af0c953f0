"""examples/target-account-role.yaml: the role a target account deploys trusts exactly the function's role, and
may only read what the function reads through it."""

from __future__ import annotations

from typing import Any

from tests.templates import ROOT, load_template

EXAMPLE = ROOT / "examples" / "target-account-role.yaml"
# What the function calls through the role: ECS for the service, ECR for the gate (aws/ecs.py, aws/ecr.py).
ROLE_ACTIONS = {
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings",
}


def statements(role: dict[str, Any]) -> dict[str, Any]:
    """Each action the role allows → its resources (the repositories' policy as it is when some are listed)."""
    allowed: dict[str, Any] = {}
    for policy in role["Properties"]["Policies"]:
        document = policy["Fn::If"][1] if "Fn::If" in policy else policy
        for statement in document["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            listed = statement["Action"]
            for action in [listed] if isinstance(listed, str) else listed:
                allowed[action] = statement["Resource"]
    return allowed


def test_the_role_trusts_exactly_the_functions_role_which_the_function_stack_outputs() -> None:
    template = load_template(EXAMPLE)
    role = template["Resources"]["ReaderRole"]

    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert trust == {"Effect": "Allow", "Principal": {"AWS": {"Ref": "FunctionRoleArn"}}, "Action": "sts:AssumeRole"}
    function_stack = load_template(ROOT / "template.yaml")
    assert function_stack["Outputs"]["FunctionRoleArn"]["Value"] == {
        "Fn::GetAtt": ["ImageDefinitionsFunctionRole", "Arn"]
    }
    assert template["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": ["ReaderRole", "Arn"]}


def test_the_role_may_only_read_the_listed_services_and_repositories() -> None:
    role = load_template(EXAMPLE)["Resources"]["ReaderRole"]

    allowed = statements(role)

    assert set(allowed) == ROLE_ACTIONS
    assert allowed["ecs:DescribeServices"] == {"Ref": "EcsServiceArns"}
    assert allowed["ecs:DescribeTaskDefinition"] == "*"  # it supports no resource-level permissions
    assert allowed["ecr:DescribeImages"] == allowed["ecr:DescribeImageScanFindings"] == {"Ref": "EcrRepositoryArns"}
    assert "ManagedPolicyArns" not in role["Properties"]
