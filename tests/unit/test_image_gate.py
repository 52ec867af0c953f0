"""The ECR gate's decisions, with a recording ECR reader: which images are ECR's, which repositories the role may
describe (IAM's wildcards), one lookup per distinct image, and what the summary says."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from imagedefs.config import RegistryRule, Settings, Severity, parse_user_parameters
from imagedefs.errors import ConfigurationError
from imagedefs.image_gate import EcrImage, ScanFindings, TagDigests, check_images
from imagedefs.model import ContainerImage, ImageDefinition, MergedDefinitions, Plan
from imagedefs.plan import build_plan
from imagedefs.references import ImageReference, parse_reference
from tests.samples import DIGEST_A, DIGEST_B, REGISTRY

CHINA_REGISTRY = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"


@dataclass
class RecordingEcr:
    digests: dict[str, str] = field(default_factory=dict)
    looked_up: list[EcrImage] = field(default_factory=list)
    scanned: list[EcrImage] = field(default_factory=list)

    def digest_of(self, image: EcrImage) -> str:
        self.looked_up.append(image)
        return self.digests.get(image.image_uri, DIGEST_A)

    def scan_findings(self, image: EcrImage, fail_on: Severity) -> ScanFindings:
        self.scanned.append(image)
        return ScanFindings("COMPLETE", {"LOW": 1}, ())


def plan_of(*images: ContainerImage) -> Plan:
    return Plan(images=images, outputs=())


def image(name: str, uri: str, digest: str | None = None, tag: str | None = None) -> ContainerImage:
    registry = uri.split("/", 1)[0]
    return ContainerImage(name, uri, artifact="Source", registry=registry, tag=tag, digest=digest)


def reference(uri: str) -> ImageReference:
    parsed = parse_reference(uri)
    assert parsed is not None
    return parsed


def settings(repositories: str) -> Settings:
    return Settings.from_environment({"IMAGEDEFS_ECR_REPOSITORIES": repositories, "AWS_REGION": "us-west-2"})


@pytest.mark.parametrize(
    ("listed", "allowed"),
    [
        ("arn:aws:ecr:us-west-2:123456789012:repository/shop/web", True),
        ("arn:aws:ecr:*:123456789012:repository/shop/*", True),
        ("arn:aws:ecr:us-west-2:123456789012:repository/*", True),  # * spans the slash, as in IAM
        ("arn:aws:ecr:us-west-2:123456789012:repository/shop/we?", True),
        ("arn:aws:ecr:us-west-2:123456789012:repository/shop/w", False),
        ("arn:aws:ecr:us-west-2:123456789012:repository/Shop/*", False),  # ARNs match case-sensitively
        ("arn:aws:ecr:eu-west-1:123456789012:repository/shop/*", False),
        ("arn:aws:ecr:us-west-2:210987654321:repository/*", False),
        ("arn:aws:ecr:us-west-2:123456789012:repository/shop.web", False),  # a dot is a dot, not any character
    ],
)
def test_the_role_may_describe_a_repository_only_when_an_arn_or_wildcard_covers_it(listed: str, allowed: bool) -> None:
    ecr = RecordingEcr()
    plan = plan_of(image("web", f"{REGISTRY}/shop/web@{DIGEST_A}", digest=DIGEST_A))
    config = parse_user_parameters('{"verify": true}', settings(listed))

    if allowed:
        check_images(plan, config, settings(listed), lambda: ecr)
        assert len(ecr.looked_up) == 1
    else:
        with pytest.raises(ConfigurationError, match="does not list, so the function's role may not describe it"):
            check_images(plan, config, settings(listed), lambda: ecr)
        assert ecr.looked_up == []


def test_each_distinct_image_is_looked_up_once_and_only_ecr_images_are() -> None:
    # Given one ECR image for two containers, one in China's partition, and images of other registries
    ecr = RecordingEcr(digests={f"{CHINA_REGISTRY}/shop/api:v2": DIGEST_B})
    plan = plan_of(
        image("web", f"{REGISTRY}/shop/web:v1", digest=DIGEST_A, tag="v1"),
        image("worker", f"{REGISTRY}/shop/web:v1", digest=DIGEST_A, tag="v1"),
        image("api", f"{CHINA_REGISTRY}/shop/api:v2", tag="v2"),
        image("proxy", "public.ecr.aws/nginx/nginx:1.27", tag="1.27"),
        image("cache", "ghcr.io/org/cache:3", tag="3"),
    )
    listed = "arn:aws:ecr:*:123456789012:repository/*,arn:aws-cn:ecr:*:123456789012:repository/*"
    config = parse_user_parameters('{"verify": true, "failOnSeverity": "HIGH"}', settings(listed))

    checked = check_images(plan, config, settings(listed), lambda: ecr)

    # Then web's image is looked up and scanned once, by tag; api's in its partition; the others not at all
    assert [(found.arn, found.tag, found.digest) for found in ecr.looked_up] == [
        ("arn:aws:ecr:us-west-2:123456789012:repository/shop/web", "v1", None),
        ("arn:aws-cn:ecr:cn-north-1:123456789012:repository/shop/api", "v2", None),
    ]
    assert [found.digest for found in ecr.scanned] == [DIGEST_A, DIGEST_B]
    assert {entry.name: entry.digest for entry in checked.images}["api"] == DIGEST_B
    assert checked.summary() == (
        f"web → {REGISTRY}/shop/web:v1 (found in ECR, scan: 1 LOW; none at or above HIGH); "
        f"worker → {REGISTRY}/shop/web:v1 (found in ECR, scan: 1 LOW; none at or above HIGH); "
        f"api → {CHINA_REGISTRY}/shop/api:v2 (found in ECR, scan: 1 LOW; none at or above HIGH); "
        "proxy → public.ecr.aws/nginx/nginx:1.27 (not in ECR: not looked up); "
        "cache → ghcr.io/org/cache:3 (not in ECR: not looked up)"
    )


def test_a_job_with_no_ecr_image_needs_no_permission_and_reads_no_ecr() -> None:
    plan = plan_of(image("proxy", "docker.io/library/nginx:1.27", tag="1.27"))
    config = parse_user_parameters('{"verify": true}', Settings())

    def no_ecr() -> RecordingEcr:
        raise AssertionError("no ECR image: no reader")

    checked = check_images(plan, config, Settings(), no_ecr)

    assert checked.summary() == "proxy → docker.io/library/nginx:1.27 (not in ECR: not looked up)"


def test_tag_digests_look_each_tag_up_once_and_the_gate_does_not_look_them_up_again() -> None:
    # Given two merged entries naming one ECR image by tag alone, under pin "digest" with verify
    ecr = RecordingEcr(digests={f"{REGISTRY}/shop/web:v1": DIGEST_B})
    listed = settings("arn:aws:ecr:us-west-2:123456789012:repository/shop/*")
    config = parse_user_parameters('{"verify": true, "pin": "digest", "failOnSeverity": "HIGH"}', listed)
    merged = MergedDefinitions(
        "Defs",
        tuple(
            ImageDefinition(name, f"{REGISTRY}/shop/web:v1", reference(f"{REGISTRY}/shop/web:v1"))
            for name in ("web", "worker")
        ),
    )
    tag_digests = TagDigests(config=config, settings=listed, ecr=lambda: ecr)

    # When the plan resolves the tag, and the gate checks the plan
    plan = build_plan([merged], ["Out"], config, listed, digest_resolver=tag_digests)
    checked = check_images(plan, config, listed, lambda: ecr, tag_digests.found)

    # Then ECR is asked once, by tag; the gate reuses that answer and scans the digest ECR gave
    assert [(found.tag, found.digest) for found in ecr.looked_up] == [("v1", None)]
    assert [found.digest for found in ecr.scanned] == [DIGEST_B]
    assert checked.summary() == (
        f'web → {REGISTRY}/shop/web@{DIGEST_B} (digest of tag "v1" resolved in ECR; found in ECR, scan: 1 LOW; none '
        f'at or above HIGH); worker → {REGISTRY}/shop/web@{DIGEST_B} (digest of tag "v1" resolved in ECR; found in '
        "ECR, scan: 1 LOW; none at or above HIGH)"
    )


def test_tag_digests_check_the_permission_before_any_call_and_leave_other_registries_alone() -> None:
    ecr = RecordingEcr()
    listed = settings("arn:aws:ecr:us-west-2:123456789012:repository/shop/api")
    config = parse_user_parameters('{"verify": true, "pin": "digest"}', listed)
    tag_digests = TagDigests(config=config, settings=listed, ecr=lambda: ecr)

    assert tag_digests("ghcr.io/acme/web:v1") is None
    with pytest.raises(ConfigurationError, match="repository/shop/web, which the EcrRepositoryArns parameter"):
        tag_digests(f"{REGISTRY}/shop/web:v1")
    assert ecr.looked_up == []
    assert tag_digests.found == {}


@pytest.mark.parametrize(
    ("registry", "region"),
    [
        ("123456789012.DKR.ECR.US-WEST-2.AMAZONAWS.COM", "us-west-2"),  # host names have no case
        ("123456789012.dkr-ecr.us-west-2.on.aws", "us-west-2"),  # ECR's dual-stack endpoint
        ("123456789012.dkr-ecr-fips.us-east-1.on.aws", "us-east-1"),
    ],
)
def test_an_ecr_registry_in_capitals_or_dual_stack_is_looked_up_and_scanned_as_any(registry: str, region: str) -> None:
    # Given an image of the home account's ECR, its registry written another way
    ecr = RecordingEcr()
    plan = plan_of(image("web", f"{registry}/shop/web@{DIGEST_A}", digest=DIGEST_A))
    listed = "arn:aws:ecr:*:123456789012:repository/shop/*"
    config = parse_user_parameters('{"verify": true, "failOnSeverity": "HIGH"}', settings(listed))

    # When the gate checks it, then it is ECR's image (looked up and scanned), never "not in ECR"
    checked = check_images(plan, config, settings(listed), lambda: ecr)

    assert [found.arn for found in ecr.looked_up] == [f"arn:aws:ecr:{region}:123456789012:repository/shop/web"]
    assert [found.region for found in ecr.scanned] == [region]
    assert "not in ECR" not in checked.summary()
    assert RegistryRule("123456789012").allows(registry)


def test_an_image_written_by_an_unchecked_tag_is_scanned_by_that_tag() -> None:
    # Given an image written by tag (pin "tag") whose source saw digest A, and no "verify": the tag may have moved
    ecr = RecordingEcr()
    plan = plan_of(image("web", f"{REGISTRY}/shop/web:v1", digest=DIGEST_A, tag="v1"))
    listed = "arn:aws:ecr:*:123456789012:repository/shop/*"
    config = parse_user_parameters('{"pin": "tag", "failOnSeverity": "CRITICAL"}', settings(listed))

    check_images(plan, config, settings(listed), lambda: ecr)

    # Then the scan asked about is that of the tag written (what ECS will pull), not of the source's digest
    assert [(found.tag, found.digest) for found in ecr.scanned] == [("v1", None)]
