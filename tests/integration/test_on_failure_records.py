"""The on-failure destination's handler on Lambda's invocation records, well-formed or not, against the CodePipeline
double: one failure report for a job the function never finished, nothing for a record without a job, and never a
secret of the payload in a log line or the report."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.codepipeline_double import RecordedReport
from devtools.local_aws import LocalAws, load_event
from devtools.packaged_function import FunctionResult, function_arn, invocation_record
from imagedefs.errors import ReportNotDeliveredError
from imagedefs.invocation_record import ENV_FUNCTION_LOG_GROUP
from tests.integration.conftest import LambdaContext
from tests.integration.test_secrets import everything_at_debug

LOG_GROUP = "image-definitions-FunctionLogGroup-1A2B3C4D5E6F"
REQUEST_ID = "5ded4dda-8418-4111-9c4e-2f6a8b0c1d3e"
TIMED_OUT = FunctionResult(
    False, {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {REQUEST_ID} Error: Task timed out"}, 60.0
)


def record(
    event: Any = None, condition: str = "RetriesExhausted", attempts: int = 3, last: FunctionResult | None = TIMED_OUT
) -> dict[str, Any]:
    """Lambda's invocation record of the sample job (events/single-ecr-source.json) after every attempt failed."""
    job = load_event("single-ecr-source.json") if event is None else event
    return invocation_record(job, REQUEST_ID, function_arn("ImageDefinitionsFunction"), condition, attempts, last)


@dataclass
class Handled:
    returned: dict[str, str]
    reports: list[RecordedReport]
    log: str

    @property
    def failure(self) -> dict[str, Any]:
        (report,) = self.reports
        assert not report.succeeded
        details: dict[str, Any] = report.request["failureDetails"]
        return details


HandleRecord = Callable[[Any], Handled]


@contextmanager
def captured_log() -> Iterator[io.StringIO]:
    """What the destination prints while inside: its log lines (Powertools writes to standard output)."""
    from imagedefs.observability import logger

    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        with redirect_stdout(printed):
            yield printed
    finally:
        logger.removeHandler(handler)  # type: ignore[attr-defined]


@pytest.fixture
def handle(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> HandleRecord:
    """Run the destination's handler on a record, capturing what it printed and what CodePipeline received."""
    from handlers import on_failure

    monkeypatch.setenv(ENV_FUNCTION_LOG_GROUP, LOG_GROUP)
    on_failure._reporter.cache_clear()

    def run(event: Any) -> Handled:
        before = len(aws.double.reports)
        with captured_log() as printed:
            returned = on_failure.lambda_handler(event, LambdaContext(remaining_millis=20_000))
        return Handled(returned, aws.double.reports[before:], printed.getvalue())

    return run


def metrics_in(log: str) -> set[str]:
    names = set()
    for line in log.splitlines():
        if line.startswith("{") and "_aws" in line:
            names |= {metric["Name"] for metric in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    return names


def test_a_job_whose_every_attempt_timed_out_is_reported_failed_once_saying_where_to_look(
    handle: HandleRecord,
) -> None:
    # Given Lambda's record of the sample job after three attempts that each ran past the timeout
    given = record()

    # When the destination handles it
    handled = handle(given)

    # Then one JobFailed report says what happened, what to do and where to look, without Lambda's errorMessage
    assert handled.returned == {"jobId": given["requestPayload"]["CodePipeline.job"]["id"], "report": "reported"}
    assert handled.failure["type"] == "JobFailed"
    assert handled.failure["message"] == (
        'The image definitions function "image-definitions" ended without reporting this job (Lambda: '
        'RetriesExhausted after 3 attempts; error type "Sandbox.Timedout": it ran past its timeout). The job was not '
        "run again. To fix: look in its log for what it waited on, then retry the action. Its CloudWatch log group "
        f'"{LOG_GROUP}" has the details under request id {REQUEST_ID}.'
    )
    assert handled.failure["externalExecutionId"] == REQUEST_ID
    assert "Task timed out" not in handled.log
    assert "UnfinishedJobsReported" in metrics_in(handled.log)


def test_a_throttled_job_is_reported_as_a_system_failure_to_retry(handle: HandleRecord) -> None:
    # Given the record of an event that grew too old while Lambda throttled it (never run: no response)
    handled = handle(record(condition="EventAgeExceeded", attempts=7, last=None))

    assert handled.failure["type"] == "SystemUnavailable"
    assert handled.failure["message"].startswith(
        'The image definitions function "image-definitions" was not run for this job before the event\'s maximum age '
        "(Lambda: EventAgeExceeded after 7 attempts): Lambda throttled it"
    )
    assert "Retry the action" in handled.failure["message"]


def test_a_job_already_closed_is_left_alone(aws: LocalAws, handle: HandleRecord) -> None:
    # Given a job that was reported already (the function's report landed after all)
    given = record()
    job_id = given["requestPayload"]["CodePipeline.job"]["id"]
    aws.double.reports.append(RecordedReport("PutJobSuccessResult", {"jobId": job_id}))

    handled = handle(given)

    assert handled.returned == {"jobId": job_id, "report": "already_closed"}
    assert handled.reports == []
    assert "DuplicateDeliveries" in metrics_in(handled.log)


def test_a_report_codepipeline_refuses_is_raised_for_lambda_to_retry(aws: LocalAws, handle: HandleRecord) -> None:
    # Given a CodePipeline that refuses every report (`handle` sets the destination's environment up)
    from handlers import on_failure

    aws.double.fail_next("PutJobFailureResult", "InternalServerException", status=500, times=100)

    # When the destination handles a record, then it raises, so that Lambda retries the record, and says so
    with captured_log() as printed, pytest.raises(ReportNotDeliveredError):
        on_failure.lambda_handler(record(), LambdaContext(remaining_millis=20_000))

    assert aws.double.reports == []
    assert "The job's result could not be reported; raising so that Lambda retries the record" in printed.getvalue()
    assert "ReportsNotDelivered" in metrics_in(printed.getvalue())


def _job(**fields: Any) -> dict[str, Any]:
    return {"CodePipeline.job": fields}


NO_JOB_RECORDS = {
    "not an object": ["RetriesExhausted"],
    "null": None,
    "no requestPayload": {k: v for k, v in record().items() if k != "requestPayload"},
    "requestPayload a string": record(event="a string"),
    "requestPayload not a job": record(event={"Records": []}),
    "job a list": record(event={"CodePipeline.job": []}),
    "job without an id": record(event=_job(data={})),
    "job id a number": record(event=_job(id=5)),
    "job id outside CodePipeline's pattern": record(event=_job(id="../../etc")),
    "a success": record(condition="Success", last=FunctionResult(True, {"report": "reported"}, 1.0)),
}


@pytest.mark.parametrize("given", NO_JOB_RECORDS.values(), ids=NO_JOB_RECORDS.keys())
def test_a_record_without_a_job_to_report_ends_quietly(given: Any, handle: HandleRecord) -> None:
    handled = handle(given)

    assert handled.returned == {"report": "none"}
    assert handled.reports == []
    assert "nothing to report" in handled.log
    assert "InvalidRecords" in metrics_in(handled.log)


def test_a_malformed_job_event_with_an_id_is_still_reported(handle: HandleRecord) -> None:
    # Given a job event whose id is all that is left
    handled = handle(record(event=_job(id="0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21", data="not an object")))

    assert handled.failure["type"] == "JobFailed"
    assert handled.reports[0].job_id == "0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21"


def test_odd_values_in_the_record_are_left_out_of_the_message(handle: HandleRecord) -> None:
    # Given a record whose every field but the job id is of the wrong form
    given = record()
    given["requestContext"].update(
        condition="Retries Exhausted; rm -rf", approximateInvokeCount="3", functionArn="not an arn", requestId="x y"
    )
    given["responsePayload"] = {"errorType": "Error: secret=hunter2", "errorMessage": "hunter2"}

    handled = handle(given)

    message = handled.failure["message"]
    assert message.startswith(
        "The image definitions function ended without reporting this job (Lambda: no condition recorded; no error "
        "type recorded). The job was not run again. To fix: look in its log for the cause, then retry the action."
    )
    assert "hunter2" not in message and "rm -rf" not in message and "not an arn" not in message
    assert message.endswith(f'Its CloudWatch log group "{LOG_GROUP}".')
    assert handled.failure["externalExecutionId"] == "8f5e3a1c-test-4c1d-9e2f-request00001"  # the destination's own


def test_a_huge_payload_gives_one_report_within_the_limits_and_no_long_log_line(handle: HandleRecord) -> None:
    # Given a job event of 2 MB (UserParameters, a million artifacts' worth of names) and a 1 MB error message
    event = load_event("single-ecr-source.json")
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = "x" * 2_000_000
    given = record(event=event)
    given["responsePayload"] = {"errorType": "Runtime.OutOfMemory", "errorMessage": "y" * 1_000_000}

    handled = handle(given)

    assert "ran out of memory" in handled.failure["message"]
    assert max(len(line) for line in handled.log.splitlines()) < 5_000


def test_secrets_in_the_payload_are_in_no_log_line_even_at_debug(
    handle: HandleRecord, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given artifact credentials in the job event, and a secret the dead function left in its error and trace
    suffix = uuid.uuid4().hex  # fresh: the redactor keeps hiding earlier tests' secrets
    secret_key, token, leaked = f"sEcReT/Key+{suffix}", f"SeSsIoN//{suffix}==", f"LeAkEd{suffix}"
    event = load_event("single-ecr-source.json")
    event["CodePipeline.job"]["data"]["artifactCredentials"].update(secretAccessKey=secret_key, sessionToken=token)
    given = record(event=event)
    given["responsePayload"] = {
        "errorType": "KeyError",
        "errorMessage": f"'{secret_key}' {leaked}",
        "stackTrace": [f'  File "/var/task/x.py", line 1, in f\n    token = "{token}"\n'],
    }
    from imagedefs.observability import logger

    # When it is handled with botocore, urllib3 and the function all logging at DEBUG
    level = logger.log_level
    logger.setLevel(logging.DEBUG)
    try:
        with everything_at_debug():
            handled = handle(given)
    finally:
        logger.setLevel(level)
    printed = capfd.readouterr()

    # Then the job is reported, and none of them appears anywhere
    assert handled.failure["type"] == "JobFailed"
    everything = handled.log + printed.out + printed.err + json.dumps(handled.reports[0].request)
    assert "PutJobFailureResult" in everything  # botocore's DEBUG output was captured
    for secret in (secret_key, token, leaked):
        assert secret not in everything
