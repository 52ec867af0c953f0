"""The ECR gate against an ECR that answers what moto does not: pages of findings, scans still running, every scan
status, throttling, odd types, slow and stalled answers, denials. One report each, naming the cause, nothing written.

The double (devtools/ecr_double.py) validates every request, and every answer not marked odd, against botocore's
ECR model; a rejected one fails the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.ecr_double import Answer, EcrDouble, EcrDoubleServer, error
from devtools.local_aws import REGION, LocalAws, load_event
from tests.integration.conftest import Invoke
from tests.samples import DIGEST_A, REGISTRY, image_detail, input_location, with_user_parameters

WEB = f"{REGISTRY}/shop/web"
FOUND = {"imageDetails": [{"registryId": "123456789012", "repositoryName": "shop/web", "imageDigest": DIGEST_A}]}
FOUND_BY_TAG = {"imageDetails": [{**FOUND["imageDetails"][0], "imageTags": ["v1"]}]}


def scan(status: str = "COMPLETE", counts: dict[str, int] | None = None, **more: Any) -> dict[str, Any]:
    findings = {"findingSeverityCounts": counts or {}, **more}
    return {
        "registryId": "123456789012",
        "repositoryName": "shop/web",
        "imageId": {"imageDigest": DIGEST_A},
        "imageScanStatus": {"status": status, "description": f"status {status}"},
        "imageScanFindings": findings,
    }


def answers(*scripted: Answer) -> Callable[[dict[str, Any]], Answer]:
    """The answers in turn, the last one again and again."""
    queue = list(scripted)

    def next_answer(_: dict[str, Any]) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return next_answer


@pytest.fixture
def ecr(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[EcrDouble]:
    with EcrDoubleServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", server.url)
        monkeypatch.setenv("IMAGEDEFS_ECR_REPOSITORIES", f"arn:aws:ecr:{REGION}:123456789012:repository/shop/*")
        monkeypatch.setattr("imagedefs.aws.ecr.SCAN_POLL_SECONDS", 0.2)
        yield server.double
        assert not server.double.rejected, f"requests or answers that ECR's model refuses: {server.double.rejected}"


def job(aws: LocalAws, parameters: dict[str, Any]) -> dict[str, Any]:
    event = with_user_parameters(load_event("single-ecr-source.json"), {"pin": "digest", **parameters})
    bucket, key = input_location(event)
    aws.seed(event, {f"{bucket}/{key}": {"imageDetail.json": image_detail(digest=DIGEST_A, tags=["v1"])}})
    return event


def nothing_written(aws: LocalAws) -> bool:
    listed = aws.s3.list_objects_v2(Bucket="codepipeline-us-west-2-123456789012", Prefix="my-pipeline/Defin")
    return not listed.get("KeyCount")


def test_thousands_of_findings_are_paged_until_the_first_ones_at_the_severity(
    aws: LocalAws, invoke: Invoke, ecr: EcrDouble
) -> None:
    # Given 3,000 findings in 30 pages of 100: 2,998 LOW, and the two CRITICAL ones (enhanced) on the last page
    counts = {"CRITICAL": 2, "LOW": 2998}

    def page(request: dict[str, Any]) -> Answer:
        number = int(request.get("nextToken", "page-0").removeprefix("page-"))
        if number < 29:
            low = [{"name": f"CVE-LOW-{number}-{index}", "severity": "LOW"} for index in range(100)]
            return Answer({**scan(counts=counts, findings=low), "nextToken": f"page-{number + 1}"})
        critical = [
            {
                "severity": "CRITICAL",
                "title": f"CVE-2024-000{index} - openssl",
                "packageVulnerabilityDetails": {
                    "vulnerabilityId": f"CVE-2024-000{index}",
                    "vulnerablePackages": [{"name": "openssl", "version": "3.0.1"}],
                },
            }
            for index in (1, 2)
        ]
        low = [{"name": f"CVE-LOW-29-{index}", "severity": "LOW"} for index in range(98)]
        return Answer(scan(counts=counts, findings=low, enhancedFindings=critical))

    ecr.scripts["DescribeImageScanFindings"] = page

    # When a job that fails on CRITICAL runs
    invocation = invoke(job(aws, {"failOnSeverity": "CRITICAL"}))

    # Then it read every page, in order, and fails naming both critical findings and their package
    message = invocation.failure["message"]
    assert invocation.failure["type"] == "JobFailed"
    assert "1 CRITICAL" not in message and "2 CRITICAL, 2998 LOW" in message
    assert (
        "First findings: CVE-2024-0001 (CRITICAL, openssl 3.0.1), CVE-2024-0002 (CRITICAL, openssl 3.0.1)." in message
    )
    tokens = [
        request.get("nextToken") for operation, request in ecr.requests if operation == "DescribeImageScanFindings"
    ]
    assert tokens == [None] + [f"page-{number}" for number in range(1, 30)]
    assert all(request["maxResults"] == 100 for _, request in ecr.requests)
    assert nothing_written(aws)


def test_no_finding_at_the_severity_reads_one_page_only(aws: LocalAws, invoke: Invoke, ecr: EcrDouble) -> None:
    ecr.scripts["DescribeImageScanFindings"] = answers(Answer({**scan(counts={"HIGH": 500}), "nextToken": "more"}))

    report = invoke(job(aws, {"failOnSeverity": "CRITICAL"})).report

    assert report.succeeded
    assert "scan: 500 HIGH; none at or above CRITICAL" in report.request["executionDetails"]["summary"]
    assert len(ecr.requests) == 1


def test_a_scan_still_running_is_waited_for(aws: LocalAws, invoke: Invoke, ecr: EcrDouble) -> None:
    ecr.scripts["DescribeImageScanFindings"] = answers(
        Answer(scan("PENDING")), Answer(scan("IN_PROGRESS")), Answer(scan("ACTIVE", {"LOW": 1}))
    )

    report = invoke(job(aws, {"failOnSeverity": "MEDIUM"})).report

    assert report.succeeded
    assert "scan: 1 LOW; none at or above MEDIUM" in report.request["executionDetails"]["summary"]
    assert len(ecr.requests) == 3


def test_a_scan_that_never_finishes_is_system_unavailable_before_the_deadline(
    aws: LocalAws, invoke: Invoke, ecr: EcrDouble
) -> None:
    # Given a scan that stays IN_PROGRESS, and 8 s to Lambda's deadline
    ecr.scripts["DescribeImageScanFindings"] = answers(Answer(scan("IN_PROGRESS")))
    started = time.monotonic()

    invocation = invoke(job(aws, {"failOnSeverity": "HIGH"}), remaining_millis=8_000)

    # Then it stops waiting in time and says that a retry will see the result
    assert time.monotonic() - started < 8
    assert invocation.failure["type"] == "SystemUnavailable"
    assert f"ECR's scan of image {WEB}@{DIGEST_A} is still IN_PROGRESS after" in invocation.failure["message"]
    assert "a retry sees the scan's result once it is done" in invocation.failure["message"]
    assert nothing_written(aws)


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("FAILED", "the scan failed. Start a new one"),
        ("UNSUPPORTED_IMAGE", "ECR cannot scan this image"),
        ("SCAN_ELIGIBILITY_EXPIRED", "enhanced scanning no longer rescans the image"),
        ("FINDINGS_UNAVAILABLE", "the scan's findings are not available"),
        ("LIMIT_EXCEEDED", "the image was not scanned: a scan limit was reached"),
        ("IMAGE_ARCHIVED", "the image is archived"),
        ("IMAGE_SIZE_EXCEEDED", "the image is too large for ECR to scan"),
    ],
)
def test_each_scan_status_that_gives_no_findings_says_what_to_do(
    aws: LocalAws, invoke: Invoke, ecr: EcrDouble, status: str, advice: str
) -> None:
    ecr.scripts["DescribeImageScanFindings"] = answers(Answer(scan(status)))

    failure = invoke(job(aws, {"failOnSeverity": "HIGH"})).failure

    assert failure["type"] == "JobFailed"
    assert failure["message"].startswith(
        f'The scan of image {WEB}@{DIGEST_A} (UserParameters "failOnSeverity") is {status} (status {status}): {advice}'
    )


def test_every_scan_status_of_ecrs_model_is_handled() -> None:
    import botocore.session

    from imagedefs.aws.ecr import _SCAN_STATUS_ADVICE, DONE_STATUSES, RUNNING_STATUSES

    model = botocore.session.get_session().get_service_model("ecr")
    statuses = set(model.shape_for("ScanStatus").enum)  # type: ignore[attr-defined]
    assert statuses == set(_SCAN_STATUS_ADVICE) | set(DONE_STATUSES) | set(RUNNING_STATUSES)


def test_throttling_is_retried(aws: LocalAws, invoke: Invoke, ecr: EcrDouble) -> None:
    ecr.scripts["DescribeImages"] = answers(error("ThrottlingException"), error("ThrottlingException"), Answer(FOUND))

    report = invoke(job(aws, {"verify": True})).report

    assert report.succeeded
    assert len(ecr.requests) == 3


def test_throttling_that_lasts_is_system_unavailable(aws: LocalAws, invoke: Invoke, ecr: EcrDouble) -> None:
    ecr.scripts["DescribeImages"] = answers(error("ThrottlingException"))

    failure = invoke(job(aws, {"verify": True})).failure

    assert failure["type"] == "SystemUnavailable"
    assert (
        f"ECR kept failing looking up image {WEB}@{DIGEST_A} in ECR (ThrottlingException, HTTP 400)"
        in (failure["message"])
    )


def test_access_denied_names_the_stack_parameter(aws: LocalAws, invoke: Invoke, ecr: EcrDouble) -> None:
    ecr.scripts["DescribeImageScanFindings"] = answers(error("AccessDeniedException"))

    failure = invoke(job(aws, {"failOnSeverity": "HIGH"})).failure

    assert failure["type"] == "ConfigurationError"
    assert "Access denied reading the scan findings of image" in failure["message"]
    assert "the EcrRepositoryArns parameter of the function's stack" in failure["message"]
    assert f"add arn:aws:ecr:{REGION}:123456789012:repository/shop/web" in failure["message"]


ODD_ANSWERS = {
    "imageDetails not a list": ("DescribeImages", {"imageDetails": {"imageDigest": DIGEST_A}}),
    "no imageDetails": ("DescribeImages", {}),
    "a digest that is a number": ("DescribeImages", {"imageDetails": [{"imageDigest": 5}]}),
    "another image's digest": ("DescribeImages", {"imageDetails": [{"imageDigest": "sha256:" + "c" * 64}]}),
    "counts a list": ("DescribeImageScanFindings", {**scan(), "imageScanFindings": {"findingSeverityCounts": [1]}}),
    "a count that is text": ("DescribeImageScanFindings", scan(counts={"HIGH": "2"})),  # type: ignore[dict-item]
    "a negative count": ("DescribeImageScanFindings", scan(counts={"HIGH": -1})),
    "a status that is a number": ("DescribeImageScanFindings", {**scan(), "imageScanStatus": {"status": 3}}),
    "no status": ("DescribeImageScanFindings", {"imageScanFindings": {}}),
    "findings not a list": (
        "DescribeImageScanFindings",
        scan(counts={"CRITICAL": 1}, findings={"name": "CVE-1"}),
    ),
    "a next token that is a number": (
        "DescribeImageScanFindings",
        {**scan(counts={"CRITICAL": 1}), "nextToken": 7},
    ),
    # A finished scan without its findings, or counts under a severity ECR does not have, must not pass as clean
    "a finished scan without findings": ("DescribeImageScanFindings", {"imageScanStatus": {"status": "COMPLETE"}}),
    "a severity in lower case": ("DescribeImageScanFindings", scan(counts={"critical": 3})),
    "not JSON": ("DescribeImageScanFindings", b"<html>proxy error</html>"),
    "a JSON list": ("DescribeImages", [1, 2]),
}


@pytest.mark.parametrize("case", ODD_ANSWERS.values(), ids=list(ODD_ANSWERS))
def test_an_odd_ecr_answer_ends_in_one_report_naming_ecr(
    aws: LocalAws, invoke: Invoke, ecr: EcrDouble, case: tuple[str, Any]
) -> None:
    operation, body = case
    ecr.scripts["DescribeImages"] = answers(Answer(FOUND))
    ecr.scripts["DescribeImageScanFindings"] = answers(Answer(scan()))
    ecr.scripts[operation] = answers(Answer(body, odd=True))

    failure = invoke(job(aws, {"verify": True, "failOnSeverity": "CRITICAL"})).failure

    assert failure["type"] == "SystemUnavailable"
    assert "with something that is not an ECR answer" in failure["message"]
    assert nothing_written(aws)


@pytest.mark.parametrize(
    "delays",
    [pytest.param([30.0], id="stalled: one answer after 30 s"), pytest.param([0.6] * 50, id="slow: every page 0.6 s")],
)
def test_a_slow_or_stalled_ecr_is_ended_by_the_deadline(
    aws: LocalAws, invoke: Invoke, ecr: EcrDouble, delays: list[float]
) -> None:
    # Given an ECR that answers each findings page late (50 pages, CRITICAL findings nowhere to be found in them),
    # and 5 s to Lambda's deadline
    pending = list(delays)
    page = {**scan(counts={"CRITICAL": 1}, findings=[{"name": "CVE-LOW", "severity": "LOW"}]), "nextToken": "next"}
    ecr.scripts["DescribeImageScanFindings"] = lambda _: Answer(page, delay=pending.pop(0) if pending else 30.0)
    started = time.monotonic()

    invocation = invoke(job(aws, {"failOnSeverity": "CRITICAL"}), remaining_millis=5_000)

    # Then it reports before the deadline, naming what it was doing (the deadline, or a read timeout cut to it)
    assert time.monotonic() - started < 5
    assert invocation.failure["type"] == "SystemUnavailable"
    assert f"reading the scan findings of image {WEB}@{DIGEST_A} in ECR" in invocation.failure["message"]
