"""What a cold job imports: a rolling job loads none of the modules that only a blue/green job or the ECR gate
needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local_aws import SAMPLE_SERVICE_ARN, LocalAws, load_event
from tests.samples import documented_image_detail, with_user_parameters

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "devtools" / "bench_worker.py"
BLUE_GREEN_ONLY = ("imagedefs.aws.ecs", "imagedefs.formats.codedeploy")
# What only a job with "verify" or "failOnSeverity" loads.
ECR_GATE_ONLY = ("imagedefs.aws.ecr", "imagedefs.image_gate")
# What only a job whose UserParameters name a "role" loads.
ROLE_ONLY = "imagedefs.aws.sts"
# What a plain (imagedefinitions) job imports of the package, and nothing more: docs/architecture.md lists it.
PLAIN_JOB_MODULES = [
    "handlers",
    "handlers.image_definitions",
    "imagedefs",
    "imagedefs.action",
    "imagedefs.aws",
    "imagedefs.aws.codepipeline",
    "imagedefs.aws.s3_artifacts",
    "imagedefs.aws.session",
    "imagedefs.budget",
    "imagedefs.config",
    "imagedefs.delivery",
    "imagedefs.errors",
    "imagedefs.formats",
    "imagedefs.formats.image_files",
    "imagedefs.formats.zip",
    "imagedefs.job",
    "imagedefs.json_text",
    "imagedefs.model",
    "imagedefs.observability",
    "imagedefs.plan",
    "imagedefs.references",
    "imagedefs.tag_pattern",
]


def test_a_rolling_job_loads_no_blue_green_module(
    aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a rolling job and then a blue/green job, run by one fresh process with the real handler
    rolling, blue_green = load_event("single-ecr-source.json"), load_event("blue-green.json")
    aws.seed(rolling)
    aws.seed(blue_green)
    aws.seed_service()
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps([rolling, blue_green]))

    # When the process runs them in turn
    finished = subprocess.run(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), "ours", str(jobs_file)],
        env={
            **os.environ,
            **aws.environment,
            "PYTHONPATH": str(ROOT / "src"),
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "IMAGEDEFS_ECS_SERVICES": SAMPLE_SERVICE_ARN,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after_rolling, after_blue_green = json.loads(finished.stdout.splitlines()[-1])["modules"]

    # Then both jobs succeeded; the rolling job loaded the plain job's modules only, the blue/green job the rest
    assert [report.succeeded for report in aws.double.reports] == [True, True]
    assert after_rolling == PLAIN_JOB_MODULES
    assert set(BLUE_GREEN_ONLY) <= set(after_blue_green)
    assert ROLE_ONLY not in after_blue_green


def test_an_images_only_job_loads_the_plain_jobs_modules(aws: LocalAws, tmp_path: Path) -> None:
    # Given a job with no input artifact, its image given in UserParameters "images", run by one fresh process
    job = load_event("build-and-publish.json")
    aws.seed(job)
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps([job]))

    finished = subprocess.run(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), "ours", str(jobs_file)],
        env={**os.environ, **aws.environment, "PYTHONPATH": str(ROOT / "src"), "POWERTOOLS_LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (modules,) = json.loads(finished.stdout.splitlines()[-1])["modules"]

    # Then it succeeded having loaded exactly what an artifact job loads: no more import work at a cold start
    assert [report.succeeded for report in aws.double.reports] == [True]
    assert modules == PLAIN_JOB_MODULES


def test_only_a_job_with_the_ecr_gate_loads_the_ecr_modules(aws: LocalAws, tmp_path: Path) -> None:
    # Given a plain job, then the same job with "verify", its image in moto's ECR, run by one fresh process
    plain = load_event("single-ecr-source.json")
    verified = with_user_parameters(load_event("single-ecr-source.json"), {"verify": True, "pin": "digest"})
    verified["CodePipeline.job"]["id"] = "5e1d7a2b-0c4f-4b6e-8a9d-3f2e1d0c9b8a"
    aws.seed(plain)
    detail = documented_image_detail()
    aws.ecr.create_repository(repositoryName=detail["RepositoryName"])
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    aws.ecr.put_image(
        repositoryName=detail["RepositoryName"],
        imageManifest=json.dumps(manifest),
        imageTag="latest",
        imageDigest=detail["ImageDigest"],
    )
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps([plain, verified]))

    finished = subprocess.run(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), "ours", str(jobs_file)],
        env={
            **os.environ,
            **aws.environment,
            "PYTHONPATH": str(ROOT / "src"),
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "IMAGEDEFS_ECR_REPOSITORIES": "arn:aws:ecr:us-west-2:123456789012:repository/*",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    after_plain, after_verified = json.loads(finished.stdout.splitlines()[-1])["modules"]

    # Then both succeeded; the plain job loaded no ECR code, the verified one the gate and the ECR adapter
    assert [report.succeeded for report in aws.double.reports] == [True, True]
    assert after_plain == PLAIN_JOB_MODULES
    assert set(ECR_GATE_ONLY) <= set(after_verified)
    assert ROLE_ONLY not in after_verified


def test_only_a_job_with_a_role_loads_the_sts_adapter(aws: LocalAws, tmp_path: Path) -> None:
    # Given a blue/green job reading a service of account 222222222222 through its role, run by one fresh process
    role = "arn:aws:iam::222222222222:role/image-definitions-reader"
    aws.in_account_of(role).seed_service()
    job = with_user_parameters(
        load_event("blue-green.json"),
        {"format": "codedeploy", "service": "prod/shop", "role": role, "containers": {"WebImage": "web"}},
    )
    aws.seed(job)
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps([job]))

    finished = subprocess.run(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), "ours", str(jobs_file)],
        env={
            **os.environ,
            **aws.environment,
            "PYTHONPATH": str(ROOT / "src"),
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "IMAGEDEFS_ECS_SERVICES": "arn:aws:ecs:us-west-2:222222222222:service/prod/shop",
            "IMAGEDEFS_ASSUMABLE_ROLES": role,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (modules,) = json.loads(finished.stdout.splitlines()[-1])["modules"]

    # Then it succeeded, having loaded the STS adapter
    assert [report.succeeded for report in aws.double.reports] == [True]
    assert ROLE_ONLY in modules
