"""The example pipelines find the function through the exports of the stack `sam deploy` creates, and wire
each action to the files the function writes."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest

from imagedefs.config import Settings, parse_user_parameters
from imagedefs.formats.codedeploy import APPSPEC_FILE, TASKDEF_FILE
from tests.templates import ROOT, load_template


def imported_exports(node: object) -> list[str]:
    """The export names the template imports, each as a Sub pattern."""
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            return [node["Fn::ImportValue"]["Fn::Sub"]]
        return [name for value in node.values() for name in imported_exports(value)]
    if isinstance(node, list):
        return [name for value in node for name in imported_exports(value)]
    return []


def actions(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    stages = pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]
    return {action["ActionTypeId"]["Provider"]: action for stage in stages for action in stage["Actions"]}


@pytest.mark.parametrize("example", ["pipeline.yaml", "blue-green-pipeline.yaml", "build-and-publish-pipeline.yaml"])
def test_the_pipeline_imports_the_function_stacks_exports_by_the_deployed_stack_name(example: str) -> None:
    pipeline = load_template(ROOT / "examples" / example)
    function_stack = load_template(ROOT / "template.yaml")
    stack_name = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["global"]["parameters"]["stack_name"]

    exported = {output["Export"]["Name"]["Fn::Sub"] for output in function_stack["Outputs"].values()}
    imported = imported_exports(pipeline["Resources"])

    assert pipeline["Parameters"]["ImageDefinitionsStack"]["Default"] == stack_name
    assert {name.replace("${ImageDefinitionsStack}", "${AWS::StackName}") for name in imported} <= exported
    # The alias, which a rollback moves back, never $LATEST
    assert "${ImageDefinitionsStack}-FunctionAliasName" in imported
    assert "${ImageDefinitionsStack}-FunctionAliasArn" in imported
    assert "${ImageDefinitionsStack}-FunctionName" not in imported


@pytest.mark.parametrize("example", ["pipeline.yaml", "blue-green-pipeline.yaml", "build-and-publish-pipeline.yaml"])
def test_the_pipeline_role_may_invoke_the_alias_the_invoke_action_names(example: str) -> None:
    # Lambda authorizes the ARN as invoked: a grant on the unqualified ARN does not cover <function>:live
    pipeline = load_template(ROOT / "examples" / example)
    invoke = actions(pipeline)["Lambda"]
    statements = pipeline["Resources"]["PipelineRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (granted,) = [statement for statement in statements if statement["Action"] == "lambda:InvokeFunction"]

    assert invoke["Configuration"]["FunctionName"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ImageDefinitionsStack}-FunctionAliasName"}
    }
    assert granted["Resource"] == {"Fn::ImportValue": {"Fn::Sub": "${ImageDefinitionsStack}-FunctionAliasArn"}}


def test_the_blue_green_deploy_reads_the_files_the_invoke_action_writes() -> None:
    pipeline = load_template(ROOT / "examples" / "blue-green-pipeline.yaml")
    by_provider = actions(pipeline)
    invoke, deploy = by_provider["Lambda"], by_provider["CodeDeployToECS"]
    parameters = invoke["Configuration"]["UserParameters"]["Fn::Sub"]
    resources = pipeline["Resources"]

    (output,) = invoke["OutputArtifacts"]
    assert json.loads(parameters.replace("${ClusterName}/${ServiceName}", "shop/web"))["format"] == "codedeploy"
    configuration = deploy["Configuration"]
    assert (configuration["TaskDefinitionTemplateArtifact"], configuration["TaskDefinitionTemplatePath"]) == (
        output["Name"],
        TASKDEF_FILE,
    )
    assert (configuration["AppSpecTemplateArtifact"], configuration["AppSpecTemplatePath"]) == (
        output["Name"],
        APPSPEC_FILE,
    )
    assert resources["Service"]["Properties"]["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert {"BlueTargetGroup", "GreenTargetGroup"} <= set(resources)
    assert resources["DeploymentGroup"]["Properties"]["DeploymentStyle"]["DeploymentType"] == "BLUE_GREEN"


def test_the_blue_green_invoke_action_labels_the_source_image_and_runs_a_hook_codedeploy_may_invoke() -> None:
    # Given the example's Invoke action, its UserParameters as typed (with the stack's names substituted)
    pipeline = load_template(ROOT / "examples" / "blue-green-pipeline.yaml")
    by_provider = actions(pipeline)
    resources = pipeline["Resources"]
    hook_function = resources["SmokeTestFunction"]["Properties"]["FunctionName"]["Fn::Sub"]
    typed = (
        by_provider["Lambda"]["Configuration"]["UserParameters"]["Fn::Sub"]
        .replace("${ClusterName}/${ServiceName}", "shop/web")
        .replace("${SmokeTestFunction}", hook_function.replace("${ServiceName}", "web"))
    )
    assert len(typed) <= 1000  # CodePipeline's limit on the typed field

    # When CodePipeline resolves the source action's variable and the function reads the parameters
    digest = "sha256:" + "c" * 64
    config = parse_user_parameters(typed.replace("#{SourceVariables.ImageDigest}", digest), Settings())

    # Then the variable comes from the ECR source action's namespace, the label and the variable hold the digest,
    # and the hook is the stack's function, named so that CodeDeploy's managed ECS policies may invoke it
    assert by_provider["ECR"]["Namespace"] == "SourceVariables"
    assert config.overrides is not None
    web = config.overrides.containers["web"]
    assert (dict(web.docker_labels), dict(web.environment)) == (
        {"source-image-digest": digest},
        {"IMAGE_DIGEST": digest},
    )
    assert config.hooks == {"AfterAllowTestTraffic": "CodeDeployHook_web_smoke_test"}
    assert hook_function.startswith("CodeDeployHook_")
    assert resources["DeploymentGroup"]["Properties"]["LoadBalancerInfo"]["TargetGroupPairInfoList"][0][
        "TestTrafficRoute"
    ] == {"ListenerArns": [{"Ref": "TestListener"}]}


def test_the_rolling_pipeline_checks_the_containers_against_the_service_it_deploys() -> None:
    # Given the example's Invoke and ECS deploy actions, with its parameters filled in
    pipeline = load_template(ROOT / "examples" / "pipeline.yaml")
    by_provider = actions(pipeline)
    invoke, deploy = by_provider["Lambda"], by_provider["ECS"]
    names = {"${ClusterName}": "shop", "${ServiceName}": "web"}
    text = invoke["Configuration"]["UserParameters"]["Fn::Sub"]
    for placeholder, value in names.items():
        text = text.replace(placeholder, value)

    # Then the function takes its UserParameters: images for the ECS deploy, checked against the deployed service
    config = parse_user_parameters(text, Settings())
    assert (config.output_format, str(config.service)) == ("imagedefinitions", "shop/web")
    assert deploy["Configuration"]["ClusterName"] == {"Ref": "ClusterName"}
    assert deploy["Configuration"]["ServiceName"] == {"Ref": "ServiceName"}
    # And its ServiceArn output is what the function's EcsServiceArns parameter takes
    arn = pipeline["Outputs"]["ServiceArn"]["Value"]["Fn::Sub"]
    for placeholder, value in {
        **names,
        "${AWS::Partition}": "aws",
        "${AWS::Region}": "eu-west-1",
        "${AWS::AccountId}": "123456789012",
    }.items():
        arn = arn.replace(placeholder, value)
    assert arn == "arn:aws:ecs:eu-west-1:123456789012:service/shop/web"
    assert re.fullmatch(load_template(ROOT / "template.yaml")["Parameters"]["EcsServiceArns"]["AllowedPattern"], arn)
