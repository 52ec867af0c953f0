"""A stalled or unreachable S3 still ends in a SystemUnavailable report before Lambda's deadline."""

from __future__ import annotations

import socket
import time

import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event
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


def test_no_s3_call_starts_once_the_budget_is_spent(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)

    failure = invoke(event, remaining_millis=0).failure

    assert failure["type"] == "SystemUnavailable"
    assert "ran out of time before reading input artifact" in failure["message"]
