"""docs/deployer-policy.json: what the identity that runs `make deploy` needs, and nothing more.

CloudFormation creates, updates and deletes each resource with the deployer's own credentials, and each resource
type's schema (cfn-lint ships them) lists the actions its handlers call. The policy must grant every one of
those for the types of the stack, after the SAM transform, and of SAM CLI's managed stack (its code bucket,
created on the first deploy in a region), except those of features these templates do not use (NOT_USED, each
with its reason); beyond them, only what SAM CLI and `make rollback` call themselves (SAM_CLI_CALLS). Every
resource is named, by the patterns CloudFormation names the stack's resources by.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Final

import cfnlint
import pytest
from samtranslator.translator.transform import transform

from tests.templates import ROOT, load_template

POLICY: Final = ROOT / "docs" / "deployer-policy.json"
SCHEMAS: Final = Path(cfnlint.__file__).parent / "data" / "schemas"
HANDLERS: Final = ("create", "read", "update", "delete")
# Handler actions for what neither template uses: granting them would give the deployer more than it needs.
NOT_USED: Final = {
    "ec2:DescribeNetworkInterfaces": "no VpcConfig: the functions run in no VPC",
    "ec2:DescribeSecurityGroups": "no VpcConfig",
    "ec2:DescribeSubnets": "no VpcConfig",
    "ec2:DescribeVpcs": "no VpcConfig",
    "elasticfilesystem:DescribeMountTargets": "no FileSystemConfigs",
    "s3files:ListMountTargets": "no FileSystemConfigs",
    "kms:CreateGrant": "no KmsKeyArn: Lambda's own key encrypts the environment",
    "kms:Decrypt": "no KmsKeyArn",
    "kms:DescribeKey": "no KmsKeyArn",
    "kms:Encrypt": "no KmsKeyArn",
    "kms:GenerateDataKey": "no KmsKeyArn",
    "lambda:GetCodeSigningConfig": "no CodeSigningConfigArn",
    "lambda:PutFunctionCodeSigningConfig": "no CodeSigningConfigArn",
    "lambda:DeleteFunctionCodeSigningConfig": "no CodeSigningConfigArn",
    "lambda:GetLayerVersion": "no Layers",
    "lambda:PassCapacityProvider": "no CapacityProviderConfig",
    "lambda:PutProvisionedConcurrencyConfig": "no ProvisionedConcurrencyConfig on the alias",
    "lambda:DeleteProvisionedConcurrencyConfig": "no ProvisionedConcurrencyConfig",
    "codedeploy:CreateDeployment": "no DeploymentPreference: the alias moves at once (README, Roll back)",
    "codedeploy:GetDeployment": "no DeploymentPreference",
    "codedeploy:GetDeploymentConfig": "no DeploymentPreference",
    "codedeploy:GetDeploymentGroup": "no DeploymentPreference",
    "codedeploy:StopDeployment": "no DeploymentPreference",
    "logs:AssociateKmsKey": "no KmsKeyId on the log groups",
    "logs:DisassociateKmsKey": "no KmsKeyId",
    "logs:PutDataProtectionPolicy": "no DataProtectionPolicy",
    "logs:CreateLogDelivery": "no log delivery",
    "logs:PutResourcePolicy": "no ResourcePolicyDocument",
    "logs:DeleteResourcePolicy": "no ResourcePolicyDocument",
    "logs:PutIndexPolicy": "no FieldIndexPolicies",
    "logs:DeleteIndexPolicy": "no FieldIndexPolicies",
    "logs:PutBearerTokenAuthentication": "no BearerTokenAuthenticationEnabled",
    "logs:PutLogGroupDeletionProtection": "no DeletionProtectionEnabled",
    "firehose:TagDeliveryStream": "no log delivery",
    "s3:REST.PUT.OBJECT": "no log delivery (and not an IAM action)",
    "iam:PassRole": "granted for the functions' roles only, to Lambda (PassTheRolesToLambda)",
}
# Features of the managed code bucket that SAM CLI's template does not set.
NOT_USED_BY_THE_CODE_BUCKET: Final = [
    "s3:PutAnalyticsConfiguration",
    "s3:PutBucketCORS",
    "s3:PutInventoryConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutMetricsConfiguration",
    "s3:PutBucketNotification",
    "s3:PutBucketReplication",
    "s3:PutBucketWebsite",
    "s3:PutAccelerateConfiguration",
    "s3:PutReplicationConfiguration",
    "s3:PutObjectAcl",
    "s3:PutBucketObjectLockConfiguration",
    "s3:DeleteObject",
    "s3:PutBucketLogging",
    "s3:PutObjectLockConfiguration",
    "s3:PutIntelligentTieringConfiguration",
    "s3:CreateBucketMetadataTableConfiguration",
    "s3:DeleteBucketMetadataTableConfiguration",
    "s3:PutBucketAcl",
    "s3:UpdateBucketMetadataJournalTableConfiguration",
    "s3:UpdateBucketMetadataInventoryTableConfiguration",
    "s3:UpdateBucketMetadataAnnotationTableConfiguration",
    "s3:DeleteBucketWebsite",
    "s3:DeleteBucketAnalyticsConfiguration",
    "s3:DeleteBucketCors",
    "s3:DeleteBucketMetricsConfiguration",
    "s3:DeleteBucketEncryption",
    "s3:DeleteBucketLifecycle",
    "s3:DeleteBucketReplication",
    "s3tables:CreateNamespace",
    "s3tables:CreateTable",
    "s3tables:CreateTableBucket",
    "s3tables:GetTable",
    "s3tables:GetTableMetadataLocation",
    "s3tables:PutTableBucketPolicy",
    "s3tables:PutTableEncryption",
    "s3tables:PutTablePolicy",
    "s3tables:UpdateTableMetadataLocation",
]
# What SAM CLI calls itself (sam deploy, package, delete) and `make rollback`, beyond the resource handlers.
SAM_CLI_CALLS: Final = {
    "cloudformation:CreateChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource",
    "cloudformation:DescribeStacks",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplate",
    "cloudformation:GetTemplateSummary",
    "cloudformation:ListChangeSets",
    "cloudformation:ListStackResources",
    "s3:PutObject",  # upload the code
    "s3:GetObject",  # has it been uploaded before
    "s3:GetObjectTagging",
    "s3:GetObjectVersion",  # Lambda reads the code with the deployer's credentials
    "s3:DeleteObject",  # sam delete removes the uploaded code
    "s3:ListBucket",
    "s3:GetBucketVersioning",
}
# Account-wide reads that name no resource.
UNSCOPED: Final = {"logs:DescribeLogGroups", "logs:DescribeResourcePolicies", "logs:DescribeIndexPolicies"}


@cache
def policy() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(POLICY.read_text())
    return loaded


def granted() -> dict[str, list[str]]:
    """Each action the policy allows → the resource patterns it allows it on."""
    allowed: dict[str, list[str]] = {}
    for statement in policy()["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        for action in actions:
            allowed.setdefault(action, []).extend(resources)
    return allowed


def deployed(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return dict(transform(template, {}, type("NoManagedPolicies", (), {"load": lambda self: {}})()))


def sam_cli_managed_stack() -> dict[str, Any]:
    """The template SAM CLI deploys as aws-sam-cli-managed-default on the first deploy in a region."""
    printed = subprocess.run(  # noqa: S603
        [
            str(ROOT / ".venv-sam" / "bin" / "python"),
            "-c",
            "from samcli.lib.bootstrap.bootstrap import _get_stack_template; print(_get_stack_template())",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    managed: dict[str, Any] = json.loads(printed.stdout)
    return managed


def handler_actions(resources: dict[str, Any]) -> set[str]:
    """The actions CloudFormation calls with the deployer's credentials for these resources."""
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    actions: set[str] = set()
    for resource in resources.values():
        schema = json.loads((SCHEMAS / "resources" / f"{providers[resource['Type']]}.json").read_text())
        # A retained resource is never deleted by CloudFormation: its delete handler never runs
        handlers = [
            handler for handler in HANDLERS if handler != "delete" or resource.get("DeletionPolicy") != "Retain"
        ]
        for handler in handlers:
            actions.update(schema["handlers"].get(handler, {}).get("permissions", []))
    return actions


def test_the_policy_is_an_iam_policy_of_named_actions_and_resources() -> None:
    document = policy()
    assert document["Version"] == "2012-10-17"
    # IAM's limit for a managed policy, whitespace not counted
    assert len(json.dumps(document, separators=(",", ":"))) <= 6144
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
    for action, resources in granted().items():
        assert "*" not in action, action
        assert ("*" in resources) == (action in UNSCOPED), action


def test_the_policy_grants_what_deploying_the_stack_needs_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = deployed(load_template(ROOT / "template.yaml"), monkeypatch)
    code_bucket = deployed(sam_cli_managed_stack(), monkeypatch)
    needed = handler_actions(stack["Resources"]) | handler_actions(code_bucket["Resources"])
    assert {"lambda:PublishVersion", "lambda:CreateAlias", "cloudwatch:PutMetricAlarm", "s3:CreateBucket"} <= needed

    missing = needed - set(granted()) - set(NOT_USED) - set(NOT_USED_BY_THE_CODE_BUCKET) - {"s3:DeleteObject"}
    extra = set(granted()) - needed - SAM_CLI_CALLS - {"iam:PassRole"}

    assert missing == set()
    assert extra == set()
    # Each exclusion is an action some handler of these types calls, and is not granted (the object
    # deletion is granted for `sam delete`, not for the bucket's handler)
    assert set(NOT_USED) | set(NOT_USED_BY_THE_CODE_BUCKET) <= needed
    assert not (set(NOT_USED) - {"iam:PassRole"}) & set(granted())


def test_the_functions_roles_are_passed_to_lambda_only() -> None:
    (passing,) = [statement for statement in policy()["Statement"] if statement["Action"] == "iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}


@pytest.mark.parametrize("role_path", ["/", "/service-roles/"])
def test_the_resource_patterns_match_what_cloudformation_names_the_stacks_resources(role_path: str) -> None:
    # CloudFormation names a resource <stack>-<logical id>-<suffix>; the stack is samconfig.toml's
    stack = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["global"]["parameters"]["stack_name"]
    allowed = granted()
    named = {
        "cloudformation:CreateChangeSet": f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{stack}/0a1b2c3d",
        "iam:CreateRole": f"arn:aws:iam::123456789012:role{role_path}{stack}-ImageDefinitionsFunctionRole-AbCdEf012345",
        "iam:PassRole": f"arn:aws:iam::123456789012:role{role_path}{stack}-OnFailureFunctionRole-AbCdEf012345",
        "lambda:CreateFunction": f"arn:aws:lambda:eu-west-1:123456789012:function:{stack}-ImageDefinitionsFunction-Ab1",
        "lambda:UpdateAlias": f"arn:aws:lambda:eu-west-1:123456789012:function:{stack}-OnFailureFunction-Ab1:live",
        "logs:CreateLogGroup": f"arn:aws:logs:eu-west-1:123456789012:log-group:{stack}-FunctionLogGroup-Ab1",
        "cloudwatch:PutMetricAlarm": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{stack}-FunctionErrorsAlarm-Ab1",
        "s3:PutObject": "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f/image-defs/ab12",
        "s3:CreateBucket": "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f",
    }
    for action, arn in named.items():
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in allowed[action]), (action, arn)
    # and no other stack's
    other = "arn:aws:lambda:eu-west-1:123456789012:function:payments-Function-Ab1"
    assert not any(fnmatch.fnmatchcase(other, pattern) for pattern in allowed["lambda:UpdateFunctionCode"])
