"""The ECR gate, before anything is written: every ECR image of the plan looked up ("verify") and its scan findings
weighed ("failOnSeverity"). Only a job that asks for either loads this module; ECR itself is read by aws/ecr.py.

What the gate decides is here: which images are in ECR (their registry host says so), whether the function's role
may describe their repository, whether a tag still points at the artifact's digest, whether the findings
reach the severity, and whether the account of the action's ECS service may pull an image of another account's
registry (its repository policy, read as IAM would: only a policy read with certainty fails the job). What ECR
answers, and how long a scan is waited for, is the adapter's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

from imagedefs.config import SEVERITIES, ActionConfig, Settings, Severity, iam_arn_pattern, partition_of
from imagedefs.errors import ConfigurationError, ImageRefusedError
from imagedefs.model import ContainerImage, Plan
from imagedefs.references import ECR_HOST_PATTERN, parse_reference

NOT_IN_ECR_NOTE: Final = "not in ECR: not looked up"
# What ECS needs of an image's repository to pull it (its execution role's own IAM policy grants the rest).
PULL_ACTIONS: Final = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


@dataclass(frozen=True)
class EcrImage:
    """One ECR image as the deploy names it: looked up by digest, or by tag when it is pinned by tag."""

    image_uri: str
    registry_id: str
    region: str
    repository: str
    arn: str
    digest: str | None
    tag: str | None

    @property
    def registry(self) -> str:
        return f"registry {self.registry_id}, {self.region}"


@dataclass(frozen=True)
class ScanFindings:
    """A finished scan: the counts by severity ECR gives, and the first findings at or above the gate's."""

    status: str
    counts: Mapping[str, int]
    examples: tuple[str, ...]


@dataclass(frozen=True)
class RepositoryPolicy:
    """A repository's policy as ECR gave it: its text (None: the repository has none), or why it was not read."""

    text: str | None
    unread: str | None = None


@dataclass(frozen=True)
class PullVerdict:
    """Whether an account may pull from a repository: True, False, or None when the policy cannot say for sure."""

    allowed: bool | None
    reason: str


class EcrImages(Protocol):
    """Reads ECR (aws.ecr, which only a gated job loads); each failure is raised as the job's failure."""

    def digest_of(self, image: EcrImage) -> str:
        """The digest the image's tag (or digest) names in ECR now."""

    def scan_findings(self, image: EcrImage, fail_on: Severity) -> ScanFindings:
        """The image's finished scan; examples are findings at or above `fail_on`."""

    def repository_policy(self, image: EcrImage) -> RepositoryPolicy:
        """The policy of the image's repository."""


class TagDigests:
    """Under pin "digest" with "verify": the digest ECR gives for an image an artifact names by tag only, looked
    up before planning renders (plan.py's DigestResolver), each image once; `check_images` reuses the lookups."""

    def __init__(self, *, config: ActionConfig, settings: Settings, ecr: Callable[[], EcrImages]) -> None:
        self._config = config
        self._settings = settings
        self._ecr = ecr
        self._by_tag: dict[EcrImage, str] = {}
        # Each resolved image as the plan then names it (by digest), with its digest: already looked up.
        self.found: dict[EcrImage, str] = {}

    def __call__(self, image_uri: str) -> str | None:
        """The digest the image's tag names in ECR; None when the image is not in ECR (nothing can resolve it)."""
        tagged = _ecr_image(image_uri)
        if tagged is None:
            return None
        if tagged not in self._by_tag:
            _check_permitted([tagged], self._config, self._settings)
            digest = self._ecr().digest_of(tagged)
            self._by_tag[tagged] = digest
            reference = parse_reference(image_uri)
            assert reference is not None, "an image in ECR has a valid reference"
            pinned = replace(tagged, image_uri=f"{reference.name}@{digest}", digest=digest, tag=None)
            self.found[pinned] = digest
        return self._by_tag[tagged]


def check_images(
    plan: Plan,
    config: ActionConfig,
    settings: Settings,
    ecr: Callable[[], EcrImages],
    looked_up: Mapping[EcrImage, str] | None = None,
    *,
    account_id: str | None = None,
) -> Plan:
    """The plan with each ECR image's digest (a tag-pinned image's too) and what the gate found in the summary;
    raise, before anything is written, on an image the gate refuses. `looked_up`: digests already read from ECR
    (TagDigests.found), not asked for again; `account_id`: the job's, where a service named without an ARN is."""
    in_ecr = {image.name: _ecr_image(image.image_uri) for image in plan.images}
    wanted = [image for image in in_ecr.values() if image is not None]
    if not wanted:
        return replace(plan, images=tuple(replace(image, note=_noted(image, NOT_IN_ECR_NOTE)) for image in plan.images))
    _check_permitted(wanted, config, settings)
    reader = ecr()
    digests: dict[EcrImage, str] = dict(looked_up or {})
    findings: dict[EcrImage, ScanFindings] = {}
    policies: dict[str, RepositoryPolicy] = {}
    service_arn = _service_arn(config, settings, account_id)
    images: list[ContainerImage] = []
    for image in plan.images:
        ecr_image = in_ecr[image.name]
        if ecr_image is None:
            images.append(replace(image, note=_noted(image, NOT_IN_ECR_NOTE)))
            continue
        notes: list[str] = []
        digest = image.digest
        if config.verify:
            if ecr_image not in digests:
                digests[ecr_image] = reader.digest_of(ecr_image)
            digest = _checked_digest(image, ecr_image, digests[ecr_image])
            notes.append("found in ECR")
            if service_arn is not None and _pulled_across_accounts(ecr_image, service_arn):
                if ecr_image.arn not in policies:
                    policies[ecr_image.arn] = reader.repository_policy(ecr_image)
                notes.append(_pull_checked(image, ecr_image, service_arn, policies[ecr_image.arn], config))
        if config.fail_on_severity is not None:
            # The scan of what is written: the checked digest, or, for an image written by a tag nobody checked, the
            # image the tag names now (what ECS will pull), not the digest the source saw
            checked = ecr_image.digest or (digest if config.verify else None)
            scanned = replace(ecr_image, digest=checked) if checked else ecr_image
            if scanned not in findings:
                findings[scanned] = reader.scan_findings(scanned, config.fail_on_severity)
            notes.append(_weighed(image, findings[scanned], config))
        images.append(replace(image, digest=digest, note=_noted(image, ", ".join(notes))))
    return replace(plan, images=tuple(images))


def _service_arn(config: ActionConfig, settings: Settings, account_id: str | None) -> str | None:
    """The ARN of the ECS service the action deploys to (its tasks pull the images), when the action names one."""
    if config.service is None or config.service.arn is not None:
        return None if config.service is None else config.service.arn
    account = config.role.account if config.role is not None else account_id
    if account is None:
        return None
    partition = config.role.partition if config.role is not None else partition_of(settings.region)
    return config.service.arn_in(partition=partition, region=settings.region, account=account)


def _pulled_across_accounts(image: EcrImage, service_arn: str) -> bool:
    """A service of another account than the image's registry, in the same partition (IAM policies of the
    service's own account decide a pull from its own registry, and no pull crosses partitions)."""
    _, partition, _, _, account = service_arn.split(":")[:5]
    return account != image.registry_id and partition == partition_of(image.region)


def _pull_checked(
    image: ContainerImage, ecr_image: EcrImage, service_arn: str, policy: RepositoryPolicy, config: ActionConfig
) -> str:
    """The summary's word on whether the service's account may pull the image; raise when it surely may not."""
    _, partition, _, _, account = service_arn.split(":")[:5]
    verdict = pull_verdict(policy, account=account, partition=partition)
    if verdict.allowed is None:
        return f"pull permission not checked ({verdict.reason})"
    if verdict.allowed:
        return f"account {account} may pull it"
    statement = json.dumps(
        {
            "Sid": f"AllowPullFromAccount{account}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": list(PULL_ACTIONS),
        }
    )
    raise ImageRefusedError(
        f'Image {image.image_uri} for container "{image.name}": ECS service {service_arn} '
        f'({config.wording.options.service}) is in account {account}, and ECR repository "{ecr_image.repository}" '
        f"({ecr_image.registry}) does not let that account pull the image: {verdict.reason}. ECS would fail to start "
        f"the new tasks (CannotPullContainerError). Add this statement to the repository's policy (the ECR console's "
        f"Permissions of the repository; aws ecr set-repository-policy replaces the whole policy, so merge it into "
        f"the current one), then retry the action: {statement}"
    )


def pull_verdict(policy: RepositoryPolicy, *, account: str, partition: str) -> PullVerdict:
    """Whether the repository policy lets `account` (of `partition`) call every one of PULL_ACTIONS.

    Read as IAM reads it, but only as far as it is sure: an Allow without a Condition for the account (or "*")
    grants; a statement with a Condition, a NotPrincipal or a NotAction, a principal that is one role or user of the
    account, or a Deny that may apply, leaves the answer open (None) when it matters. Without a policy no other
    account may pull."""
    if policy.unread is not None:
        return PullVerdict(None, policy.unread)
    if policy.text is None:
        return PullVerdict(False, "the repository has no repository policy, so no other account may pull from it")
    try:
        document = json.loads(policy.text)
    except ValueError:
        return PullVerdict(None, "its repository policy is not JSON")
    statements = document.get("Statement") if isinstance(document, dict) else None
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not all(isinstance(statement, dict) for statement in statements):
        return PullVerdict(None, 'its repository policy has no "Statement" this function can read')
    granted: set[str] = set()
    may_grant: list[str] = []
    may_deny: list[str] = []
    for number, statement in enumerate(statements, start=1):
        sid = statement.get("Sid")
        named = f'statement "{sid}"' if isinstance(sid, str) and sid else f"statement {number}"
        effect = statement.get("Effect")
        principal = (
            None if "NotPrincipal" in statement else _principal_covers(statement.get("Principal"), account, partition)
        )
        actions = None if "NotAction" in statement else _pull_actions_in(statement.get("Action"))
        if principal is False or actions == set():
            continue  # the statement is about other principals or other actions
        if effect == "Allow" and principal is True and actions is not None and "Condition" not in statement:
            granted |= actions
        elif effect == "Deny":
            may_deny.append(f"{named} may deny the pull")
        elif effect == "Allow":
            may_grant.append(f"{named} may grant the pull ({_open_point(statement, principal)})")
        else:
            may_grant.append(f"{named} has an Effect this function does not know")
    missing = [action for action in PULL_ACTIONS if action not in granted]
    if not missing:
        if may_deny:
            return PullVerdict(None, f"the repository policy's {may_deny[0]}")
        return PullVerdict(True, f"the repository policy lets account {account} pull")
    if may_grant:
        return PullVerdict(None, f"the repository policy's {may_grant[0]}")
    return PullVerdict(False, f"its repository policy grants account {account} no {' and no '.join(missing)}")


def _open_point(statement: Mapping[str, object], principal: bool | None) -> str:
    """Why an Allow that may concern the pull cannot be weighed for sure."""
    if "Condition" in statement:
        return "it has a Condition"
    if "NotPrincipal" in statement or "NotAction" in statement:
        return "it has a NotPrincipal or NotAction"
    if principal is None:
        return "its Principal names one role or user of the account, or is not one this function reads"
    return "its Action is not one this function reads"


def _principal_covers(principal: object, account: str, partition: str) -> bool | None:
    """True: the Principal covers the whole account; False: not the account at all; None: maybe (one of its roles
    or users, or a shape this function does not read)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return None
    named = principal.get("AWS")
    if named is None:
        return False  # only services, federated or canonical users
    entries = named if isinstance(named, list) else [named]
    verdicts = [_aws_principal_covers(entry, account, partition) for entry in entries]
    return True if True in verdicts else None if None in verdicts else False


def _aws_principal_covers(entry: object, account: str, partition: str) -> bool | None:
    if not isinstance(entry, str):
        return None
    if entry in ("*", account, f"arn:{partition}:iam::{account}:root"):
        return True
    if entry.startswith(f"arn:{partition}:iam::{account}:") or entry.startswith(f"arn:{partition}:sts::{account}:"):
        return None  # one role or user: perhaps the service's task execution role
    return False


def _pull_actions_in(action: object) -> set[str] | None:
    """The pull actions that an Action (a name or a list, IAM wildcards, any case) covers; None: not readable."""
    entries = action if isinstance(action, list) else [action]
    names = [entry for entry in entries if isinstance(entry, str)]
    if len(names) != len(entries):
        return None
    patterns = [re.compile(iam_arn_pattern(name).pattern, re.IGNORECASE) for name in names]
    return {wanted for wanted in PULL_ACTIONS if any(pattern.fullmatch(wanted) for pattern in patterns)}


def _ecr_image(image_uri: str) -> EcrImage | None:
    """The image as ECR knows it, when its registry is a private ECR registry (account.dkr.ecr.region...)."""
    reference = parse_reference(image_uri)
    host = None if reference is None else ECR_HOST_PATTERN.fullmatch(reference.registry)
    if host is None or reference is None:
        return None
    region = host["region"].lower()
    partition = partition_of(region)
    arn = f"arn:{partition}:ecr:{region}:{host['account']}:repository/{reference.repository}"
    by_digest = reference.digest is not None
    return EcrImage(
        image_uri=image_uri,
        registry_id=host["account"],
        region=region,
        repository=reference.repository,
        arn=arn,
        digest=reference.digest if by_digest else None,
        # A reference without a tag names "latest", as Docker and ECS read it.
        tag=None if by_digest else reference.tag or "latest",
    )


def _check_permitted(images: Sequence[EcrImage], config: ActionConfig, settings: Settings) -> None:
    """Refuse, before any call, a repository the function's role may not describe (IAM would deny it)."""
    asked = config.wording.options.verify if config.verify else config.wording.options.fail_on_severity
    setting = settings.wording.settings.ecr_repositories
    if not settings.ecr_repositories:
        raise ConfigurationError(
            f"{asked} has the function look images up in ECR, and its role may describe no ECR repository: list "
            f"the repositories' ARNs in {setting} (wildcards allowed, for example "
            f"arn:aws:ecr:{images[0].region}:{images[0].registry_id}:repository/*) and deploy the function's stack "
            "again."
        )
    patterns = [iam_arn_pattern(text) for text in settings.ecr_repositories]
    for image in images:
        if not any(pattern.fullmatch(image.arn) for pattern in patterns):
            raise ConfigurationError(
                f"Image {image.image_uri} is in ECR repository {image.arn}, which {setting} does not list, so the "
                f"function's role may not describe it ({asked}). Add the ARN (or a wildcard such as "
                f"arn:aws:ecr:{image.region}:{image.registry_id}:repository/*) there and deploy the function's "
                "stack again."
            )


def _checked_digest(image: ContainerImage, ecr_image: EcrImage, found: str) -> str:
    if image.digest is not None and found != image.digest:
        raise ImageRefusedError(
            f'Image {image.image_uri} for container "{image.name}": tag "{ecr_image.tag}" in ECR repository '
            f'"{ecr_image.repository}" ({ecr_image.registry}) now points to {found}, not to {image.digest}, the '
            f"digest {_origin(image)} gives: the tag moved after the source ran. Run the pipeline again with the "
            'current image, or pin by digest ({"pin": "digest"}) to deploy exactly the image the source saw.'
        )
    return found


def _weighed(image: ContainerImage, scan: ScanFindings, config: ActionConfig) -> str:
    """The scan's verdict for the summary; raise when findings reach the gate's severity."""
    assert config.fail_on_severity is not None
    threshold = SEVERITIES.index(config.fail_on_severity)
    ranked = [(severity, scan.counts.get(severity, 0)) for severity in reversed(SEVERITIES)]
    counted = [f"{count} {severity}" for severity, count in ranked if count]
    unranked = sorted((severity, count) for severity, count in scan.counts.items() if severity not in SEVERITIES)
    unranked_text = (
        "; " + ", ".join(f"{count} {severity}" for severity, count in unranked if count) + " (no rank: listed, "
        "not failed on)"
        if any(count for _, count in unranked)
        else ""
    )
    failing = [severity for severity, count in ranked if count and SEVERITIES.index(severity) >= threshold]
    if failing:
        shown = ", ".join(scan.examples) or "none in the pages read"
        raise ImageRefusedError(
            f'Image {image.image_uri} for container "{image.name}" has scan findings at or above '
            f"{config.fail_on_severity} ({config.wording.options.fail_on_severity}): {', '.join(counted)}"
            f"{unranked_text}. First findings: {shown}. Rebuild the image with fixed packages (the ECR console lists "
            "every finding under the image's vulnerabilities), or deploy it knowingly with a higher severity."
        )
    verdict = ", ".join(counted) if counted else "no ranked findings"
    return f"scan: {verdict}{unranked_text}; none at or above {config.fail_on_severity}"


def _origin(image: ContainerImage) -> str:
    return f'artifact "{image.artifact}"' if image.given_in is None else image.given_in


def _noted(image: ContainerImage, note: str) -> str:
    return f"{image.note}; {note}" if image.note else note
