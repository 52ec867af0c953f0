"""The ECR gate's decisions, with a recording ECR reader: which images are ECR's, which repositories the role may
describe (IAM's wildcards), one lookup per distinct image, and what the summary says."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from imagedefs.config import ActionConfig, RegistryRule, Settings, Severity, parse_user_parameters
from imagedefs.errors import ConfigurationError, ImageRefusedError
from imagedefs.image_gate import EcrImage, RepositoryPolicy, ScanFindings, TagDigests, check_images, pull_verdict
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
    policy: RepositoryPolicy = field(default_factory=lambda: RepositoryPolicy(None))
    policies_read: list[str] = field(default_factory=list)

    def digest_of(self, image: EcrImage) -> str:
        self.looked_up.append(image)
        return self.digests.get(image.image_uri, DIGEST_A)

    def scan_findings(self, image: EcrImage, fail_on: Severity) -> ScanFindings:
        self.scanned.append(image)
        return ScanFindings("COMPLETE", {"LOW": 1}, ())

    def repository_policy(self, image: EcrImage) -> RepositoryPolicy:
        self.policies_read.append(image.arn)
        return self.policy


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


TARGET = "222222222222"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def policy_of(*statements: dict[str, object]) -> RepositoryPolicy:
    return RepositoryPolicy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


@pytest.mark.parametrize(
    "policy",
    [
        policy_of({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TARGET}:root"}, "Action": PULL}),
        policy_of({"Effect": "Allow", "Principal": {"AWS": TARGET}, "Action": "ecr:*"}),
        policy_of({"Effect": "Allow", "Principal": "*", "Action": ["ECR:batchget*", "ecr:GetDownloadUrlFor?ayer"]}),
        policy_of(
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::333333333333:root", TARGET]}, "Action": PULL[0]},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": PULL[1]},
            {"Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"},
        ),
        RepositoryPolicy(json.dumps({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*"}})),
    ],
    ids=["root, exact names", "account id, ecr:*", "*, wildcards in any case", "two statements", "one statement"],
)
def test_a_policy_that_grants_both_pull_actions_to_the_account_lets_it_pull(policy: RepositoryPolicy) -> None:
    verdict = pull_verdict(policy, account=TARGET, partition="aws")

    assert verdict.allowed is True, verdict.reason


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (RepositoryPolicy(None), "the repository has no repository policy, so no other account may pull from it"),
        (
            policy_of({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TARGET}:root"}, "Action": PULL[0]}),
            f"its repository policy grants account {TARGET} no ecr:GetDownloadUrlForLayer",
        ),
        (
            policy_of(
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "ecr:*"},
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws-cn:iam::{TARGET}:root"}, "Action": "ecr:*"},
                {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "ecr:*"},
                {"Effect": "Allow", "Principal": "*", "Action": "ecr:DescribeImages"},
                # A Deny or a Condition about other actions is beside the point
                {"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage", "Condition": {"Bool": {}}},
            ),
            f"its repository policy grants account {TARGET} no ecr:BatchGetImage and no ecr:GetDownloadUrlForLayer",
        ),
    ],
    ids=["no policy", "one action missing", "other accounts, partitions, services and actions"],
)
def test_a_policy_that_surely_grants_no_pull_says_what_is_missing(policy: RepositoryPolicy, reason: str) -> None:
    verdict = pull_verdict(policy, account=TARGET, partition="aws")

    assert (verdict.allowed, verdict.reason) == (False, reason)


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (
            policy_of(
                {
                    "Sid": "Org",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": PULL,
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-example"}},
                }
            ),
            'the repository policy\'s statement "Org" may grant the pull (it has a Condition)',
        ),
        (
            policy_of({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": PULL}),
            "the repository policy's statement 1 may grant the pull (it has a NotPrincipal or NotAction)",
        ),
        (
            policy_of({"Effect": "Allow", "Principal": "*", "NotAction": "ecr:DeleteRepository"}),
            "the repository policy's statement 1 may grant the pull (it has a NotPrincipal or NotAction)",
        ),
        (
            policy_of(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{TARGET}:role/ecsTaskExecutionRole"},
                    "Action": PULL,
                }
            ),
            "the repository policy's statement 1 may grant the pull (its Principal names one role or user of the "
            "account, or is not one this function reads)",
        ),
        (
            policy_of(
                {"Effect": "Allow", "Principal": "*", "Action": PULL},
                {"Sid": "NoOutside", "Effect": "Deny", "Principal": "*", "Action": "ecr:*", "Condition": {"a": {}}},
            ),
            'the repository policy\'s statement "NoOutside" may deny the pull',
        ),
        (RepositoryPolicy("{not json"), "its repository policy is not JSON"),
        (RepositoryPolicy('{"Statement": "x"}'), 'its repository policy has no "Statement" this function can read'),
        (RepositoryPolicy(None, unread="the function's role may not read it"), "the function's role may not read it"),
    ],
    ids=["condition", "not principal", "not action", "one role", "a deny that may apply", "not json", "odd", "unread"],
)
def test_a_policy_that_cannot_be_weighed_for_sure_is_not_checked(policy: RepositoryPolicy, reason: str) -> None:
    verdict = pull_verdict(policy, account=TARGET, partition="aws")

    assert (verdict.allowed, verdict.reason) == (None, reason)


def blue_green_config(*, policy_settings: Settings, role: bool = True) -> tuple[Plan, ActionConfig]:
    parameters = {"format": "codedeploy", "service": "prod/shop", "verify": True}
    if role:
        parameters["role"] = f"arn:aws:iam::{TARGET}:role/reader"
    config = parse_user_parameters(json.dumps(parameters), policy_settings)
    return plan_of(image("web", f"{REGISTRY}/shop/web:v1", tag="v1"), image("api", f"{REGISTRY}/shop/web:v1")), config


def gate_settings() -> Settings:
    return Settings.from_environment(
        {
            "IMAGEDEFS_ECR_REPOSITORIES": "arn:aws:ecr:*:123456789012:repository/*",
            "IMAGEDEFS_ASSUMABLE_ROLES": f"arn:aws:iam::{TARGET}:role/reader",
            "IMAGEDEFS_ECS_SERVICES": f"arn:aws:ecs:us-west-2:{TARGET}:service/prod/*",
            "AWS_REGION": "us-west-2",
        }
    )


def test_a_service_of_another_account_that_may_not_pull_fails_the_job_with_the_statement_to_add() -> None:
    # Given a service in account 222222222222 (the role's) and an image of 123456789012 whose repository has no policy
    ecr = RecordingEcr()
    plan, config = blue_green_config(policy_settings=gate_settings())

    # When the gate checks the images, then the job fails naming the image, repository, account and statement
    with pytest.raises(ImageRefusedError) as raised:
        check_images(plan, config, gate_settings(), lambda: ecr, account_id="123456789012")

    message = str(raised.value)
    assert message.startswith(
        f'Image {REGISTRY}/shop/web:v1 for container "web": ECS service '
        f'arn:aws:ecs:us-west-2:{TARGET}:service/prod/shop (UserParameters "service") is in account {TARGET}, and ECR '
        'repository "shop/web" (registry 123456789012, us-west-2) does not let that account pull the image: the '
        "repository has no repository policy, so no other account may pull from it."
    )
    statement = json.loads(message[message.index("{") :])
    assert statement == {
        "Sid": f"AllowPullFromAccount{TARGET}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{TARGET}:root"},
        "Action": PULL,
    }
    assert statement in [
        entry for entry in [statement] if pull_verdict(policy_of(entry), account=TARGET, partition="aws").allowed
    ]


def test_the_summary_says_whether_the_pull_was_checked_reading_each_repository_once() -> None:
    plan, config = blue_green_config(policy_settings=gate_settings())
    granted = policy_of({"Effect": "Allow", "Principal": {"AWS": TARGET}, "Action": PULL})
    unread = RepositoryPolicy(None, unread="the function's role may not read the repository's policy")

    allowed = check_images(plan, config, gate_settings(), lambda: RecordingEcr(policy=granted))
    ecr = RecordingEcr(policy=unread)
    unchecked = check_images(plan, config, gate_settings(), lambda: ecr)

    assert f"web → {REGISTRY}/shop/web:v1 (found in ECR, account {TARGET} may pull it)" in allowed.summary()
    assert (
        "(found in ECR, pull permission not checked (the function's role may not read the repository's policy))"
        in unchecked.summary()
    )
    assert ecr.policies_read == ["arn:aws:ecr:us-west-2:123456789012:repository/shop/web"]


def test_a_service_of_the_images_account_has_its_pull_left_to_iam() -> None:
    # Given a service of the job's own account, the image's registry's
    ecr = RecordingEcr()
    plan, config = blue_green_config(policy_settings=gate_settings(), role=False)

    checked = check_images(plan, config, gate_settings(), lambda: ecr, account_id="123456789012")

    assert ecr.policies_read == []
    assert "pull" not in checked.summary()
