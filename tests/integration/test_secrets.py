"""The job's artifact credentials never appear in anything the function prints, at any log level."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event
from imagedefs.observability import REDACTED
from tests.integration.conftest import Invoke
from tests.samples import with_user_parameters

SECRET_ACCESS_KEY = "sEcReT/Key+ThatMustNeverBeLogged0123456789"
SESSION_TOKEN = "SeSsIoNtOkEn//ThatMustNeverBeLogged+FwoGZXIvYXdzEBaaDEXAMPLE=="


@pytest.fixture(autouse=True)
def _fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """New secret values for each test: the redactor keeps a job's secrets hidden for 15 minutes, so values an
    earlier test (or test session, in the same process) hid would stay hidden whatever the code under test does."""
    suffix = uuid.uuid4().hex
    monkeypatch.setitem(globals(), "SECRET_ACCESS_KEY", f"sEcReT/Key+ThatMustNeverBeLogged{suffix}")
    monkeypatch.setitem(globals(), "SESSION_TOKEN", f"SeSsIoNtOkEn//ThatMustNeverBeLogged+{suffix}==")


def with_secrets(event: dict[str, Any]) -> dict[str, Any]:
    credentials = event["CodePipeline.job"]["data"]["artifactCredentials"]
    credentials.update(secretAccessKey=SECRET_ACCESS_KEY, sessionToken=SESSION_TOKEN)
    return event


@contextmanager
def everything_at_debug() -> Iterator[None]:
    """botocore, urllib3 and the function all log at DEBUG to stderr, as a careless setting would make them."""
    root = logging.getLogger()
    level = root.level
    boto3.set_stream_logger("", logging.DEBUG)
    handler = root.handlers[-1]
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_credentials_are_never_printed(
    aws: LocalAws,
    invoke: Invoke,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given jobs that succeed, fail on their configuration, on a missing object, on access and unexpectedly
    good = with_secrets(load_event("two-ecr-sources.json"))
    aws.seed(good)
    bad_parameters = with_secrets(load_event("bad-user-parameters.json"))
    missing = with_secrets(with_user_parameters(load_event("single-ecr-source.json"), {"pin": "digest"}))
    unexpected = with_secrets(load_event("two-ecr-sources.json"))
    unexpected["CodePipeline.job"]["id"] = "4f8e0a7c-9b6d-4c2e-8f5a-1b0c9d8e7f65"
    with everything_at_debug():
        logs = [invoke(good).log, invoke(bad_parameters).log, invoke(missing).log]
        with FaultyS3(Fault(status=403, code="AccessDenied")) as s3:
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
            logs.append(invoke(with_secrets(load_event("kms-encrypted.json"))).log)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws.s3_url)
        monkeypatch.setattr("imagedefs.action.build_plan", _raise_with_secret)
        logs.append(invoke(unexpected).log)

    # When everything printed is gathered
    captured = capfd.readouterr()
    printed = "\n".join([*logs, captured.out, captured.err])

    # Then botocore's request dumps are there, with the secrets redacted, and the secrets nowhere
    assert "X-Amz-Security-Token" in printed
    assert f"a library that put {REDACTED} and {REDACTED} into its exception" in printed
    assert SECRET_ACCESS_KEY not in printed
    assert SESSION_TOKEN not in printed
    assert "artifactCredentials" not in printed


def _raise_with_secret(*args: object, **kwargs: object) -> None:
    raise RuntimeError(f"a library that put {SESSION_TOKEN} and {SECRET_ACCESS_KEY} into its exception")


def test_the_functions_own_credentials_are_never_printed(
    aws: LocalAws, invoke: Invoke, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function's role credentials in its environment, as Lambda sets them, and everything at DEBUG
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN.swapcase())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.swapcase())
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    failing = load_event("single-ecr-source.json")
    failing["CodePipeline.job"]["id"] = "4f8e0a7c-9b6d-4c2e-8f5a-1b0c9d8e7f65"
    with everything_at_debug():
        log = invoke(event).log
        # And a library error that quotes them
        monkeypatch.setattr("imagedefs.action.build_plan", _raise_with_role_secrets)
        log += invoke(failing).log
    printed = log + "".join(capfd.readouterr())

    # Then botocore's dump of the report request is there, and the error's trace, without the role's secrets
    assert "PutJobSuccessResult" in printed
    assert "a library that put" in printed
    assert SESSION_TOKEN.swapcase() not in printed
    assert SECRET_ACCESS_KEY.swapcase() not in printed


def _raise_with_role_secrets(*args: object, **kwargs: object) -> None:
    raise RuntimeError(f"a library that put {SESSION_TOKEN.swapcase()} and {SECRET_ACCESS_KEY.swapcase()} in it")
