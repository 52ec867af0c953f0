"""A stalled or unreachable S3 still ends in a SystemUnavailable report before Lambda's deadline."""

from __future__ import annotations

import socket
import time

import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event
from imagedefs.budget import TimeBudget
from imagedefs.errors import ReportNotDeliveredError
from tests.integration.conftest import Invoke

REMAINING_MILLIS = 6_000


def test_a_stalled_s3_is_reported_before_the_deadline(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an S3 endpoint that accepts requests and never answers in time, and 6 s left before Lambda's timeout
    event = load_event("single-ecr-source.json")
    with FaultyS3(Fault(status=200, code="Stalled", stall_seconds=30)) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        started = time.monotonic()

        # When the job runs
        failure = invoke(event, remaining_millis=REMAINING_MILLIS).failure
        elapsed = time.monotonic() - started
        attempts = s3.requests

    # Then it retried, gave up and reported SystemUnavailable with time to spare
    assert failure["type"] == "SystemUnavailable"
    assert "ReadTimeoutError" in failure["message"]
    assert attempts >= 2
    assert elapsed < REMAINING_MILLIS / 1000


def test_an_unreachable_s3_is_retried_then_system_unavailable(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    started = time.monotonic()

    failure = invoke(load_event("single-ecr-source.json"), remaining_millis=REMAINING_MILLIS).failure

    assert failure["type"] == "SystemUnavailable"
    assert "Could not reach S3" in failure["message"]
    assert time.monotonic() - started < REMAINING_MILLIS / 1000


def test_no_s3_call_starts_once_the_budget_is_spent(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job with no time left at all
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    with FaultyS3(Fault(delay_seconds=0.01), upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)

        # When it runs, then nothing is sent to S3, and the handler raises at once, so that Lambda's retry,
        # with a whole timeout, runs the job
        with pytest.raises(ReportNotDeliveredError, match="did not answer before the function's deadline"):
            invoke(event, remaining_millis=0)
        assert s3.requests == 0

    # And the report, abandoned at the deadline, may still reach CodePipeline: then Lambda's retry finds the job
    # closed and leaves it alone (waited for here, so that it cannot land in the next test)
    waited_until = time.monotonic() + 5
    while not aws.double.reports and time.monotonic() < waited_until:
        time.sleep(0.05)
    assert [report.request["failureDetails"]["type"] for report in aws.double.reports] == ["SystemUnavailable"]


@pytest.mark.parametrize(
    ("fault", "remaining_millis", "expected"),
    [
        pytest.param(
            Fault(trickle="body"), 6_000, "still running at the deadline", id="body trickled a byte at a time"
        ),
        pytest.param(Fault(trickle="headers"), 6_000, "still running at the deadline", id="headers trickled"),
        pytest.param(
            Fault(stall_mid_body_seconds=30), 6_000, "Could not reach S3", id="stall in the middle of the body"
        ),
        pytest.param(Fault(delay_seconds=0.6), 2_000, "still running at the deadline", id="every answer late"),
    ],
)
def test_a_slow_s3_cannot_push_the_report_past_the_deadline(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, fault: Fault, remaining_millis: int, expected: str
) -> None:
    # Given S3 that answers slowly in one of the ways socket timeouts cannot catch, and a two-artifact job
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    budget = TimeBudget.from_remaining_millis(remaining_millis)
    with FaultyS3(fault, upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        started = time.monotonic()

        # When the job runs
        result = invoke(event, remaining_millis=remaining_millis)
        elapsed = time.monotonic() - started

    # Then exactly one SystemUnavailable report went out with the reserve for it intact, and nothing was written
    assert result.failure["type"] == "SystemUnavailable"
    assert expected in result.failure["message"]
    assert "not a zip" not in result.failure["message"]
    assert elapsed < budget.seconds + 0.5 < remaining_millis / 1000
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)
