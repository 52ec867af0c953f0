"""S3, ECS and ECR (moto's server) and CodePipeline (the validating double) on loopback, seeded from events/."""

from __future__ import annotations

import copy
import io
import json
import logging
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from moto.server import ThreadedMotoServer

from devtools.codepipeline_double import CodePipelineDouble, CodePipelineDoubleServer

if TYPE_CHECKING:
    from mypy_boto3_ecs.literals import DeploymentControllerTypeType

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
REGION = "us-west-2"  # the region of the sample jobs' artifact bucket
# The function's own credentials locally: anything works against moto and the double.
# The secret is as long as a real one: the function hides it from every message and log line, and a word such as
# "local" would be hidden wherever it appears.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "localServersSecretAccessKey0123456789abc"}
# The blue/green sample (events/blue-green.json): its service, its load balancer target and the task definition
# it runs (events/describe-task-definition.json).
SAMPLE_CLUSTER = "prod"
SAMPLE_SERVICE = "shop"
SAMPLE_SERVICE_ARN = f"arn:aws:ecs:{REGION}:123456789012:service/{SAMPLE_CLUSTER}/{SAMPLE_SERVICE}"
SAMPLE_TARGET_GROUP_ARN = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/shop-blue/0123456789abcdef"


def load_event(name: str) -> dict[str, Any]:
    """A sample job from events/, as a fresh copy that a test may change."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return copy.deepcopy(event)


def sample_artifacts() -> dict[str, dict[str, Any]]:
    """events/artifacts.json: `bucket/key` of each sample input artifact → the files in its zip."""
    artifacts: dict[str, dict[str, Any]] = json.loads((EVENTS_DIR / "artifacts.json").read_text())
    return artifacts


def zip_files(files: Mapping[str, Any]) -> bytes:
    """A zip of the given files; a value that is not bytes or str is written as JSON."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            if isinstance(content, str):
                content = content.encode()
            elif not isinstance(content, bytes):
                content = json.dumps(content, indent=2).encode()
            archive.writestr(name, content)
    return buffer.getvalue()


def unzip_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


class LocalAws:
    """The endpoints a job needs, with boto3's standard variables pointing at them."""

    def __init__(
        self,
        s3_url: str,
        double: CodePipelineDouble,
        codepipeline_url: str,
        keys: tuple[str, str, str | None] | None = None,
    ) -> None:
        self.s3_url = s3_url
        self.codepipeline_url = codepipeline_url
        self.double = double
        # moto serves every service on one port, and accepts any key (an assumed role's: in the role's account).
        self._keys = keys or (LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], None)
        self.s3 = boto3.client("s3", REGION, endpoint_url=s3_url, **self._key_options())
        self.ecs = boto3.client("ecs", REGION, endpoint_url=s3_url, **self._key_options())
        self.ec2 = boto3.client("ec2", REGION, endpoint_url=s3_url, **self._key_options())
        self.ecr = boto3.client("ecr", REGION, endpoint_url=s3_url, **self._key_options())

    def _key_options(self) -> dict[str, Any]:
        key_id, secret, token = self._keys
        return {"aws_access_key_id": key_id, "aws_secret_access_key": secret, "aws_session_token": token}

    def in_account_of(self, role_arn: str) -> LocalAws:
        """The same servers, with clients in the role's account: moto keeps resources per account and maps an
        assumed role's credentials to the role's account (it checks no trust policy)."""
        sts = boto3.client("sts", REGION, endpoint_url=self.s3_url, **self._key_options())
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="test-seeding")["Credentials"]
        keys = (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
        return LocalAws(self.s3_url, self.double, self.codepipeline_url, keys)

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs to reach these endpoints through boto3's standard configuration."""
        return {
            "AWS_ENDPOINT_URL_S3": self.s3_url,
            "AWS_ENDPOINT_URL_ECS": self.s3_url,
            "AWS_ENDPOINT_URL_ECR": self.s3_url,
            "AWS_ENDPOINT_URL_STS": self.s3_url,
            "AWS_ENDPOINT_URL_CODEPIPELINE": self.codepipeline_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **LOCAL_CREDENTIALS,
        }

    def seed(self, event: Mapping[str, Any], artifacts: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Create the job's buckets and upload its input artifacts from `artifacts` (default: events/)."""
        artifacts = sample_artifacts() if artifacts is None else artifacts
        data = event["CodePipeline.job"]["data"]
        buckets = {
            artifact["location"]["s3Location"]["bucketName"]
            for artifact in data["inputArtifacts"] + data["outputArtifacts"]
        }
        existing = {entry["Name"] for entry in self.s3.list_buckets().get("Buckets", [])}
        for bucket in sorted(buckets - existing):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        for artifact in data["inputArtifacts"]:
            location = artifact["location"]["s3Location"]
            files = artifacts.get(f"{location['bucketName']}/{location['objectKey']}")
            if files is not None:
                self.put(location["bucketName"], location["objectKey"], zip_files(files))

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def seed_service(
        self,
        described_task_definition: Mapping[str, Any] | None = None,
        controller: DeploymentControllerTypeType = "CODE_DEPLOY",
        service: str = SAMPLE_SERVICE,
    ) -> str:
        """An ECS service on Fargate behind a load balancer (web:8080), deployed by `controller`, running the task
        definition (default: events/describe-task-definition.json, registered as RegisterTaskDefinition takes it).
        Returns the service's ARN.
        """
        described = described_task_definition or json.loads((EVENTS_DIR / "describe-task-definition.json").read_text())
        accepted = self.ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape
        assert accepted is not None
        registered = self.ecs.register_task_definition(
            **{key: value for key, value in described["taskDefinition"].items() if key in accepted.members},
            tags=described.get("tags", []),
        )["taskDefinition"]
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = self.ec2.create_security_group(GroupName=f"{service}-tasks", Description="tasks", VpcId=vpc)["GroupId"]
        self.ecs.create_cluster(clusterName=SAMPLE_CLUSTER)
        created = self.ecs.create_service(
            cluster=SAMPLE_CLUSTER,
            serviceName=service,
            taskDefinition=registered["taskDefinitionArn"],
            desiredCount=2,
            launchType="FARGATE",
            platformVersion="1.4.0",
            deploymentController={"type": controller},
            loadBalancers=[{"targetGroupArn": SAMPLE_TARGET_GROUP_ARN, "containerName": "web", "containerPort": 8080}],
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}
            },
        )
        return str(created["service"]["serviceArn"])

    def output_object(self, event: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
        """The S3 object written for the job's output artifact number `index` (get_object's answer)."""
        location = event["CodePipeline.job"]["data"]["outputArtifacts"][index]["location"]["s3Location"]
        return dict(self.s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"]))

    def output_files(self, event: Mapping[str, Any], index: int = 0) -> dict[str, bytes]:
        return unzip_files(self.output_object(event, index)["Body"].read())


@contextmanager
def local_aws(s3_port: int = 0, codepipeline_port: int = 0) -> Iterator[LocalAws]:
    """Start moto's server (S3, ECS) and the CodePipeline double on loopback (free ports unless given)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3_server.start()
    try:
        host, port = s3_server.get_host_and_port()
        with CodePipelineDoubleServer(port=codepipeline_port) as codepipeline:
            yield LocalAws(f"http://{host}:{port}", codepipeline.double, codepipeline.url)
    finally:
        s3_server.stop()
