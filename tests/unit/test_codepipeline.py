"""Reports fit CodePipeline's limits, and closed jobs are left alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from devtools.codepipeline_double import validate_request
from imagedefs.aws import session
from imagedefs.aws.codepipeline import JobReporter, codepipeline_client, fit
from imagedefs.errors import (
    ArtifactAccessDeniedError,
    ArtifactContentError,
    ConfigurationError,
    ReportNotDeliveredError,
    ServiceUnavailableError,
    failure_type_of,
)

MODEL = botocore.session.get_session().get_service_model("codepipeline")
JOB_ID = "0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21"


class RecordingClient:
    def __init__(self, error_code: str | None = None) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.error_code = error_code

    def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((operation, request))
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "no"}}, operation)
        return {}

    def put_job_success_result(self, **request: Any) -> dict[str, Any]:
        return self._call("PutJobSuccessResult", request)

    def put_job_failure_result(self, **request: Any) -> dict[str, Any]:
        return self._call("PutJobFailureResult", request)


def test_long_texts_are_cut_to_the_api_limits_and_stay_valid() -> None:
    client = RecordingClient()
    reporter = JobReporter(client)  # type: ignore[arg-type]

    reporter.succeed(JOB_ID, "x" * 5000, "r" * 2000, {"web_imageUri": "ghcr.io/a/web:1"})
    reporter.fail(JOB_ID, "JobFailed", "m" * 9000, "request-id")

    for operation, request in client.requests:
        assert validate_request(MODEL.operation_model(operation), request) == []
    assert client.requests[0][1]["executionDetails"]["summary"].endswith(" …")
    assert len(client.requests[1][1]["failureDetails"]["message"]) == 5000


@pytest.mark.parametrize("code", ["InvalidJobStateException", "JobNotFoundException"])
def test_a_closed_job_is_not_an_error(code: str) -> None:
    assert JobReporter(RecordingClient(code)).fail(JOB_ID, "JobFailed", "m", "r") == "already_closed"  # type: ignore[arg-type]


def test_any_other_refusal_means_the_report_was_not_delivered() -> None:
    with pytest.raises(ReportNotDeliveredError):
        JobReporter(RecordingClient("ValidationException")).succeed(JOB_ID, "s", "r", {})  # type: ignore[arg-type]


def test_the_double_rejects_what_codepipeline_would() -> None:
    operation = MODEL.operation_model("PutJobFailureResult")
    problems = validate_request(
        operation, {"jobId": "not-a-uuid", "failureDetails": {"type": "Oops", "message": "", "extra": 1}}
    )
    assert any("jobId" in problem and "does not match" in problem for problem in problems)
    assert any("not one of" in problem for problem in problems)
    assert any("message length 0 is under the minimum 1" in problem for problem in problems)
    assert any("unknown member" in problem for problem in problems)
    success = MODEL.operation_model("PutJobSuccessResult")
    assert validate_request(success, {"jobId": JOB_ID, "outputVariables": {"web image": "x"}})


def test_fit_marks_the_cut() -> None:
    assert fit("abc", 3) == "abc"
    assert fit("abcdef", 5) == "abc …"


@pytest.mark.parametrize(
    ("error", "failure_type"),
    [
        (ConfigurationError("x"), "ConfigurationError"),
        (ArtifactContentError("x"), "JobFailed"),
        (ArtifactAccessDeniedError("x"), "PermissionError"),
        (ServiceUnavailableError("x"), "SystemUnavailable"),
        (ValueError("x"), "JobFailed"),
    ],
)
def test_each_error_maps_to_one_failure_type(error: Exception, failure_type: str) -> None:
    assert failure_type_of(error) == failure_type


def test_a_success_report_carries_the_summary_the_request_id_and_the_variables() -> None:
    # Given a reporter
    client = RecordingClient()
    reporter = JobReporter(client)  # type: ignore[arg-type]
    # When a job succeeds with variables, and another with an empty summary and none
    assert reporter.succeed(JOB_ID, "web → ghcr.io/a/web:1", "req-1", {"web_imageUri": "ghcr.io/a/web:1"}) == "reported"
    reporter.succeed(JOB_ID, "", "req-2", {})
    # Then CodePipeline gets them as they are, a default summary for the empty one, and no empty variables
    (first_operation, first), (_, second) = client.requests
    assert first_operation == "PutJobSuccessResult"
    assert first == {
        "jobId": JOB_ID,
        "executionDetails": {
            "summary": "web → ghcr.io/a/web:1",
            "externalExecutionId": "req-1",
            "percentComplete": 100,
        },
        "outputVariables": {"web_imageUri": "ghcr.io/a/web:1"},
    }
    assert second["executionDetails"]["summary"] == "Image definitions written."
    assert "outputVariables" not in second


def test_a_failure_report_carries_its_type_message_and_request_id() -> None:
    client = RecordingClient()
    outcome = JobReporter(client).fail(JOB_ID, "ConfigurationError", "Fix it.", "req-1")  # type: ignore[arg-type]
    assert outcome == "reported"
    assert client.requests == [
        (
            "PutJobFailureResult",
            {
                "jobId": JOB_ID,
                "failureDetails": {"type": "ConfigurationError", "message": "Fix it.", "externalExecutionId": "req-1"},
            },
        )
    ]


def test_an_unreachable_codepipeline_means_the_report_was_not_delivered() -> None:
    class Unreachable(RecordingClient):
        def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://codepipeline.example")

    with pytest.raises(ReportNotDeliveredError, match="could not be reached: EndpointConnectionError"):
        JobReporter(Unreachable()).fail(JOB_ID, "JobFailed", "m", "r")  # type: ignore[arg-type]
    with pytest.raises(ReportNotDeliveredError, match=r"refused the job result: .*ValidationException"):
        JobReporter(RecordingClient("ValidationException")).fail(JOB_ID, "JobFailed", "m", "r")  # type: ignore[arg-type]


@pytest.fixture
def fresh_session() -> Iterator[None]:
    """A botocore session of the test's own: the shared one keeps the credentials it read first, which would be
    this test's for every later test of the process."""
    session._session.cache_clear()
    yield
    session._session.cache_clear()


@pytest.mark.usefixtures("fresh_session")
def test_the_codepipeline_client_bounds_each_attempt_and_retries_throttling(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the function's CodePipeline client
    environment = {"AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config: Any = codepipeline_client().meta.config
    # Then a hung CodePipeline costs at most 5 attempts of 2 s to connect and 5 s to answer
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}


def test_fit_keeps_a_text_of_exactly_the_limit_and_escapes_lone_surrogates() -> None:
    assert fit("a" * 10, 10) == "a" * 10
    assert fit("a" * 11, 10) == "a" * 8 + " …"
    assert fit("bad \ud800 text", 100) == "bad \\ud800 text"


def test_a_success_is_reported_with_its_summary_request_id_and_variables_exactly() -> None:
    # In this thread (the handler reports from a worker thread, where mutmut does not see which test ran the code)
    client = RecordingClient()
    reporter = JobReporter(client)  # type: ignore[arg-type]

    assert reporter.succeed(JOB_ID, "web → ghcr.io/a/web:1", "req-1", {"web_imageUri": "ghcr.io/a/web:1"}) == "reported"
    reporter.succeed(JOB_ID, "", "req-2", {})

    assert client.requests == [
        (
            "PutJobSuccessResult",
            {
                "jobId": JOB_ID,
                "executionDetails": {
                    "summary": "web → ghcr.io/a/web:1",
                    "externalExecutionId": "req-1",
                    "percentComplete": 100,
                },
                "outputVariables": {"web_imageUri": "ghcr.io/a/web:1"},
            },
        ),
        (
            "PutJobSuccessResult",
            {
                "jobId": JOB_ID,
                "executionDetails": {
                    "summary": "Image definitions written.",
                    "externalExecutionId": "req-2",
                    "percentComplete": 100,
                },
            },
        ),
    ]
