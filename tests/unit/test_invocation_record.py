"""Lambda's invocation record read as the pipeline owner needs it: each error type Lambda records says what happened
and what to change, with the failure type a retry calls for."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.local_aws import load_event
from devtools.packaged_function import FunctionResult, function_arn, invocation_record
from imagedefs.errors import failure_type_of
from imagedefs.invocation_record import ENV_FUNCTION_LOG_GROUP, failed_invocation_of, record_keys, record_secrets

JOB_ID = load_event("single-ecr-source.json")["CodePipeline.job"]["id"]


def record_of(error_type: str | None, condition: str = "RetriesExhausted") -> dict[str, Any]:
    body = {"errorMessage": "RequestId: r Error: whatever"} | ({"errorType": error_type} if error_type else {})
    return invocation_record(
        load_event("single-ecr-source.json"),
        "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
        function_arn("ImageDefinitionsFunction"),
        condition,
        3,
        FunctionResult(False, body, 1.0),
    )


@pytest.mark.parametrize(
    ("error_type", "explained", "advice"),
    [
        ("Sandbox.Timedout", "it ran past its timeout", "look in its log for what it waited on"),
        ("Runtime.OutOfMemory", "it ran out of memory", "raise the stack's MemorySize parameter"),
        (
            "Runtime.ExitError",
            "its process exited or was killed (Lambda kills a function that runs out of memory)",
            "if its log shows no other cause, raise",
        ),
        ("Runtime.ImportModuleError", "its code could not be loaded", "deploy the stack again with `make deploy`"),
        ("Runtime.UserCodeSyntaxError", "its code could not be loaded", "deploy the stack again"),
        (
            "ReportNotDeliveredError",
            "it could not deliver its report to CodePipeline",
            "check that the function reaches",
        ),
        ("KeyError", "an error it could not report itself", "look in its log for the cause"),
    ],
)
def test_each_error_type_says_what_happened_and_what_to_do(error_type: str, explained: str, advice: str) -> None:
    invocation = failed_invocation_of(record_of(error_type))
    assert invocation is not None

    failure = invocation.failure({ENV_FUNCTION_LOG_GROUP: "stack-FunctionLogGroup-X"})

    message = str(failure)
    assert f'(Lambda: RetriesExhausted after 3 attempts; error type "{error_type}": {explained})' in message
    assert f"To fix: {advice}" in message
    assert message.endswith(
        'Its CloudWatch log group "stack-FunctionLogGroup-X" has the details under request id '
        "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2."
    )
    # The function died on the job each time: a failed job, like any unexpected error
    assert failure_type_of(failure) == "JobFailed"


def test_an_event_too_old_to_run_is_a_system_failure() -> None:
    invocation = failed_invocation_of(record_of(None, condition="EventAgeExceeded"))
    assert invocation is not None

    failure = invocation.failure({})

    assert failure_type_of(failure) == "SystemUnavailable"
    assert "throttled" in str(failure)
    assert str(failure).endswith(
        "Its CloudWatch log has the details under request id c2a6f2ae-7dbb-4d22-8782-d0485c9877e2."
    )


def test_the_record_is_read_for_the_job_and_the_attempt_only() -> None:
    assert failed_invocation_of(record_of("Sandbox.Timedout")) == failed_invocation_of(record_of("Sandbox.Timedout"))
    invocation = failed_invocation_of(record_of("Sandbox.Timedout"))
    assert invocation is not None
    assert (invocation.job_id, invocation.function_name, invocation.attempts) == (JOB_ID, "image-definitions", 3)


@pytest.mark.parametrize("log_group", ["", "has space", "x" * 513, 'quote"d'])
def test_a_log_group_name_of_another_form_is_not_quoted(log_group: str) -> None:
    invocation = failed_invocation_of(record_of("Sandbox.Timedout"))
    assert invocation is not None

    message = str(invocation.failure({ENV_FUNCTION_LOG_GROUP: log_group}))

    assert "Its CloudWatch log has the details" in message
    assert log_group not in message or not log_group


def test_the_secrets_of_the_job_event_are_found_for_redaction() -> None:
    record = record_of("Sandbox.Timedout")
    credentials = record["requestPayload"]["CodePipeline.job"]["data"]["artifactCredentials"]

    assert record_secrets(record) == (credentials["secretAccessKey"], credentials["sessionToken"])
    assert record_secrets({"requestPayload": {"CodePipeline.job": "x"}}) == ()
    assert record_secrets([]) == ()


def test_a_record_with_no_failure_to_report_is_logged_by_its_first_ten_keys_cut_to_64_characters() -> None:
    record = {f"key{number:02d}" + "k" * 70: "a value that is never logged" for number in range(12)}

    keys = record_keys(record)

    assert keys == [f"key{number:02d}" + "k" * 59 for number in range(10)]
    assert record_keys(["not", "a", "record"]) == []


@pytest.mark.parametrize(("count", "shown"), [(1, 1), (999, 999), (0, None), (1000, None), (-1, None), (True, None)])
def test_the_attempts_are_told_only_when_lambda_could_have_made_them(count: object, shown: int | None) -> None:
    record = record_of("Sandbox.Timedout")
    record["requestContext"]["approximateInvokeCount"] = count

    invocation = failed_invocation_of(record)

    assert invocation is not None
    assert invocation.attempts == shown


@pytest.mark.parametrize("arn", [None, 42, ["arn:aws:lambda:us-west-2:123456789012:function:image-definitions"]])
def test_a_function_arn_that_is_no_string_names_no_function(arn: object) -> None:
    record = record_of("Sandbox.Timedout")
    record["requestContext"]["functionArn"] = arn

    invocation = failed_invocation_of(record)

    assert invocation is not None
    assert invocation.function_name is None
