"""The job's artifact credentials never appear in anything the function prints, at any log level."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import SAMPLE_SERVICE_ARN, LocalAws, load_event
from devtools.packaged_function import PackagedFunction
from imagedefs.aws import session as aws_session
from imagedefs.errors import ReportNotDeliveredError
from imagedefs.observability import REDACTED, logger
from tests.integration.conftest import Invoke
from tests.samples import with_user_parameters
from tests.secret_forms import every_form, leaked_forms, secret_access_key, session_token

SECRET_ACCESS_KEY = "sEcReT/Key+ThatMustNeverBeLogged0123456789"
SESSION_TOKEN = "SeSsIoNtOkEn//ThatMustNeverBeLogged+FwoGZXIvYXdzEBaaDEXAMPLE=="
ARTIFACT = "SourceArtifact"


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
        monkeypatch.setattr("imagedefs.plan.build_plan", _raise_with_secret)
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
        monkeypatch.setattr("imagedefs.plan.build_plan", _raise_with_role_secrets)
        log += invoke(failing).log
    printed = log + "".join(capfd.readouterr())

    # Then botocore's dump of the report request is there, and the error's trace, without the role's secrets
    assert "PutJobSuccessResult" in printed
    assert "a library that put" in printed
    assert SESSION_TOKEN.swapcase() not in printed
    assert SECRET_ACCESS_KEY.swapcase() not in printed


def _raise_with_role_secrets(*args: object, **kwargs: object) -> None:
    raise RuntimeError(f"a library that put {SESSION_TOKEN.swapcase()} and {SECRET_ACCESS_KEY.swapcase()} in it")


@pytest.fixture
def function_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The function's own session token, as Lambda sets it, fresh for the test (in a fresh botocore session,
    which reads the credentials anew)."""
    token = session_token()
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    aws_session._session.cache_clear()
    yield token
    aws_session._session.cache_clear()


def test_a_report_refused_with_a_signature_error_raises_an_error_without_the_functions_token(
    aws: LocalAws, invoke: Invoke, function_token: str
) -> None:
    # Given CodePipeline refusing the report with InvalidSignatureException, quoting the canonical request
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    aws.double.fail_next("PutJobSuccessResult", "InvalidSignatureException", times=5, signature_mismatch=True)

    # When the job runs, and the handler raises so that Lambda retries it
    with pytest.raises(ReportNotDeliveredError) as raised:
        invoke(event)

    # Then CodePipeline's answer quoted the token, and the error that leaves holds neither it nor a chain
    assert "plain" in leaked_forms(json.dumps(aws.double.refusals), function_token)
    error = raised.value
    assert str(error) == "CodePipeline refused the job result: InvalidSignatureException (HTTP 400)"
    assert (error.__cause__, error.__context__) == (None, None)
    assert leaked_forms("".join(traceback.format_exception(error)) + repr(error), function_token) == []


def test_an_s3_signature_error_quoting_the_artifact_token_in_hex_is_printed_nowhere(
    aws: LocalAws, invoke: Invoke, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given S3 answering SignatureDoesNotMatch, whose body quotes the request as text and as hex, at DEBUG
    event = with_secrets(load_event("single-ecr-source.json"))
    with FaultyS3(Fault(signature_mismatch=True)) as s3, everything_at_debug():
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        result = invoke(event)
        answers = b"".join(s3.answers).decode()

    # Then the job fails naming the refusal, and no form of the token is in anything printed or reported
    assert result.failure["type"] == "PermissionError"
    assert ": SignatureDoesNotMatch. The artifact credentials" in result.failure["message"]
    assert {"plain", "hex"} <= set(leaked_forms(answers, SESSION_TOKEN))
    printed = "\n".join([result.log, *capfd.readouterr(), json.dumps(result.report.request)])
    assert "Response body:" in printed
    assert leaked_forms(printed, SESSION_TOKEN) == []


@pytest.mark.parametrize("form", ["plain", "URL-encoded", "hex", "base64 at alignment 2"])
def test_an_s3_error_code_that_is_the_artifact_token_is_redacted_in_the_report_and_the_log(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    # Given S3 (or a proxy) answering 403 with the artifact token, in some form, as the error code
    event = with_secrets(load_event("single-ecr-source.json"))
    code = every_form(SESSION_TOKEN)[form].removeprefix("<Body>before ").removesuffix(" after</Body>")
    with FaultyS3(Fault(status=403, code=code)) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        result = invoke(event)

    # Then the report names the refusal with the code redacted, and the log's reason is the same message
    message = result.failure["message"]
    assert message.startswith(f'Access denied reading input artifact "{ARTIFACT}" (s3://')
    assert REDACTED in message
    assert leaked_forms(message + result.log, SESSION_TOKEN) == []
    (failed,) = [record for record in result.log_records if record.get("message") == "Job failed"]
    assert failed["reason"] == message


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda token: Fault(status=400, code="ClientException", message=f"token {token}"), id="plain"),
        pytest.param(
            lambda token: Fault(status=400, code="ClientException", message=token.encode().hex(" ")), id="hex"
        ),
        pytest.param(
            lambda token: Fault(status=403, code="InvalidSignatureException", signature_mismatch=True),
            id="signature error",
        ),
    ],
)
def test_an_ecs_error_quoting_the_functions_token_is_redacted_in_the_report_and_the_log(
    aws: LocalAws,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    function_token: str,
    fault: Callable[[str], Fault],
) -> None:
    # Given a blue/green job, and ECS answering with an error whose message quotes the function's token
    event = load_event("blue-green.json")
    aws.seed(event)
    monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", SAMPLE_SERVICE_ARN)
    with FaultyS3(dataclasses.replace(fault(function_token), json_error=True)) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
        result = invoke(event)
        answers = b"".join(ecs.answers).decode()

    # Then the job fails as ConfigurationError naming ECS's code, and the token is in neither report nor log
    assert leaked_forms(answers, function_token)
    assert result.failure["type"] == "ConfigurationError"
    assert 'describing ECS service "prod/shop": ' in result.failure["message"]
    assert leaked_forms(result.failure["message"] + result.log, function_token) == []


def _wrapped(text: str, width: int, line_break: str) -> str:
    return line_break.join(text[start : start + width] for start in range(0, len(text), width))


@contextmanager
def _function_log() -> Iterator[io.StringIO]:
    """What the function logs, also when the handler raises (`invoke` returns the log only when it returns)."""
    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield printed
    finally:
        logger.removeHandler(handler)  # type: ignore[attr-defined]


def test_the_functions_token_wrapped_over_lines_by_ecs_and_codepipeline_is_shown_nowhere_not_even_a_piece(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, function_token: str
) -> None:
    # Given ECS refusing a blue/green job, and CodePipeline refusing another job's report, each quoting the
    # function's session token in the canonical request wrapped over lines as AWS's messages and MIME are
    header = f"x-amz-security-token:{function_token}"
    ecs_message = f"The canonical request was\n{_wrapped(header, 60, chr(10))}\nhost:ecs.us-east-1.amazonaws.com"
    encoded = base64.b64encode(header.encode()).decode()
    codepipeline_message = (
        f"The Canonical String for this request should have been\r\n{_wrapped(header, 76, chr(13) + chr(10))}\r\n"
        f"Received, as base64:\r\n{_wrapped(encoded, 76, chr(13) + chr(10))}"
    )
    blue_green, refused = load_event("blue-green.json"), load_event("single-ecr-source.json")
    aws.seed(blue_green)
    aws.seed(refused)
    monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", SAMPLE_SERVICE_ARN)
    with FaultyS3(Fault(status=400, code="ClientException", message=ecs_message, json_error=True)) as ecs:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
        ecs_refused = invoke(blue_green)
        answers = b"".join(ecs.answers).decode()
    aws.double.fail_next("PutJobSuccessResult", "InvalidSignatureException", times=5, message=codepipeline_message)

    # When the report of the second job is refused, and the handler raises so that Lambda retries it
    with _function_log() as log, pytest.raises(ReportNotDeliveredError) as raised:
        invoke(refused)

    # Then both servers did quote the token, in pieces a line each
    assert leaked_forms(answers, function_token)
    assert leaked_forms(json.dumps(aws.double.refusals), function_token)
    # And the ECS job failed naming the message with the token redacted whole, in the report and the log
    message = ecs_refused.failure["message"]
    assert message.startswith(
        'ECS refused describing ECS service "prod/shop": ClientException '
        f"(The canonical request was x-amz-security-token:{REDACTED} host:ecs.us-east-1.amazonaws.com). "
    )
    assert {record["reason"] for record in ecs_refused.log_records if record.get("message") == "Job failed"} == {
        message
    }
    # And CodePipeline's message is logged with the token redacted, the error that leaves naming only the code
    records = [json.loads(line) for line in log.getvalue().splitlines()]
    refusals = [record for record in records if record["message"] == "CodePipeline refused the job result"]
    assert refusals
    for refusal in refusals:
        header_encoded = base64.b64encode(b"x-amz-security-token:").decode()  # 21 bytes: the token's start
        assert (
            f"been x-amz-security-token:{REDACTED} Received, as base64: {header_encoded}{REDACTED}"
            in (refusal["server_message"])
        )
    assert str(raised.value) == "CodePipeline refused the job result: InvalidSignatureException (HTTP 400)"
    # And no form of the token, nor any piece of 16 characters of it, is in any of them
    error = "".join(traceback.format_exception(raised.value)) + repr(raised.value)
    assert leaked_forms("\n".join([message, ecs_refused.log, log.getvalue(), error]), function_token) == []


def test_nothing_the_packaged_function_writes_holds_a_secret_in_any_form(aws: LocalAws) -> None:
    # Given the packaged function under awslambdaric, with Lambda's log controls at DEBUG and JSON, its own
    # credentials as Lambda sets them, and S3 and ECS endpoints that answer with the faults below
    function_secrets = {"AWS_SECRET_ACCESS_KEY": secret_access_key(), "AWS_SESSION_TOKEN": session_token()}
    jobs = [with_secrets(load_event(name)) for name in ["single-ecr-source.json"] * 3 + ["blue-green.json"]]
    for number, job in enumerate(jobs):
        job["CodePipeline.job"]["id"] = f"{number:08x}-0000-4000-8000-00000000000{number}"
        aws.seed(job)
    signature_job, code_job, report_job, blue_green = jobs
    secrets = [SECRET_ACCESS_KEY, SESSION_TOKEN, *function_secrets.values()]
    runtime_bodies = []
    with (
        FaultyS3(Fault(signature_mismatch=True), upstream=aws.s3_url) as s3,
        FaultyS3(Fault(status=400, code="ClientException", json_error=True)) as ecs,
    ):
        environment = {
            **aws.environment,
            **function_secrets,
            "AWS_ENDPOINT_URL_S3": s3.url,
            "AWS_ENDPOINT_URL_ECS": ecs.url,
            "IMAGEDEFS_ECS_SERVICES": SAMPLE_SERVICE_ARN,
            "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
        }
        with PackagedFunction(environment) as function:
            # When S3 refuses the signature (its body quotes the artifact token as text and hex)
            signature_refused = function.invoke(signature_job)
            # And S3 answers with the artifact token as its error code
            s3.fault = Fault(status=403, code=SESSION_TOKEN)
            token_as_code = function.invoke(code_job)
            # And ECS refuses a request quoting the function's token in its message
            s3.fault = Fault(methods=frozenset())
            ecs.fault = Fault(
                status=400,
                code="ClientException",
                json_error=True,
                message=f"token {function_secrets['AWS_SESSION_TOKEN'].encode().hex(' ')} is not valid",
            )
            ecs_refused = function.invoke(blue_green)
            # And CodePipeline refuses the report with a signature error quoting the function's token
            aws.double.fail_next("PutJobSuccessResult", "InvalidSignatureException", times=5, signature_mismatch=True)
            report_refused = function.invoke(report_job)
            runtime_bodies = [signature_refused.body, token_as_code.body, ecs_refused.body, report_refused.body]
            written = function.log
        served = b"".join(s3.answers + ecs.answers).decode() + json.dumps(aws.double.refusals)

    # Then the servers did quote the secrets, botocore's DEBUG lines were written, each job failed as expected
    assert {"plain", "hex"} <= set(leaked_forms(served, SESSION_TOKEN))
    assert leaked_forms(served, function_secrets["AWS_SESSION_TOKEN"])
    assert '"logger": "botocore' in written or '"logger":"botocore' in written
    assert f"x-amz-security-token:{REDACTED}" in written  # botocore's canonical request, redacted
    failures = [report.request["failureDetails"] for report in aws.double.reports]
    assert [failure["type"] for failure in failures] == ["PermissionError", "PermissionError", "ConfigurationError"]
    assert not report_refused.succeeded
    assert report_refused.body["errorType"] == "ReportNotDeliveredError"
    assert report_refused.body["errorMessage"] == (
        "CodePipeline refused the job result: InvalidSignatureException (HTTP 400)"
    )
    # And no form of any secret is in anything the process wrote, the runtime's error body or the reports
    everything = "\n".join([written, json.dumps(runtime_bodies), json.dumps([r.request for r in aws.double.reports])])
    assert {secret[:12]: leaked_forms(everything, secret) for secret in secrets} == {
        secret[:12]: [] for secret in secrets
    }
