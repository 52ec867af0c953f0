"""Reporting the job's result to CodePipeline: exactly once, within the API's limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from imagedefs.aws.session import MAX_ERROR_ANSWER_BYTES, create_client, error_code, http_status
from imagedefs.errors import AnswerTooLargeError, ReportNotDeliveredError
from imagedefs.observability import MAX_ERROR_CODE_CHARS, logger, redactor, server_text

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

MAX_SUMMARY_CHARS: Final = 2048
MAX_MESSAGE_CHARS: Final = 5000
MAX_EXTERNAL_ID_CHARS: Final = 1500
# CodePipeline's answer when the job was already reported (a duplicate delivery) or is gone.
CLOSED_JOB_ERRORS: Final = frozenset({"InvalidJobStateException", "JobNotFoundException"})
TRUNCATION_MARK: Final = " …"
# How much of a refusal's message the log quotes (the error that leaves the function quotes none).
MAX_LOGGED_CHARS: Final = 2000
# PutJobSuccessResult and PutJobFailureResult answer with no member at all, their errors with a code and a message.
MAX_CODEPIPELINE_ANSWER_BYTES: Final = MAX_ERROR_ANSWER_BYTES

ReportOutcome = Literal["reported", "already_closed"]


def fit(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, marking the cut; a lone surrogate (from JSON's "\\ud800") is escaped,
    since the request could not be encoded with it."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # pragma: no mutate (codec names ignore case)
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


class JobReporter:
    """Puts the job's success or failure result to CodePipeline."""

    def __init__(self, client: CodePipelineClient) -> None:
        self._client = client

    def succeed(
        self, job_id: str, summary: str, external_execution_id: str, output_variables: Mapping[str, str]
    ) -> ReportOutcome:
        request: dict[str, Any] = {
            "jobId": job_id,
            "executionDetails": {
                "summary": fit(redactor.clean(summary or "Image definitions written."), MAX_SUMMARY_CHARS),
                "externalExecutionId": fit(external_execution_id, MAX_EXTERNAL_ID_CHARS),
                "percentComplete": 100,
            },
        }
        if output_variables:
            request["outputVariables"] = dict(output_variables)
        return self._deliver(self._client.put_job_success_result, request)

    def fail(self, job_id: str, failure_type: str, message: str, external_execution_id: str) -> ReportOutcome:
        request = {
            "jobId": job_id,
            "failureDetails": {
                "type": failure_type,
                "message": fit(redactor.clean(message), MAX_MESSAGE_CHARS),
                "externalExecutionId": fit(external_execution_id, MAX_EXTERNAL_ID_CHARS),
            },
        }
        return self._deliver(self._client.put_job_failure_result, request)

    @staticmethod
    def _deliver(operation: Callable[..., Any], request: Mapping[str, Any]) -> ReportOutcome:
        """Put the result; ReportNotDeliveredError if CodePipeline refused it or could not be reached.

        That error leaves the function (Lambda's retry must run the job again), so it names the error code and
        HTTP status only, redacted, and is raised outside the `except` that caught botocore's error: a server's
        message (a signature error quotes the request, session token included) never rides along, not even as
        its context. The message goes to the log, redacted like every log field.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            operation(**request)
        except ClientError as exc:
            if error_code(exc) in CLOSED_JOB_ERRORS:
                return "already_closed"
            code, status = server_text(error_code(exc), MAX_ERROR_CODE_CHARS), http_status(exc)
            logger.error(
                "CodePipeline refused the job result",
                extra={"error_code": code, "http_status": status, "server_message": _server_message(exc)},
            )
            failure = f"CodePipeline refused the job result: {code or 'no error code'} (HTTP {status})"
        except BotoCoreError as exc:
            logger.error("CodePipeline could not be reached", extra={"error": server_text(exc, MAX_LOGGED_CHARS)})
            failure = f"CodePipeline could not be reached: {type(exc).__name__}"
        except AnswerTooLargeError as exc:
            failure = f"CodePipeline's answer to the job result was refused: {exc}"
        else:
            return "reported"
        raise ReportNotDeliveredError(failure)


def _server_message(error: BaseException) -> str:
    response = getattr(error, "response", {})
    return server_text(response.get("Error", {}).get("Message", ""), MAX_LOGGED_CHARS)


def codepipeline_client() -> CodePipelineClient:
    """A CodePipeline client from boto3's standard configuration, retrying throttling in standard mode.

    Its timeouts shape the retries; the report's hard deadline is Lambda's own (action._deliver).
    """
    from botocore.config import Config

    client = create_client(
        "codepipeline",
        max_answer_bytes=MAX_CODEPIPELINE_ANSWER_BYTES,
        config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 5}),
    )
    return cast("CodePipelineClient", client)  # pragma: no mutate (cast does nothing at run time)
