"""ECR, read for the gate (image_gate.py): does an image exist, which digest its tag names, what its finished
scan found, and its repository's policy. Only a job with "verify" or "failOnSeverity" loads this module.

The clients come injected, one per region (the image URI names the registry's account and region), with the
function's own role; an image whose registry is the account of the role UserParameters "role" names is read through
that role instead. Every call runs under the job's time budget, every answer is checked for odd
types, and every ECR error becomes the job's failure here: a denial names the stack parameter that grants it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from imagedefs.aws.session import budgeted_client, call_classified, error_code, http_status, is_connection_failure
from imagedefs.config import SEVERITIES, Severity, Wording
from imagedefs.errors import ConfigurationError, ImageDefsError, ImageRefusedError, ServiceUnavailableError
from imagedefs.image_gate import EcrImage, RepositoryPolicy, ScanFindings
from imagedefs.observability import MAX_ERROR_CODE_CHARS, logger, server_text

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

    from imagedefs.aws.sts import AssumedRole
    from imagedefs.budget import TimeBudget

_Result = TypeVar("_Result")
# One page of findings: 100 enhanced findings (descriptions, CVSS, references, packages) stay well under the bound.
FINDINGS_PAGE_SIZE: Final = 100
# The findings pages read for examples at most (the counts come with the first page): 5,000 findings.
MAX_FINDINGS_PAGES: Final = 50
MAX_ECR_ANSWER_BYTES: Final = 4 * 1024 * 1024
# How many findings a failure message names, and how much of each name, package and version it quotes.
EXAMPLE_FINDINGS: Final = 5
_EXAMPLE_PART_CHARS: Final = 80
# A scan still running is asked about again every SCAN_POLL_SECONDS while this much of the budget would be left
# after the wait, for the rest of the job (writing the outputs) and its report.
SCAN_POLL_SECONDS: Final = 5.0
LEFT_AFTER_WAITING_SECONDS: Final = 3.0
DONE_STATUSES: Final = ("COMPLETE", "ACTIVE")
RUNNING_STATUSES: Final = ("IN_PROGRESS", "PENDING")
_DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_ACCESS_DENIED_CODES: Final = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "UnauthorizedOperation"}
)
_RETRYABLE_CODES: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServerException", "ServiceUnavailable"}
)
# What each finished-but-unusable scan status means, and what to do; IN_PROGRESS and PENDING are waited for.
_SCAN_STATUS_ADVICE: Final = {
    "FAILED": "the scan failed. Start a new one (aws ecr start-image-scan, for basic scanning) or check Amazon "
    "Inspector's coverage of the repository (enhanced scanning), then retry the action",
    "UNSUPPORTED_IMAGE": "ECR cannot scan this image (its operating system, package manager or media type is not "
    "supported). Use a supported base image, or leave failOnSeverity out for this action",
    "SCAN_ELIGIBILITY_EXPIRED": "enhanced scanning no longer rescans the image: its scan duration (Amazon Inspector's "
    "ECR re-scan duration) has passed. Push the image again, or lengthen the re-scan duration, then retry",
    "FINDINGS_UNAVAILABLE": "the scan's findings are not available (Amazon Inspector stopped scanning the image or "
    "the repository). Check Inspector's coverage for the repository, then retry the action",
    "LIMIT_EXCEEDED": "the image was not scanned: a scan limit was reached (basic scanning scans an image at most "
    "once a day). Retry the action later, or turn on enhanced scanning",
    "IMAGE_ARCHIVED": "the image is archived, so it is not scanned, and ECS cannot pull it either. Restore it "
    "(aws ecr update-image-storage-class --target-storage-class STANDARD) and retry the action",
    "IMAGE_SIZE_EXCEEDED": "the image is too large for ECR to scan. Make it smaller, or leave failOnSeverity out "
    "for this action",
}


class EcrImageReader:
    """Looks images up and reads their scan findings, with a client per region from `clients`."""

    def __init__(
        self,
        clients: Callable[[str], ECRClient],
        wording: Wording,
        budget: TimeBudget,
        *,
        role: AssumedRole | None = None,
        poll_seconds: float | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._clients = clients
        self._role = role
        self._budget = budget
        self._permission_setting = wording.settings.ecr_repositories
        self._fail_on_option = wording.options.fail_on_severity
        self._poll_seconds = SCAN_POLL_SECONDS if poll_seconds is None else poll_seconds
        self._sleep = sleep or threading.Event().wait

    def digest_of(self, image: EcrImage) -> str:
        """The digest of the image in ECR (by digest, or by tag when the deploy pins it by tag)."""
        doing = f"looking up image {image.image_uri} in ECR"
        client = self._client(image)
        answer = self._call(
            image,
            doing,
            lambda: client.describe_images(
                registryId=image.registry_id, repositoryName=image.repository, imageIds=[_image_id(image)]
            ),
        )
        details = _list(answer, "imageDetails", doing)
        matching = [detail for detail in details if isinstance(detail, dict) and _is_the_image(detail, image)]
        if not matching:
            raise _unreadable(doing)
        detail = matching[0]
        status = detail.get("imageStatus", "ACTIVE")
        if status == "ARCHIVED":
            raise ImageRefusedError(
                f'Image {image.image_uri} is archived in ECR repository "{image.repository}" ({image.registry}): ECS '
                "cannot pull it. Restore it (aws ecr update-image-storage-class --target-storage-class STANDARD), "
                "then retry the action."
            )
        if status == "ACTIVATING":
            raise ServiceUnavailableError(
                f'Image {image.image_uri} in ECR repository "{image.repository}" ({image.registry}) is being restored '
                "from the archive; ECS cannot pull it yet. Retry the action once it is restored."
            )
        return str(detail["imageDigest"])

    def scan_findings(self, image: EcrImage, fail_on: Severity) -> ScanFindings:
        """The image's finished scan, waited for while the budget allows; its counts, and the first findings at or
        above `fail_on` (paging on only until EXAMPLE_FINDINGS of them are found)."""
        doing = f"reading the scan findings of image {image.image_uri} in ECR"
        waited_from = self._budget.clock()
        while True:
            page = self._findings_page(image, doing, None)
            status = self._scan_status(page, doing)
            if status not in RUNNING_STATUSES:
                break
            if self._budget.left() < self._poll_seconds + LEFT_AFTER_WAITING_SECONDS:
                raise ServiceUnavailableError(
                    f"ECR's scan of image {image.image_uri} is still {status} after "
                    f"{self._budget.clock() - waited_from:.0f} s of waiting, as long as the function's time allowed. "
                    "Retry the action: a retry sees the scan's result once it is done (raising the function's Timeout "
                    "lets a job wait longer)."
                )
            logger.info("Waiting for an ECR scan", extra={"image": image.image_uri, "scan_status": status})
            self._sleep(self._poll_seconds)
        if status not in DONE_STATUSES:
            advice = _SCAN_STATUS_ADVICE.get(
                status,
                "ECR reports a scan status this function does not know. Check the image's scan in the ECR console",
            )
            description = server_text(_dict(page, "imageScanStatus", doing).get("description", ""), 300)
            raise ImageRefusedError(
                f"The scan of image {image.image_uri} ({self._fail_on_option}) is "
                f"{server_text(status, MAX_ERROR_CODE_CHARS)}" + (f" ({description})" if description else "") + f": "
                f"{advice}."
            )
        # A finished scan always holds its findings block: an answer without one cannot say the image is clean
        findings = _dict(page, "imageScanFindings", doing)
        counts = _counts(findings.get("findingSeverityCounts", {}), doing)
        threshold = SEVERITIES.index(fail_on)
        failing = {severity for severity in SEVERITIES[threshold:] if counts.get(severity)}
        examples: list[str] = []
        pages = 1
        while failing:
            examples.extend(_examples(findings, failing, doing))
            token = page.get("nextToken")
            if len(examples) >= EXAMPLE_FINDINGS or token is None or pages >= MAX_FINDINGS_PAGES:
                break
            if not isinstance(token, str) or not token:
                raise _unreadable(f'{doing} (its "nextToken")')
            page = self._findings_page(image, doing, token)
            findings = _dict(page, "imageScanFindings", doing, required=False)
            pages += 1
        return ScanFindings(status, counts, tuple(examples[:EXAMPLE_FINDINGS]))

    def repository_policy(self, image: EcrImage) -> RepositoryPolicy:
        """The policy of the image's repository; a denied read is no failure, only a pull left unchecked."""
        from botocore.exceptions import ClientError

        doing = f'reading the repository policy of ECR repository "{image.repository}" ({image.registry})'
        client = self._client(image)

        def read() -> RepositoryPolicy:
            try:
                answer = client.get_repository_policy(registryId=image.registry_id, repositoryName=image.repository)
            except ClientError as exc:
                code = error_code(exc)
                if code == "RepositoryPolicyNotFoundException":
                    return RepositoryPolicy(None)
                if code in _ACCESS_DENIED_CODES or http_status(exc) == 403:
                    shown = server_text(code, MAX_ERROR_CODE_CHARS) or "HTTP 403"
                    return RepositoryPolicy(
                        None,
                        unread=f"the function's role may not read the repository's policy, {shown}: it gets "
                        f"ecr:GetRepositoryPolicy on the repositories {self._permission_setting} lists once the "
                        "stack is deployed again",
                    )
                raise
            text = answer.get("policyText") if isinstance(answer, dict) else None
            if not isinstance(text, str):
                raise _unreadable(f'{doing} (its "policyText")')
            return RepositoryPolicy(text)

        return self._call(image, doing, read)

    def _findings_page(self, image: EcrImage, doing: str, token: str | None) -> dict[str, Any]:
        client = self._client(image)
        request: dict[str, Any] = {
            "registryId": image.registry_id,
            "repositoryName": image.repository,
            "imageId": _image_id(image),
            "maxResults": FINDINGS_PAGE_SIZE,
            **({"nextToken": token} if token else {}),
        }
        answer = self._call(image, doing, lambda: client.describe_image_scan_findings(**request))
        if not isinstance(answer, dict):
            raise _unreadable(doing)
        return cast("dict[str, Any]", answer)

    @staticmethod
    def _scan_status(page: dict[str, Any], doing: str) -> str:
        status = _dict(page, "imageScanStatus", doing).get("status")
        if not isinstance(status, str) or not status:
            raise _unreadable(f'{doing} (its "imageScanStatus")')
        return status

    def _through_role(self, image: EcrImage) -> AssumedRole | None:
        """The role an image is read through: the job's role when the registry is its account's, else none (the
        function's own role: a central registry grants other accounts' pulls in its repository policies)."""
        if self._role is not None and image.registry_id == self._role.target.account:
            return self._role
        return None

    def _client(self, image: EcrImage) -> ECRClient:
        role = self._through_role(image)
        if role is None:
            return self._clients(image.region)
        return cast("ECRClient", role.client("ecr", max_answer_bytes=MAX_ECR_ANSWER_BYTES, region_name=image.region))

    def _call(self, image: EcrImage, doing: str, call: Callable[[], _Result]) -> _Result:
        return call_classified(doing, call, self._budget, lambda exc, doing: self._translate(exc, doing, image))

    def _translate(self, exc: BaseException, doing: str, image: EcrImage) -> ImageDefsError | None:
        """The job failure for an ECR or network error, or None when the error is not one of those."""
        from botocore.exceptions import ClientError
        from botocore.parsers import ResponseParserError

        if isinstance(exc, ClientError):
            code, status = error_code(exc), http_status(exc)
            shown = server_text(code, MAX_ERROR_CODE_CHARS) or f"HTTP {status}"
            where = f'ECR repository "{image.repository}" ({image.registry})'
            role = self._through_role(image)
            if (code in _ACCESS_DENIED_CODES or status == 403) and role is not None:
                return role.access_denied(
                    doing=doing, code=shown, action=f"ecr:{exc.operation_name}", resource=image.arn
                )
            if code in _ACCESS_DENIED_CODES or status == 403:
                return ConfigurationError(
                    f"Access denied {doing}: {shown}. The function's role may describe only the ECR repositories "
                    f"listed in {self._permission_setting}: add {image.arn} (or a wildcard such as "
                    f"arn:aws:ecr:{image.region}:{image.registry_id}:repository/*) there and deploy the function's "
                    "stack again; a repository of another account must also allow the role in its repository policy, "
                    "and a permissions boundary on the role (the stack's PermissionsBoundaryArn) must allow the action."
                )
            if code == "RepositoryNotFoundException":
                return ImageRefusedError(
                    f"Image {image.image_uri}: {where} does not exist. Check the image's repository name, account "
                    'and region (the source action\'s, or UserParameters "images").'
                )
            if code == "ImageNotFoundException":
                named = f"digest {image.digest}" if image.digest else f'tag "{image.tag}"'
                return ImageRefusedError(
                    f"Image {image.image_uri} is not in {where}: no image has {named} (deleted, expired by a "
                    "lifecycle policy, or never pushed). Push the image again, or run the pipeline with an image "
                    "that exists."
                )
            if code == "ScanNotFoundException":
                return ImageRefusedError(
                    f"Image {image.image_uri} in {where} was never scanned, so {self._fail_on_option} cannot weigh its "
                    "findings. Turn on scan on push for the repository (basic scanning) or enhanced scanning for the "
                    "registry, or scan it now (aws ecr start-image-scan), then retry the action."
                )
            if code == "ImageArchivedException":
                return ImageRefusedError(
                    f"Image {image.image_uri} is archived in {where}: {_SCAN_STATUS_ADVICE['IMAGE_ARCHIVED']}."
                )
            if status >= 500 or status == 429 or code in _RETRYABLE_CODES or code.endswith("Throttling"):
                return ServiceUnavailableError(
                    f"ECR kept failing {doing} ({shown}, HTTP {status}) after retries. Retry the action."
                )
            message = server_text(exc.response.get("Error", {}).get("Message", ""), 300)
            return ImageRefusedError(
                f"ECR refused {doing}: {shown}" + (f" ({message})" if message else "") + ". Check the image's "
                "repository, tag and digest."
            )
        if is_connection_failure(exc):
            return ServiceUnavailableError(
                f"Could not reach ECR {doing}: {type(exc).__name__} after retries. Retry the action."
            )
        if isinstance(exc, (ResponseParserError, AttributeError, TypeError, ValueError)):
            return _unreadable(doing)
        return None


def _image_id(image: EcrImage) -> ImageIdentifierTypeDef:
    """The image as ECR is asked about it: by digest, else by tag."""
    return {"imageDigest": image.digest} if image.digest else {"imageTag": image.tag or ""}


def _is_the_image(detail: dict[str, Any], image: EcrImage) -> bool:
    """ECR answered for the image asked about, with a digest (an answer for another image must not pass for it)."""
    digest = detail.get("imageDigest")
    if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
        return False
    if image.digest is not None:
        return digest == image.digest
    tags = detail.get("imageTags")
    return isinstance(tags, list) and image.tag in tags


def _examples(findings: dict[str, Any], failing: set[Severity], doing: str) -> list[str]:
    """The findings of a page at a failing severity, as "name (SEVERITY, package version)": basic scanning's
    `findings` (package in attributes) and enhanced scanning's `enhancedFindings` (package details)."""
    examples: list[str] = []
    for finding in _list(findings, "findings", doing, required=False):
        if isinstance(finding, dict) and finding.get("severity") in failing:
            listed = finding.get("attributes")
            attributes = {
                entry.get("key"): entry.get("value")
                for entry in (listed if isinstance(listed, list) else [])
                if isinstance(entry, dict) and isinstance(entry.get("key"), str)
            }
            package = (attributes.get("package_name"), attributes.get("package_version"))
            examples.append(_example(finding.get("name"), finding["severity"], package))
    for finding in _list(findings, "enhancedFindings", doing, required=False):
        if isinstance(finding, dict) and finding.get("severity") in failing:
            details = finding.get("packageVulnerabilityDetails")
            details = details if isinstance(details, dict) else {}
            packages = details.get("vulnerablePackages")
            first = packages[0] if isinstance(packages, list) and packages and isinstance(packages[0], dict) else {}
            name = details.get("vulnerabilityId") or finding.get("title")
            examples.append(_example(name, finding["severity"], (first.get("name"), first.get("version"))))
    return examples


def _example(name: object, severity: str, package: tuple[object, object]) -> str:
    parts = [server_text(part, _EXAMPLE_PART_CHARS) for part in package if isinstance(part, str) and part]
    shown = server_text(name, _EXAMPLE_PART_CHARS) if isinstance(name, str) and name else "unnamed finding"
    return f"{shown} ({severity}" + (f", {' '.join(parts)}" if parts else "") + ")"


# What findingSeverityCounts may name: ECR's FindingSeverity enum, and Inspector's UNTRIAGED (enhanced scanning).
# Any other key ("critical", say) is no ECR answer: taken for an unranked severity, it would pass the gate.
_COUNTED_SEVERITIES: Final = frozenset((*SEVERITIES, "UNDEFINED", "UNTRIAGED"))


def _counts(value: object, doing: str) -> dict[str, int]:
    """findingSeverityCounts: severity → a count (a non-negative integer)."""
    if not isinstance(value, dict) or not all(
        key in _COUNTED_SEVERITIES and isinstance(count, int) and not isinstance(count, bool) and count >= 0
        for key, count in value.items()
    ):
        raise _unreadable(f'{doing} (its "findingSeverityCounts")')
    return cast("dict[str, int]", value)


def _dict(answer: dict[str, Any], key: str, doing: str, required: bool = True) -> dict[str, Any]:
    value = answer.get(key, None if required else {})
    if not isinstance(value, dict):
        raise _unreadable(f'{doing} (its "{key}")')
    return cast("dict[str, Any]", value)


def _list(answer: object, key: str, doing: str, required: bool = True) -> list[Any]:
    value = answer.get(key, None if required else []) if isinstance(answer, dict) else None
    if not isinstance(value, list):
        raise _unreadable(f'{doing} (its "{key}")')
    return value


def _unreadable(doing: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"ECR answered {doing} with something that is not an ECR answer; retry the action, and report it if it "
        "stays so."
    )


def function_ecr_clients(budget: TimeBudget) -> Callable[[str], ECRClient]:
    """ECR clients with the function's own credentials (never the artifact credentials), bound to the budget: one
    per region, made when first needed."""
    clients: dict[str, ECRClient] = {}

    def client_for(region: str) -> ECRClient:
        if region not in clients:
            clients[region] = cast(
                "ECRClient",
                budgeted_client("ecr", budget, max_answer_bytes=MAX_ECR_ANSWER_BYTES, region_name=region),
            )
        return clients[region]

    return client_for
