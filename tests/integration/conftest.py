"""The handler end to end: moto's server (S3, ECS) and the validating CodePipeline double, over HTTP on loopback."""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from devtools.codepipeline_double import RecordedReport
from devtools.local_aws import LocalAws, local_aws


@pytest.fixture(scope="session")
def _servers() -> Iterator[LocalAws]:
    with local_aws() as aws:
        yield aws


@pytest.fixture
def aws(_servers: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """Fresh S3 state and an empty CodePipeline record, with the function's environment pointing at them."""
    urllib.request.urlopen(urllib.request.Request(f"{_servers.s3_url}/moto-api/reset", method="POST"))  # noqa: S310
    double = _servers.double
    double.reports.clear()
    double.rejected.clear()
    double.faults.clear()
    double.refusals.clear()
    for name, value in _servers.environment.items():
        monkeypatch.setenv(name, value)
    for name in (
        "IMAGEDEFS_DEFAULT_PIN",
        "IMAGEDEFS_DEFAULT_TAG_PATTERN",
        "IMAGEDEFS_ALLOWED_REGISTRIES",
        "IMAGEDEFS_ECS_SERVICES",
        "IMAGEDEFS_VERIFY_IMAGES",
        "IMAGEDEFS_FAIL_ON_SEVERITY",
        "IMAGEDEFS_ECR_REPOSITORIES",
        "IMAGEDEFS_ASSUMABLE_ROLES",
        "IMAGEDEFS_FUNCTION_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    from handlers import image_definitions

    image_definitions._reporter.cache_clear()
    yield _servers
    assert not double.rejected, f"the function sent requests that CodePipeline would reject: {double.rejected}"


@dataclass
class LambdaContext:
    aws_request_id: str = "8f5e3a1c-test-4c1d-9e2f-request00001"
    function_name: str = "image-definitions"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:123456789012:function:image-definitions"
    log_group_name: str = "/aws/lambda/image-definitions"
    log_stream_name: str = "test"
    remaining_millis: int = 60_000
    # Counted down from the invocation's start, as Lambda's runtime does: the handler's budget runs on this clock.
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.remaining_millis / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, round((self.deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    returned: dict[str, Any]
    reports: list[RecordedReport]
    log: str
    log_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def report(self) -> RecordedReport:
        assert len(self.reports) == 1, f"expected exactly one report, got {self.reports}"
        return self.reports[0]

    @property
    def failure(self) -> dict[str, Any]:
        assert not self.report.succeeded, f"expected a failure report, got {self.report.request}"
        details: dict[str, Any] = self.report.request["failureDetails"]
        return details


class Invoke(Protocol):
    def __call__(self, event: dict[str, Any], remaining_millis: int = 60_000) -> Invocation: ...


@pytest.fixture
def invoke(aws: LocalAws) -> Invoke:
    """Run the real handler on an event, capturing what it printed and what CodePipeline received."""
    from handlers.image_definitions import lambda_handler
    from imagedefs.observability import logger

    def run(event: dict[str, Any], remaining_millis: int = 60_000) -> Invocation:
        before = len(aws.double.reports)
        printed = io.StringIO()
        # Powertools' handler holds the stdout of import time: add one that writes where this test reads.
        handler = logging.StreamHandler(printed)
        handler.setFormatter(logger.registered_formatter)
        logger.addHandler(handler)
        try:
            with redirect_stdout(printed):
                returned = lambda_handler(event, LambdaContext(remaining_millis=remaining_millis))
        finally:
            logger.removeHandler(handler)  # type: ignore[attr-defined]
        records = [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]
        return Invocation(returned, aws.double.reports[before:], printed.getvalue(), records)

    return run
