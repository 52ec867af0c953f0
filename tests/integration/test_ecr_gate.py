"""The ECR gate against moto's ECR through the real handler: "verify" looks every ECR image up before anything is
written, "failOnSeverity" weighs its scan findings; the role's repositories come from EcrRepositoryArns."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from devtools.local_aws import REGION, LocalAws, load_event
from tests.integration.conftest import Invoke
from tests.samples import DIGEST_A, DIGEST_B, REGISTRY, image_detail, input_location, with_user_parameters

ALL_REPOSITORIES = f"arn:aws:ecr:{REGION}:123456789012:repository/*"
WEB = f"{REGISTRY}/shop/web"


def pushed(aws: LocalAws, digest: str, tag: str, repository: str = "shop/web") -> None:
    """An image pushed to moto's ECR with this digest and tag (a tag pushed again moves to the new image)."""
    if repository not in {entry["repositoryName"] for entry in aws.ecr.describe_repositories()["repositories"]}:
        aws.ecr.create_repository(repositoryName=repository)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": digest},
        "layers": [],
    }
    aws.ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag, imageDigest=digest)


def scanned(aws: LocalAws, digest: str, counts: dict[str, int], findings: list[dict[str, Any]]) -> None:
    """The image's scan, finished with these findings (moto's API for a configured scan result)."""
    aws.ecr.start_image_scan(repositoryName="shop/web", imageId={"imageDigest": digest})
    result = {
        "registryId": "123456789012",
        "repositoryName": "shop/web",
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findingSeverityCounts": counts, "findings": findings},
    }
    request = urllib.request.Request(  # noqa: S310 - moto's server on loopback
        f"{aws.s3_url}/moto-api/static/ecr/scan-finding-results",
        data=json.dumps({"results": [result], "region": REGION}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request)  # noqa: S310


def finding(name: str, severity: str, package: str, version: str) -> dict[str, Any]:
    attributes = [{"key": "package_name", "value": package}, {"key": "package_version", "value": version}]
    return {"name": name, "severity": severity, "attributes": attributes}


def job(aws: LocalAws, detail: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    event = with_user_parameters(load_event("single-ecr-source.json"), parameters)
    bucket, key = input_location(event)
    aws.seed(event, {f"{bucket}/{key}": {"imageDetail.json": detail}})
    return event


@pytest.fixture
def repositories(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEDEFS_ECR_REPOSITORIES", ALL_REPOSITORIES)


@pytest.mark.usefixtures("repositories")
def test_verify_looks_each_ecr_image_up_and_adds_a_tag_pinned_images_digest(aws: LocalAws, invoke: Invoke) -> None:
    # Given an artifact's image and an image given by tag alone, both in ECR, and one from Docker Hub
    pushed(aws, DIGEST_A, "v1")
    pushed(aws, DIGEST_B, "v2", repository="shop/api")
    images = {"api": f"{REGISTRY}/shop/api:v2", "proxy": "docker.io/library/nginx:1.27"}
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"verify": True, "images": images})

    # When the job runs
    report = invoke(event).report

    # Then it succeeds; the summary says what was looked up and what not; the tag-pinned image's digest is a variable
    assert report.succeeded, report.request
    summary = report.request["executionDetails"]["summary"]
    assert f"web → {WEB}:v1 (found in ECR)" in summary
    assert f"api → {REGISTRY}/shop/api:v2 (found in ECR)" in summary
    assert "proxy → docker.io/library/nginx:1.27 (not in ECR: not looked up)" in summary
    variables = report.request["outputVariables"]
    assert (variables["web_digest"], variables["api_digest"]) == (DIGEST_A, DIGEST_B)
    assert "proxy_digest" not in variables


@pytest.mark.usefixtures("repositories")
def test_an_image_deleted_from_ecr_fails_naming_it_and_its_repository(aws: LocalAws, invoke: Invoke) -> None:
    # Given an artifact whose digest is no longer in the repository
    pushed(aws, DIGEST_B, "other")
    event = job(aws, image_detail(digest=DIGEST_A), {"verify": True, "pin": "digest"})

    # When the job runs
    invocation = invoke(event)

    # Then it fails, naming the image and the repository, and nothing is written
    failure = invocation.failure
    assert failure["type"] == "JobFailed"
    assert (
        f'Image {WEB}@{DIGEST_A} is not in ECR repository "shop/web" (registry 123456789012, us-west-2): no image '
        f"has digest {DIGEST_A}"
    ) in failure["message"]
    assert "Push the image again" in failure["message"]
    assert not aws.s3.list_objects_v2(Bucket="codepipeline-us-west-2-123456789012", Prefix="my-pipeline/Defin").get(
        "KeyCount"
    )


@pytest.mark.usefixtures("repositories")
def test_a_tag_that_moved_to_another_image_fails_naming_both_digests(aws: LocalAws, invoke: Invoke) -> None:
    # Given the source saw v1 at DIGEST_A, and v1 was pushed again since (now DIGEST_B)
    pushed(aws, DIGEST_A, "v1")
    pushed(aws, DIGEST_B, "v1")
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"verify": True})

    # When the job runs (pinned by tag)
    failure = invoke(event).failure

    # Then it fails naming the tag and both digests
    assert failure["type"] == "JobFailed"
    message = failure["message"]
    assert 'tag "v1" in ECR repository "shop/web"' in message
    assert f"now points to {DIGEST_B}, not to {DIGEST_A}" in message
    assert "the tag moved after the source ran" in message


def test_verify_without_repository_arns_fails_naming_the_stack_parameter(aws: LocalAws, invoke: Invoke) -> None:
    # Given a stack that lists no ECR repository
    pushed(aws, DIGEST_A, "v1")
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"verify": True})

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert "its role may describe no ECR repository" in failure["message"]
    assert "EcrRepositoryArns parameter of the function's stack" in failure["message"]


def test_a_repository_the_stack_does_not_list_fails_before_any_ecr_call(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEDEFS_ECR_REPOSITORIES", f"arn:aws:ecr:{REGION}:123456789012:repository/shop/api")
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"failOnSeverity": "HIGH"})

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert f"ECR repository arn:aws:ecr:{REGION}:123456789012:repository/shop/web, which" in failure["message"]
    assert "EcrRepositoryArns" in failure["message"]


@pytest.mark.usefixtures("repositories")
def test_findings_at_the_severity_fail_with_counts_and_the_first_findings(aws: LocalAws, invoke: Invoke) -> None:
    # Given an image with one critical finding among others
    pushed(aws, DIGEST_A, "v1")
    scanned(
        aws,
        DIGEST_A,
        {"CRITICAL": 1, "HIGH": 2, "LOW": 4, "UNDEFINED": 1},
        [finding("CVE-2024-3094", "CRITICAL", "xz-utils", "5.6.0"), finding("CVE-2023-1", "HIGH", "zlib", "1.2")],
    )
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"failOnSeverity": "CRITICAL", "pin": "digest"})

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert failure["message"] == (
        f'Image {WEB}@{DIGEST_A} for container "web" has scan findings at or above CRITICAL (UserParameters '
        '"failOnSeverity"): 1 CRITICAL, 2 HIGH, 4 LOW; 1 UNDEFINED (no rank: listed, not failed on). First findings: '
        "CVE-2024-3094 (CRITICAL, xz-utils 5.6.0). Rebuild the image with fixed packages (the ECR console lists every "
        "finding under the image's vulnerabilities), or deploy it knowingly with a higher severity."
    )


@pytest.mark.usefixtures("repositories")
def test_findings_below_the_severity_pass_and_the_summary_counts_them(aws: LocalAws, invoke: Invoke) -> None:
    pushed(aws, DIGEST_A, "v1")
    scanned(aws, DIGEST_A, {"HIGH": 2, "UNTRIAGED": 3}, [finding("CVE-2023-1", "HIGH", "zlib", "1.2")])
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"failOnSeverity": "CRITICAL", "verify": True})

    report = invoke(event).report

    assert report.succeeded, report.request
    assert report.request["executionDetails"]["summary"] == (
        f"web → {WEB}:v1 (found in ECR, scan: 2 HIGH; 3 UNTRIAGED (no rank: listed, not failed on); none at or "
        "above CRITICAL)"
    )


@pytest.mark.usefixtures("repositories")
def test_an_image_never_scanned_fails_saying_how_to_scan_it(aws: LocalAws, invoke: Invoke) -> None:
    pushed(aws, DIGEST_A, "v1")
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {"failOnSeverity": "HIGH"})

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert f'Image {WEB}:v1 in ECR repository "shop/web"' in failure["message"]
    assert "was never scanned" in failure["message"]
    assert "aws ecr start-image-scan" in failure["message"]


@pytest.mark.usefixtures("repositories")
def test_the_stacks_floors_apply_to_an_action_that_says_nothing(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack that verifies every image, and an action whose image was deleted
    monkeypatch.setenv("IMAGEDEFS_VERIFY_IMAGES", "true")
    event = job(aws, image_detail(digest=DIGEST_A, tags=["v1"]), {})
    aws.ecr.create_repository(repositoryName="shop/web")

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert 'no image has tag "v1"' in failure["message"]


@pytest.mark.usefixtures("repositories")
@pytest.mark.parametrize(
    ("files", "stack_floors", "summary_note"),
    [
        pytest.param(
            {"imageDetail.json": {"ImageURI": f"{WEB}:v1"}},
            False,
            "image chosen upstream: pinned by digest, its tag left out; "
            'digest of tag "v1" resolved in ECR; found in ECR',
            id="a short imageDetail.json, UserParameters",
        ),
        pytest.param(
            {"imagedefinitions.json": [{"name": "web", "imageUri": f"{WEB}:v1"}]},
            True,
            'digest of tag "v1" resolved in ECR; found in ECR',
            id="a merged entry, the stack's DefaultPin and VerifyImages",
        ),
    ],
)
def test_pin_digest_with_verify_writes_the_digest_ecr_gives_for_a_tag_only_image(
    aws: LocalAws,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, Any],
    stack_floors: bool,
    summary_note: str,
) -> None:
    # Given an artifact naming an ECR image by tag alone (v1, now DIGEST_B), pinned by digest with verify
    pushed(aws, DIGEST_A, "v0")
    pushed(aws, DIGEST_B, "v1")
    if stack_floors:
        monkeypatch.setenv("IMAGEDEFS_DEFAULT_PIN", "digest")
        monkeypatch.setenv("IMAGEDEFS_VERIFY_IMAGES", "true")
    event = with_user_parameters(
        load_event("single-ecr-source.json"), None if stack_floors else {"pin": "digest", "verify": True}
    )
    bucket, key = input_location(event)
    aws.seed(event, {f"{bucket}/{key}": files})

    # When the job runs
    report = invoke(event).report

    # Then the file names the image by the digest ECR gave, the summary says so, and the variables carry it
    assert report.succeeded, report.request
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{WEB}@{DIGEST_B}"}
    ]
    assert report.request["executionDetails"]["summary"] == f"web → {WEB}@{DIGEST_B} ({summary_note})"
    assert report.request["outputVariables"] == {
        "web_imageUri": f"{WEB}@{DIGEST_B}",
        "web_tag": "v1",
        "web_digest": DIGEST_B,
    }


@pytest.mark.usefixtures("repositories")
@pytest.mark.parametrize(
    ("repository", "message"),
    [
        pytest.param(
            "shop/web",
            f'Image {WEB}:v9 is not in ECR repository "shop/web" (registry 123456789012, us-west-2): no image has tag '
            '"v9" (deleted, expired by a lifecycle policy, or never pushed). Push the image again, or run the pipeline '
            "with an image that exists.",
            id="tag not found",
        ),
        pytest.param(
            "shop/gone",
            f'Image {REGISTRY}/shop/gone:v9: ECR repository "shop/gone" (registry 123456789012, us-west-2) does not '
            "exist. Check the image's repository name, account and region (the source action's, or UserParameters "
            '"images").',
            id="repository not found",
        ),
    ],
)
def test_pin_digest_with_verify_fails_on_a_tag_ecr_does_not_have_and_writes_nothing(
    aws: LocalAws, invoke: Invoke, repository: str, message: str
) -> None:
    pushed(aws, DIGEST_A, "v1")
    event = job(aws, {"ImageURI": f"{REGISTRY}/{repository}:v9"}, {"pin": "digest", "verify": True})

    failure = invoke(event).failure

    assert (failure["type"], failure["message"]) == ("JobFailed", message)
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


@pytest.mark.usefixtures("repositories")
def test_pin_digest_with_verify_fails_on_a_tag_only_image_outside_ecr(aws: LocalAws, invoke: Invoke) -> None:
    event = job(aws, {"ImageURI": "ghcr.io/acme/web:v7"}, {"pin": "digest", "verify": True})

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert failure["message"].startswith(
        'Artifact "SourceArtifact", file imageDetail.json: image ghcr.io/acme/web:v7 has a tag but no digest'
    )
    assert (
        'UserParameters "verify" can resolve the digest of a tag only for an image in a private ECR registry '
        "(<account>.dkr.ecr.<region>.amazonaws.com) that the AllowedRegistries parameter of the function's stack "
        "(environment variable IMAGEDEFS_ALLOWED_REGISTRIES) allows, which registry ghcr.io is not: nothing can "
        "resolve it."
    ) in failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)
