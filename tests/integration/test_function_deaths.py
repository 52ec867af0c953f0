"""The packaged function killed for real under awslambdaric, and Lambda's asynchronous side played out: each attempt
retried (delays shortened), then the invocation record handed to the packaged on-failure destination, which
reports the job. Each way of dying ends in exactly one report, and the pipeline learns why."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.codepipeline_double import RecordedReport
from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event
from devtools.packaged_function import (
    DESTINATION,
    AsynchronousInvocation,
    AsynchronousOutcome,
    PackagedFunction,
    function_configuration,
)

# Lambda waits about 1 and 2 minutes; the order and the count are what matter here.
RETRY_DELAYS = (0.1, 0.2)
LOG_GROUP = "image-definitions-FunctionLogGroup-local"


@pytest.fixture
def destination(aws: LocalAws) -> Iterator[PackagedFunction]:
    with PackagedFunction(aws.environment, timeout_seconds=20, function=DESTINATION) as function:
        yield function


def the_only_report(aws: LocalAws, outcome: AsynchronousOutcome, destination: PackagedFunction) -> RecordedReport:
    assert [attempt.succeeded for attempt in outcome.destination_attempts] == [True], destination.log
    (report,) = aws.double.reports
    assert not report.succeeded
    return report


def test_a_process_killed_for_memory_on_every_attempt_is_reported_once(
    aws: LocalAws, destination: PackagedFunction
) -> None:
    # Given a job whose S3 read stalls, and a memory limit the function passes as soon as it works on the job
    event = load_event("single-ecr-source.json")
    with FaultyS3(Fault(status=200, code="Stalled", stall_seconds=30)) as s3:
        environment = {**aws.environment, "AWS_ENDPOINT_URL_S3": s3.url}
        with PackagedFunction(environment, memory_limit_mb=16) as function:
            # When Lambda runs it asynchronously: each attempt SIGKILLed by the runtime, as Lambda does
            outcome = AsynchronousInvocation(function, destination, RETRY_DELAYS).invoke(event)

    # Then three attempts died, each in a fresh environment, and the destination reported the job once
    assert [attempt.died for attempt in outcome.attempts] == ["Runtime.OutOfMemory"] * 3
    assert function.starts == 3
    report = the_only_report(aws, outcome, destination)
    assert report.job_id == event["CodePipeline.job"]["id"]
    message = report.request["failureDetails"]["message"]
    assert report.request["failureDetails"]["type"] == "JobFailed"
    assert 'RetriesExhausted after 3 attempts; error type "Runtime.OutOfMemory": it ran out of memory' in message
    assert "raise the stack's MemorySize parameter" in message
    assert f'"{LOG_GROUP}"' in message and '"image-definitions"' in message
    assert "signal: killed" not in message  # Lambda's errorMessage is never quoted


def test_a_process_hung_past_its_deadline_is_reported_once(aws: LocalAws, destination: PackagedFunction) -> None:
    # Given a function that hangs once it has the job (stopped, as a deadlocked interpreter would be)
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    with PackagedFunction(aws.environment, timeout_seconds=3, hang_on_invoke=True) as function:
        outcome = AsynchronousInvocation(function, destination, RETRY_DELAYS).invoke(event)

    assert [attempt.died for attempt in outcome.attempts] == ["Sandbox.Timedout"] * 3
    message = the_only_report(aws, outcome, destination).request["failureDetails"]["message"]
    assert 'error type "Sandbox.Timedout": it ran past its timeout' in message
    assert outcome.record is not None
    assert f"request id {outcome.record['requestContext']['requestId']}" in message


def test_a_package_whose_import_fails_is_reported_once(
    aws: LocalAws, destination: PackagedFunction, tmp_path: Path
) -> None:
    # Given a package built without its one dependency
    code_dir, _, _ = function_configuration()
    broken = tmp_path / "package"
    shutil.copytree(code_dir, broken, ignore=shutil.ignore_patterns("aws_lambda_powertools*"))
    event = load_event("single-ecr-source.json")
    with PackagedFunction(aws.environment, code_dir=broken) as function:
        outcome = AsynchronousInvocation(function, destination, RETRY_DELAYS).invoke(event)

    assert [attempt.died for attempt in outcome.attempts] == ["Runtime.ImportModuleError"] * 3
    message = the_only_report(aws, outcome, destination).request["failureDetails"]["message"]
    assert 'error type "Runtime.ImportModuleError": its code could not be loaded' in message
    assert "deploy the stack again" in message
    assert "aws_lambda_powertools" not in message  # the import error's text stays in the log


def test_a_report_codepipeline_never_answers_is_reported_once_by_the_destination(
    aws: LocalAws, destination: PackagedFunction
) -> None:
    # Given a CodePipeline endpoint that takes the function's requests and never answers (the destination's
    # CodePipeline answers)
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    with FaultyS3(Fault(status=200, code="Stalled", stall_seconds=30)) as silent:
        environment = {**aws.environment, "AWS_ENDPOINT_URL_CODEPIPELINE": silent.url}
        # 20 s: the report's deadline then ends more than a second before Lambda's, time enough to raise
        with PackagedFunction(environment, timeout_seconds=20) as function:
            outcome = AsynchronousInvocation(function, destination, RETRY_DELAYS).invoke(event)
            log = function.log

    # Then each attempt raised at its report deadline, before Lambda's, so that Lambda retried it
    assert [(attempt.died, attempt.body["errorType"]) for attempt in outcome.attempts] == [
        (None, "ReportNotDeliveredError")
    ] * 3, log
    message = the_only_report(aws, outcome, destination).request["failureDetails"]["message"]
    assert 'error type "ReportNotDeliveredError": it could not deliver its report to CodePipeline' in message


def test_an_event_throttled_past_its_maximum_age_is_reported_once(aws: LocalAws, destination: PackagedFunction) -> None:
    event = load_event("single-ecr-source.json")
    with PackagedFunction(aws.environment) as function:
        outcome = AsynchronousInvocation(function, destination, RETRY_DELAYS, throttled_for_seconds=0.5).invoke(event)

    assert outcome.attempts == []
    report = the_only_report(aws, outcome, destination)
    assert report.request["failureDetails"]["type"] == "SystemUnavailable"
    assert "(Lambda: EventAgeExceeded after" in report.request["failureDetails"]["message"]


def test_a_job_that_ends_normally_never_reaches_the_destination(aws: LocalAws, destination: PackagedFunction) -> None:
    event = load_event("bad-user-parameters.json")
    aws.seed(event)
    with PackagedFunction(aws.environment) as function:
        outcome = AsynchronousInvocation(function, destination, RETRY_DELAYS).invoke(event)

    assert [attempt.succeeded for attempt in outcome.attempts] == [True]
    assert outcome.record is None and outcome.destination_attempts == []
    (report,) = aws.double.reports
    assert report.request["failureDetails"]["type"] == "ConfigurationError"
