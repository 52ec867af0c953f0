"""template.yaml as CloudFormation will see it: least privilege, the fixed entry point, sane async settings, the
on-failure destination and the alarms."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from devtools.bench import MEMORY_SIZES_MB
from imagedefs.config import SEVERITIES

ROOT = Path(__file__).resolve().parents[2]
REPORT_ACTIONS = {"codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
INVOKE_DESTINATION = {"lambda:InvokeFunction"}
CODEPIPELINE_NO_REPLY_TIMEOUT_SECONDS = 20 * 60
# Lambda's delays before the second and the third attempt of a failed asynchronous invocation (about 1 and 2 minutes).
LAMBDA_RETRY_DELAYS_SECONDS = (60, 120)
ALARM_TOPIC = "arn:aws:sns:us-west-2:123456789012:pipeline-alarms"


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def sam_template() -> dict[str, Any]:
    template, problems = decode_str((ROOT / "template.yaml").read_text())
    assert not problems
    decoded: dict[str, Any] = json.loads(json.dumps(template))
    return decoded


def cloudformation(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The template after the SAM transform, as deployed (the code location is irrelevant here)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return dict(transform(template, {}, _NoManagedPolicies()))


def deployed_resources(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The resources CloudFormation creates with these parameter values (those whose Condition holds)."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if "Condition" not in resource
        or resolved(template["Conditions"][resource["Condition"]], template, parameters) is True
    }


def resolved(node: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """The node as CloudFormation deploys it with these parameter values (the intrinsics the role uses)."""
    values = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()} | parameters
    if isinstance(node, list):
        items = [resolved(item, template, parameters) for item in node]
        return [item for item in items if item != {"Ref": "AWS::NoValue"}]
    if not isinstance(node, dict):
        return node
    if "Ref" in node and node["Ref"] in values:
        return values[node["Ref"]]
    if "Fn::If" in node:
        condition, when_true, when_false = node["Fn::If"]
        chosen = when_true if resolved(template["Conditions"][condition], template, parameters) else when_false
        return resolved(chosen, template, parameters)
    if "Fn::Equals" in node:
        left, right = (resolved(item, template, parameters) for item in node["Fn::Equals"])
        return left == right
    if "Fn::Not" in node:
        return not resolved(node["Fn::Not"][0], template, parameters)
    if "Fn::Split" in node:
        separator, text = node["Fn::Split"]
        return resolved(text, template, parameters).split(separator)
    if "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
        return re.sub(r"\$\{(\w+)\}", lambda name: str(values[name[1]]), node["Fn::Sub"])
    # A key whose value is AWS::NoValue is left out, as CloudFormation leaves it out.
    members = {key: resolved(value, template, parameters) for key, value in node.items()}
    return {key: value for key, value in members.items() if value != {"Ref": "AWS::NoValue"}}


def role_statements(
    template: dict[str, Any], parameters: dict[str, str], function_name: str = "ImageDefinitionsFunction"
) -> tuple[dict[str, Any], list[Any]]:
    """Each action the function's role allows → its resources, and the role's managed policies."""
    function = template["Resources"][function_name]
    role_name = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resolved(template["Resources"][role_name]["Properties"], template, parameters)
    allowed: dict[str, Any] = {}
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            listed = statement["Action"]
            for action in [listed] if isinstance(listed, str) else listed:
                allowed[action] = statement["Resource"]
    return allowed, role.get("ManagedPolicyArns", [])


def role_actions(template: dict[str, Any], parameters: dict[str, str] | None = None) -> tuple[set[str], list[Any]]:
    allowed, managed = role_statements(template, parameters or {})
    return set(allowed), managed


def test_the_role_may_only_report_job_results_and_write_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the default (empty) EcsServiceArns: no ECS permission at all; and the record of a failed invocation
    # may be handed to the on-failure destination, which Lambda does with this role
    allowed, managed = role_statements(cloudformation(sam_template(), monkeypatch), {})
    assert set(allowed) == REPORT_ACTIONS | LOG_ACTIONS | INVOKE_DESTINATION
    assert allowed["lambda:InvokeFunction"] == {"Fn::GetAtt": ["OnFailureFunction", "Arn"]}
    assert allowed["logs:PutLogEvents"] == {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}
    assert managed == []


def test_the_destination_may_only_report_failures_and_write_its_own_log(monkeypatch: pytest.MonkeyPatch) -> None:
    template = cloudformation(sam_template(), monkeypatch)

    allowed, managed = role_statements(template, {}, "OnFailureFunction")

    assert set(allowed) == {"codepipeline:PutJobFailureResult"} | LOG_ACTIONS
    assert allowed["logs:PutLogEvents"] == {"Fn::GetAtt": ["OnFailureLogGroup", "Arn"]}
    assert managed == []
    # SAM creates no role of its own (it would grant AWSLambdaBasicExecutionRole, logs on every group)
    roles = {name for name, resource in template["Resources"].items() if resource["Type"] == "AWS::IAM::Role"}
    assert roles == {"ImageDefinitionsFunctionRole", "OnFailureFunctionRole"}


def test_failed_invocations_go_to_the_destination_function(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = cloudformation(sam_template(), monkeypatch)["Resources"]
    configs = {
        resource["Properties"]["FunctionName"]["Ref"]: resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig"
    }

    assert configs["ImageDefinitionsFunction"]["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["OnFailureFunction", "Arn"]}}
    }
    assert configs["OnFailureFunction"].get("DestinationConfig") == {}  # retried, then it raises its Errors alarm
    destination = sam_template()["Resources"]["OnFailureFunction"]
    main = sam_template()["Resources"]["ImageDefinitionsFunction"]
    assert destination["Properties"]["Handler"] == "handlers.on_failure.lambda_handler"
    for key in ("CodeUri", "Runtime", "Architectures"):
        assert destination["Properties"][key] == main["Properties"][key]
    assert destination["Metadata"]["BuildMethod"] == "makefile"
    assert destination["Properties"]["Environment"]["Variables"]["IMAGEDEFS_FUNCTION_LOG_GROUP"] == {
        "Ref": "FunctionLogGroup"
    }


def test_sam_build_has_a_target_for_each_function() -> None:
    functions = [
        name
        for name, resource in sam_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    makefile = (ROOT / "src" / "Makefile").read_text()
    targets = re.search(r"^(build-[^:]+):", makefile, re.MULTILINE)
    assert targets is not None
    assert sorted(targets[1].split()) == sorted(f"build-{name}" for name in functions)
    assert len(functions) == 2


ALARMED_METRICS = {
    ("ImageDefinitions", "ReportsNotDelivered", "service", "image-definitions"),
    ("ImageDefinitions", "UnfinishedJobsReported", "service", "image-definitions"),
    ("AWS/Lambda", "Errors", "FunctionName", "ImageDefinitionsFunction"),
    ("AWS/Lambda", "Throttles", "FunctionName", "ImageDefinitionsFunction"),
    ("AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", "ImageDefinitionsFunction"),
    ("AWS/Lambda", "Errors", "FunctionName", "OnFailureFunction"),
    ("AWS/Lambda", "Throttles", "FunctionName", "OnFailureFunction"),
}


@pytest.mark.parametrize(
    ("topic", "expected"), [("", set()), (ALARM_TOPIC, ALARMED_METRICS)], ids=["no topic", "topic"]
)
def test_alarms_exist_only_with_a_topic_and_notify_it_on_one_occurrence(
    monkeypatch: pytest.MonkeyPatch, topic: str, expected: set[tuple[str, str, str, str]]
) -> None:
    template = cloudformation(sam_template(), monkeypatch)

    resources = deployed_resources(template, {"AlarmTopicArn": topic})

    alarms = [
        resolved(resource["Properties"], template, {"AlarmTopicArn": topic})
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]
    metrics = set()
    for alarm in alarms:
        ((dimension,),) = [alarm["Dimensions"]]
        value = dimension["Value"]["Ref"] if isinstance(dimension["Value"], dict) else dimension["Value"]
        metrics.add((alarm["Namespace"], alarm["MetricName"], dimension["Name"], value))
        assert alarm["AlarmActions"] == [topic]
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Sum",
            1,
            "GreaterThanOrEqualToThreshold",
        )
        assert alarm["TreatMissingData"] == "notBreaching"
    assert metrics == expected
    assert len(alarms) == len(expected)
    # Nothing else depends on the topic: no SNS resource, no permission
    assert not [resource for resource in resources.values() if resource["Type"].startswith("AWS::SNS::")]
    assert set(role_actions(template, {"AlarmTopicArn": topic})[0]) == REPORT_ACTIONS | LOG_ACTIONS | INVOKE_DESTINATION


def test_the_alarm_topic_parameter_accepts_only_an_sns_topic_arn() -> None:
    parameter = sam_template()["Parameters"]["AlarmTopicArn"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert parameter["Default"] == ""
    assert pattern.fullmatch("") and pattern.fullmatch(ALARM_TOPIC)
    for refused in ("pipeline-alarms", "arn:aws:sqs:us-west-2:123456789012:q", f"{ALARM_TOPIC},{ALARM_TOPIC}"):
        assert not pattern.fullmatch(refused)


def test_listed_ecs_services_are_the_only_ones_the_role_may_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    services = (
        "arn:aws:ecs:us-west-2:123456789012:service/prod/shop,arn:aws:ecs:us-west-2:123456789012:service/prod/api"
    )

    allowed, managed = role_statements(cloudformation(sam_template(), monkeypatch), {"EcsServiceArns": services})

    assert set(allowed) == REPORT_ACTIONS | LOG_ACTIONS | INVOKE_DESTINATION | {
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
    }
    assert allowed["ecs:DescribeServices"] == services.split(",")
    assert allowed["ecs:DescribeTaskDefinition"] == "*"  # it supports no resource-level permissions
    assert managed == []


def test_the_ecs_services_parameter_accepts_only_service_arns() -> None:
    parameter = sam_template()["Parameters"]["EcsServiceArns"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert parameter["Default"] == ""
    for accepted in (
        "",
        "arn:aws:ecs:us-west-2:123456789012:service/prod/shop,arn:aws:ecs:eu-west-1:123456789012:service/a/b",
    ):
        assert pattern.fullmatch(accepted)
    for refused in (
        "prod/shop",
        "arn:aws:ecs:us-west-2:123456789012:service/shop",
        "arn:aws:ecs:us-west-2:1:service/a/b, x",
    ):
        assert not pattern.fullmatch(refused)


ECR_REPOSITORIES = "arn:aws:ecr:us-west-2:123456789012:repository/shop/web,arn:aws:ecr:*:123456789012:repository/shop/*"
ECR_ACTIONS = {"ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:GetRepositoryPolicy"}


@pytest.mark.parametrize(
    ("repositories", "expected"),
    [("", set()), (ECR_REPOSITORIES, ECR_ACTIONS)],
    ids=["no repository: no ECR permission", "repositories: exactly those"],
)
def test_listed_ecr_repositories_are_the_only_ones_the_role_may_describe(
    monkeypatch: pytest.MonkeyPatch, repositories: str, expected: set[str]
) -> None:
    allowed, managed = role_statements(cloudformation(sam_template(), monkeypatch), {"EcrRepositoryArns": repositories})

    assert set(allowed) == REPORT_ACTIONS | LOG_ACTIONS | INVOKE_DESTINATION | expected
    for action in expected:
        assert allowed[action] == repositories.split(",")
    assert managed == []


def test_the_ecr_repositories_parameter_accepts_repository_arns_with_wildcards_within_the_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parameter = sam_template()["Parameters"]["EcrRepositoryArns"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert parameter["Default"] == ""
    for accepted in ("", ECR_REPOSITORIES, "arn:aws-cn:ecr:cn-north-1:123456789012:repository/*"):
        assert pattern.fullmatch(accepted)
    for refused in (
        "shop/web",
        "arn:aws:ecr:us-west-2:123456789012:repository",
        "arn:aws:ecr:us-west-2:*:repository/shop",
        f"{ECR_REPOSITORIES}, arn:aws:ecr:us-west-2:123456789012:repository/x",
        "arn:aws:ecs:us-west-2:123456789012:service/prod/shop",
    ):
        assert not pattern.fullmatch(refused)
    # Lambda's 4 KB for the whole environment: the list takes at most half of it
    assert parameter["MaxLength"] <= 2048
    # IAM's 10,240 characters for a role's inline policies (whitespace not counted), with the longest list of the
    # shortest ARNs (the most quotes and commas) the parameter accepts
    shortest = "arn:aws:ecr:*:123456789012:repository/a"
    longest_list = ",".join([shortest] * ((parameter["MaxLength"] + 1) // (len(shortest) + 1)))
    assert pattern.fullmatch(longest_list) and len(longest_list) <= parameter["MaxLength"]
    template = cloudformation(sam_template(), monkeypatch)
    role = resolved(
        template["Resources"]["ImageDefinitionsFunctionRole"]["Properties"],
        template,
        {"EcrRepositoryArns": longest_list},
    )
    policies = [json.dumps(policy["PolicyDocument"], separators=(",", ":")) for policy in role["Policies"]]
    assert parameter["MaxLength"] < sum(map(len, policies)) <= 10_240


def test_the_gate_floors_are_parameters_of_the_stack() -> None:
    template = sam_template()
    variables = template["Resources"]["ImageDefinitionsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["IMAGEDEFS_VERIFY_IMAGES"] == {"Ref": "VerifyImages"}
    assert variables["IMAGEDEFS_FAIL_ON_SEVERITY"] == {"Ref": "FailOnSeverity"}
    assert variables["IMAGEDEFS_ECR_REPOSITORIES"] == {"Ref": "EcrRepositoryArns"}
    assert variables["AWS_ENDPOINT_URL_ECR"] == {"Fn::If": ["DeclareLocalEndpoints", "", {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["VerifyImages"]["Default"] == "false"
    assert template["Parameters"]["FailOnSeverity"]["AllowedValues"] == ["", *SEVERITIES]


def test_without_tracing_there_is_no_xray_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    # The function imports no X-Ray SDK (it costs ~350 ms of cold start); tracing is off, so no X-Ray right.
    template = sam_template()
    assert "Tracing" not in template["Resources"]["ImageDefinitionsFunction"]["Properties"]
    assert "Tracing" not in template.get("Globals", {}).get("Function", {})
    actions, _ = role_actions(cloudformation(template, monkeypatch))
    assert not any(action.startswith("xray:") for action in actions)


def test_the_entry_point_and_runtime_are_the_documented_ones() -> None:
    function = sam_template()["Resources"]["ImageDefinitionsFunction"]
    properties = function["Properties"]
    assert (properties["CodeUri"], properties["Handler"]) == ("src/", "handlers.image_definitions.lambda_handler")
    assert properties["Architectures"] == ["arm64"]
    major, minor = properties["Runtime"].removeprefix("python").split(".")
    assert (int(major), int(minor)) >= (3, 12)
    assert function["Metadata"]["BuildMethod"] == "makefile"


@pytest.mark.parametrize("qualifier", ["live", "$LATEST"])
def test_a_dead_job_is_reported_before_codepipeline_gives_up(monkeypatch: pytest.MonkeyPatch, qualifier: str) -> None:
    template = cloudformation(sam_template(), monkeypatch)
    resources = template["Resources"]
    function = resources["ImageDefinitionsFunction"]["Properties"]
    destination = resources["OnFailureFunction"]["Properties"]
    invoked = event_invoke_configs(template, "ImageDefinitionsFunction")[qualifier]
    (destination_config,) = event_invoke_configs(template, "OnFailureFunction").values()
    assert invoked["MaximumRetryAttempts"] == destination_config["MaximumRetryAttempts"] == 2
    # At the longest timeout the stack parameter allows
    assert function["Timeout"] == {"Ref": "FunctionTimeout"}
    timeout = template["Parameters"]["FunctionTimeout"]["MaxValue"]
    # Every attempt dies at its timeout: three attempts, Lambda's two delays, then the destination reports
    died_every_time = 3 * timeout + sum(LAMBDA_RETRY_DELAYS_SECONDS) + destination["Timeout"]
    assert died_every_time <= 10 * 60
    # Throttled until the maximum age, a last attempt that started just before it, then the destination,
    # itself throttled until its own maximum age; with 10 s to spare for CodePipeline to take the report
    throttled = (
        invoked["MaximumEventAgeInSeconds"]
        + timeout
        + destination_config["MaximumEventAgeInSeconds"]
        + destination["Timeout"]
    )
    assert throttled <= CODEPIPELINE_NO_REPLY_TIMEOUT_SECONDS - 10


def test_the_functions_timeout_is_a_parameter_defaulting_to_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the template and the README's table of stack parameters
    template = sam_template()
    parameter = template["Parameters"]["FunctionTimeout"]
    readme = (ROOT / "README.md").read_text()

    # Then the function's Timeout is the parameter: 60 s by default, from Lambda's minimum of 1 s to 90 s (not
    # Lambda's 900 s: test_a_dead_job_is_reported_before_codepipeline_gives_up holds up to that), stated everywhere
    assert template["Resources"]["ImageDefinitionsFunction"]["Properties"]["Timeout"] == {"Ref": "FunctionTimeout"}
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (
        "Number",
        60,
        1,
        90,
    )
    assert "| `FunctionTimeout` | seconds an invocation may run (1–90)" in readme
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    operations = next(group for group in groups if "MemorySize" in group["Parameters"])
    assert "FunctionTimeout" in operations["Parameters"]
    # And the Lambda function SAM makes takes the value given, or the default
    function = cloudformation(template, monkeypatch)["Resources"]["ImageDefinitionsFunction"]["Properties"]
    assert resolved(function["Timeout"], template, {"FunctionTimeout": "30"}) == "30"
    assert resolved(function["Timeout"], template, {}) == 60


def test_every_function_setting_comes_from_a_parameter() -> None:
    template = sam_template()
    variables = template["Resources"]["ImageDefinitionsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["IMAGEDEFS_DEFAULT_PIN"] == {"Ref": "DefaultPin"}
    assert variables["IMAGEDEFS_DEFAULT_TAG_PATTERN"] == {"Ref": "DefaultTagPattern"}
    assert variables["IMAGEDEFS_DEFAULT_HOOKS"] == {"Ref": "DefaultHooks"}
    assert variables["IMAGEDEFS_ALLOWED_REGISTRIES"] == {"Ref": "AllowedRegistries"}
    assert variables["IMAGEDEFS_ECS_SERVICES"] == {"Ref": "EcsServiceArns"}
    # Declared for `sam local invoke --env-vars` only, like the other endpoints
    assert variables["AWS_ENDPOINT_URL_ECS"] == {"Fn::If": ["DeclareLocalEndpoints", "", {"Ref": "AWS::NoValue"}]}
    assert set(template["Outputs"]) == {
        "FunctionAliasName",
        "FunctionAliasArn",
        "FunctionName",
        "FunctionArn",
        "FunctionRoleArn",
    }


def test_the_stack_can_be_deployed_again_after_it_was_deleted() -> None:
    # A retained log group with a fixed name would still exist, and block a new stack of the same name.
    for name in ("FunctionLogGroup", "OnFailureLogGroup"):
        log_group = sam_template()["Resources"][name]
        assert log_group["DeletionPolicy"] == "Retain"
        assert "LogGroupName" not in log_group["Properties"]


def test_memory_size_is_a_parameter_whose_default_the_bench_measured_and_the_readme_states() -> None:
    # The default is chosen from `make bench`'s table (README, "Performance and cost"); an operator may pick another.
    template = sam_template()
    parameter = template["Parameters"]["MemorySize"]
    assert template["Resources"]["ImageDefinitionsFunction"]["Properties"]["MemorySize"] == {"Ref": "MemorySize"}
    assert (parameter["MinValue"], parameter["MaxValue"]) == (128, 10240)  # Lambda's limits
    assert int(parameter["Default"]) in MEMORY_SIZES_MB
    assert f"arm64, {parameter['Default']} MB by default" in (ROOT / "README.md").read_text()


ALIAS = "live"
BOUNDARY = "arn:aws:iam::123456789012:policy/DeveloperBoundary"


def event_invoke_configs(template: dict[str, Any], function: str) -> dict[str, dict[str, Any]]:
    """The asynchronous settings of each name of the function (its qualifier: an alias, or $LATEST)."""
    return {
        resource["Properties"]["Qualifier"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig"
        and resource["Properties"]["FunctionName"] == {"Ref": function}
    }


def test_every_name_a_pipeline_may_invoke_has_the_same_async_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # SAM attaches EventInvokeConfig to the alias; a pipeline still wired to the unqualified name ($LATEST) would
    # otherwise get Lambda's defaults: events kept 6 hours, and no destination to report a job the function died on
    configs = event_invoke_configs(cloudformation(sam_template(), monkeypatch), "ImageDefinitionsFunction")

    assert set(configs) == {ALIAS, "$LATEST"}
    # The $LATEST config keeps the logical id SAM gave it before the alias: updating a stack deployed then
    # replaces nothing there (a replaced config deleted after a new one was put would leave $LATEST with none)
    resources = cloudformation(sam_template(), monkeypatch)["Resources"]
    assert resources["ImageDefinitionsFunctionEventInvokeConfig"]["Properties"]["Qualifier"] == "$LATEST"
    alias_config = next(
        resource for resource in resources.values() if resource.get("Properties", {}).get("Qualifier") == ALIAS
    )
    assert alias_config["DependsOn"] == "ImageDefinitionsFunctionAliaslive"
    assert "ImageDefinitionsFunctionAliaslive" in resources
    for config in configs.values():
        assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 900)
        assert config["DestinationConfig"] == {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["OnFailureFunction", "Arn"]}}
        }


def test_pipelines_invoke_an_alias_that_each_deploy_moves_to_the_new_version(monkeypatch: pytest.MonkeyPatch) -> None:
    template = cloudformation(sam_template(), monkeypatch)
    resources = template["Resources"]
    (alias,) = [resource for resource in resources.values() if resource["Type"] == "AWS::Lambda::Alias"]
    (version_name,) = [name for name, resource in resources.items() if resource["Type"] == "AWS::Lambda::Version"]
    outputs = template["Outputs"]

    assert alias["Properties"]["Name"] == ALIAS
    assert alias["Properties"]["FunctionName"] == {"Ref": "ImageDefinitionsFunction"}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_name, "Version"]}
    # A version replaced for a new setting, and one left behind by new code, both stay to roll back to
    assert resources[version_name]["DeletionPolicy"] == resources[version_name]["UpdateReplacePolicy"] == "Retain"
    # The Invoke action's FunctionName takes what Lambda's Invoke takes: <function>:<alias>
    assert outputs["FunctionAliasName"]["Value"] == {"Fn::Sub": "${ImageDefinitionsFunction}:" + ALIAS}
    assert outputs["FunctionAliasArn"]["Value"] == {"Ref": "ImageDefinitionsFunctionAliaslive"}
    for name in ("FunctionAliasName", "FunctionAliasArn", "FunctionName", "FunctionArn"):
        assert outputs[name]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + name}


def referenced_parameters(node: Any, template: dict[str, Any]) -> set[str]:
    """The parameters a node reads, directly or through the conditions it uses."""
    if isinstance(node, list):
        return {name for item in node for name in referenced_parameters(item, template)}
    if not isinstance(node, dict):
        return set()
    found = {name for value in node.values() for name in referenced_parameters(value, template)}
    if node.get("Ref") in template["Parameters"]:
        found.add(node["Ref"])
    if "Fn::If" in node:
        found |= referenced_parameters(template["Conditions"][node["Fn::If"][0]], template)
    return found


# A valid value other than the default, for each parameter.
OTHER_VALUES = {
    "DefaultPin": "digest",
    "DefaultTagPattern": "v[0-9]+",
    "AllowedRegistries": "123456789012",
    "EcsServiceArns": "arn:aws:ecs:us-west-2:123456789012:service/prod/shop",
    "EcrRepositoryArns": "arn:aws:ecr:us-west-2:123456789012:repository/shop/*",
    "VerifyImages": "true",
    "FailOnSeverity": "HIGH",
    "DefaultHooks": "AfterAllowTestTraffic=CodeDeployHook_smoke",
    "AssumableRoleArns": "arn:aws:iam::222222222222:role/image-definitions-reader",
    "MemorySize": "512",
    "LogLevel": "DEBUG",
    "LocalEndpoints": "true",
    "RolePath": "/service-roles/",
    "FunctionTimeout": "30",
    "LogRetentionInDays": "7",
    "AlarmTopicArn": ALARM_TOPIC,
    "PermissionsBoundaryArn": BOUNDARY,
}


def test_a_changed_setting_publishes_a_new_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # SAM names a version after the code and the template's text, so a new parameter value alone would leave the
    # alias on a version with the old settings. Each value the function's configuration reads is in the version's
    # description, whose change makes CloudFormation replace the version, which publishes a new one.
    source = sam_template()
    template = cloudformation(source, monkeypatch)
    function = template["Resources"]["ImageDefinitionsFunction"]["Properties"]
    (version,) = [resource for resource in template["Resources"].values() if resource["Type"] == "AWS::Lambda::Version"]
    # The role's path too: a new path replaces the role, and a version keeps the ARN of the role it was published with
    settings = referenced_parameters(function, template) | {"RolePath"}
    assert settings >= {"DefaultPin", "AllowedRegistries", "EcsServiceArns", "MemorySize", "LocalEndpoints"}
    assert set(OTHER_VALUES) == set(template["Parameters"])

    published = resolved(version["Properties"]["Description"], template, {})
    for name in settings:
        changed = resolved(version["Properties"]["Description"], template, {name: OTHER_VALUES[name]})
        assert changed != published, name
    for name in set(template["Parameters"]) - settings:  # no new version for what a version does not hold
        assert resolved(version["Properties"]["Description"], template, {name: OTHER_VALUES[name]}) == published


def test_the_settings_of_each_version_fit_in_its_description(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lambda allows 256 characters. What the README promises: 141 characters for the seven free-text settings
    # together (a service pattern, a repository pattern and three accounts, say), with the longest values of the others
    template = cloudformation(sam_template(), monkeypatch)
    (version,) = [resource for resource in template["Resources"].values() if resource["Type"] == "AWS::Lambda::Version"]
    services = "arn:aws:ecs:eu-west-1:123456789012:service/prod/*"
    free_text = {
        "EcsServiceArns": services,
        "AllowedRegistries": "123456789012,210987654321,111122223333",
        "RolePath": "",
        "EcrRepositoryArns": "arn:aws:ecr:*:123456789012:repository/shop/*",
        "DefaultHooks": "",
        "AssumableRoleArns": "",
        "DefaultTagPattern": "",
    }
    free_text["DefaultTagPattern"] = "v" * (141 - sum(len(value) for value in free_text.values()))
    longest = {
        "DefaultPin": "digest",
        "MemorySize": "10240",
        "FunctionTimeout": "90",
        "LogLevel": "WARNING",
        "LocalEndpoints": "false",
        "VerifyImages": "false",
        "FailOnSeverity": "INFORMATIONAL",
    }

    description = resolved(version["Properties"]["Description"], template, free_text | longest)

    assert len(free_text["DefaultTagPattern"]) >= 10
    assert services in description
    assert len(description) <= 256
    assert (
        len(
            resolved(
                version["Properties"]["Description"],
                template,
                free_text | longest | {"RolePath": "/x" + free_text["RolePath"]},
            )
        )
        > 256
    )


@pytest.mark.parametrize(
    ("parameters", "boundary", "path"),
    [
        ({}, None, None),
        ({"PermissionsBoundaryArn": BOUNDARY, "RolePath": "/service-roles/"}, BOUNDARY, "/service-roles/"),
    ],
    ids=["defaults", "boundary and path"],
)
def test_every_role_the_stack_creates_gets_the_permissions_boundary_and_the_path(
    monkeypatch: pytest.MonkeyPatch, parameters: dict[str, str], boundary: str | None, path: str | None
) -> None:
    # Empty parameters leave the properties out (IAM's default path "/", no boundary); also for roles SAM would add
    template = cloudformation(sam_template(), monkeypatch)

    roles = {
        name: resolved(resource["Properties"], template, parameters)
        for name, resource in deployed_resources(template, parameters).items()
        if resource["Type"] == "AWS::IAM::Role"
    }

    assert set(roles) == {"ImageDefinitionsFunctionRole", "OnFailureFunctionRole"}
    for role in roles.values():
        assert role.get("PermissionsBoundary") == boundary
        assert role.get("Path") == path


def test_the_boundary_and_path_parameters_accept_only_what_iam_accepts() -> None:
    parameters = sam_template()["Parameters"]
    boundary = re.compile(parameters["PermissionsBoundaryArn"]["AllowedPattern"])
    path = re.compile(parameters["RolePath"]["AllowedPattern"])
    assert parameters["PermissionsBoundaryArn"]["Default"] == parameters["RolePath"]["Default"] == ""
    for accepted in (
        "",
        BOUNDARY,
        "arn:aws-us-gov:iam::123456789012:policy/org/Boundary",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    ):
        assert boundary.fullmatch(accepted), accepted
    for refused in ("DeveloperBoundary", "arn:aws:iam::123456789012:role/Boundary", f"{BOUNDARY},{BOUNDARY} "):
        assert not boundary.fullmatch(refused), refused
    # IAM's pattern: "/" alone, or text of ! to ~ between two slashes
    for accepted in ("", "/", "/service-roles/", "/org/team/"):
        assert path.fullmatch(accepted), accepted
    for refused in ("service-roles", "/service-roles", "//", "/with space/"):
        assert not path.fullmatch(refused), refused


ASSUMABLE_ROLES = "arn:aws:iam::222222222222:role/image-definitions-reader,arn:aws:iam::333333333333:role/readers/*"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [("", set()), (ASSUMABLE_ROLES, {"sts:AssumeRole"})],
    ids=["no role: no sts:AssumeRole at all", "roles: exactly those"],
)
def test_listed_roles_are_the_only_ones_the_function_may_assume(
    monkeypatch: pytest.MonkeyPatch, roles: str, expected: set[str]
) -> None:
    allowed, managed = role_statements(cloudformation(sam_template(), monkeypatch), {"AssumableRoleArns": roles})

    assert set(allowed) == REPORT_ACTIONS | LOG_ACTIONS | INVOKE_DESTINATION | expected
    if expected:
        assert allowed["sts:AssumeRole"] == roles.split(",")
    assert managed == []


def test_the_assumable_roles_parameter_accepts_only_iam_role_arns() -> None:
    parameter = sam_template()["Parameters"]["AssumableRoleArns"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert parameter["Default"] == ""
    for accepted in (
        "",
        ASSUMABLE_ROLES,
        "arn:aws-cn:iam::222222222222:role/a",
        "arn:aws-us-gov:iam::222222222222:role/b",
    ):
        assert pattern.fullmatch(accepted)
    for refused in (
        "image-definitions-reader",
        "arn:aws:iam::222222222222:user/someone",
        "arn:aws:iam::*:role/reader",
        "arn:aws-iso:iam::222222222222:role/reader",
        f"{ASSUMABLE_ROLES}, arn:aws:iam::222222222222:role/x",
    ):
        assert not pattern.fullmatch(refused)
    # With EcrRepositoryArns' 2,048 characters, the environment stays within Lambda's 4 KB
    assert parameter["MaxLength"] + sam_template()["Parameters"]["EcrRepositoryArns"]["MaxLength"] <= 3072


def test_the_function_knows_its_role_arn_and_the_stack_outputs_it() -> None:
    # What a denied AssumeRole names for the target account to trust; the role depends on nothing of the function
    template = sam_template()
    variables = template["Resources"]["ImageDefinitionsFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["IMAGEDEFS_FUNCTION_ROLE_ARN"] == {"Fn::GetAtt": ["ImageDefinitionsFunctionRole", "Arn"]}
    assert variables["IMAGEDEFS_ASSUMABLE_ROLES"] == {"Ref": "AssumableRoleArns"}
    assert variables["AWS_ENDPOINT_URL_STS"] == {"Fn::If": ["DeclareLocalEndpoints", "", {"Ref": "AWS::NoValue"}]}
    assert "ImageDefinitionsFunction" not in json.dumps(template["Resources"]["ImageDefinitionsFunctionRole"])
    assert template["Outputs"]["FunctionRoleArn"]["Value"] == {"Fn::GetAtt": ["ImageDefinitionsFunctionRole", "Arn"]}
