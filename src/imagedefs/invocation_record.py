"""Lambda's invocation record of a job the function never finished, and the failure report it becomes.

When every asynchronous attempt fails (the process killed for memory, the timeout, an import that fails, a
report CodePipeline never answered) or the event grows too old while throttled, Lambda hands its on-failure
destination an invocation record:

    {"version": "1.0", "timestamp": "...",
     "requestContext": {"requestId", "functionArn", "condition": "RetriesExhausted" | "EventAgeExceeded",
                        "approximateInvokeCount"},
     "requestPayload": <the job event>,
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "responsePayload": {"errorType", "errorMessage", ...}}

Every part may be missing or malformed. Only the job id, the condition, the attempt count, the error type and
the function's name are read, each checked against the form Lambda gives it; the job event is never read beyond
its id, and Lambda's errorMessage never at all (it may carry what the dead function could not redact).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from imagedefs.errors import ImageDefsError, ServiceUnavailableError, capitalized
from imagedefs.job import JOB_KEY, job_id_of, secrets_of

RETRIES_EXHAUSTED: Final = "RetriesExhausted"
EVENT_AGE_EXCEEDED: Final = "EventAgeExceeded"
# The condition of an on-success record: nothing failed, nothing to report.
SUCCESS: Final = "Success"
# The function whose log the message points to: its log group (template.yaml sets it).
ENV_FUNCTION_LOG_GROUP: Final = "IMAGEDEFS_FUNCTION_LOG_GROUP"
_CONDITION: Final = re.compile(r"[A-Za-z]{1,64}", re.ASCII)
# Lambda's error types ("Runtime.ExitError", "Sandbox.Timedout") and Python exception class names.
_ERROR_TYPE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,99}", re.ASCII)
_REQUEST_ID: Final = re.compile(r"[0-9A-Za-z-]{1,64}", re.ASCII)
_FUNCTION_ARN: Final = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:(?P<name>[A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]{1,128})?",
    re.ASCII,
)
_LOG_GROUP: Final = re.compile(r"[A-Za-z0-9_./#-]{1,512}", re.ASCII)
_MAX_ATTEMPTS_SHOWN: Final = 1000
# What each error type Lambda records means, and what to change before retrying the action.
_TIMED_OUT: Final = ("it ran past its timeout", "look in its log for what it waited on, then retry the action")
_OUT_OF_MEMORY: Final = (
    "it ran out of memory",
    "raise the stack's MemorySize parameter and deploy it again, then retry the action",
)
_NOT_LOADED: Final = (
    "its code could not be loaded",
    "deploy the stack again with `make deploy` (the package is incomplete or broken), then retry the action",
)
_EXPLANATIONS: Final[dict[str, tuple[str, str]]] = {
    "Sandbox.Timedout": _TIMED_OUT,
    "Function.TimedOut": _TIMED_OUT,
    "Runtime.OutOfMemory": _OUT_OF_MEMORY,
    "Runtime.ExitError": (
        "its process exited or was killed (Lambda kills a function that runs out of memory)",
        "if its log shows no other cause, raise the stack's MemorySize parameter and deploy it again, then retry "
        "the action",
    ),
    "Runtime.ImportModuleError": _NOT_LOADED,
    "Runtime.HandlerNotFound": _NOT_LOADED,
    "Runtime.UserCodeSyntaxError": _NOT_LOADED,
    "ReportNotDeliveredError": (
        "it could not deliver its report to CodePipeline",
        "check that the function reaches CodePipeline's endpoint and that its role may put job results, then retry "
        "the action",
    ),
}
_UNEXPLAINED: Final = ("an error it could not report itself", "look in its log for the cause, then retry the action")


@dataclass(frozen=True)
class FailedInvocation:
    """What Lambda recorded of a job's last attempt; None where the record lacks it or holds no valid value."""

    job_id: str
    condition: str | None
    attempts: int | None
    error_type: str | None
    function_name: str | None
    request_id: str | None

    def failure(self, environ: Mapping[str, str]) -> ImageDefsError:
        """The job's failure as the pipeline owner reads it: what happened, where to look, what to do."""
        function = (
            f'The image definitions function "{self.function_name}"'
            if self.function_name
            else ("The image definitions function")
        )
        log_group = environ.get(ENV_FUNCTION_LOG_GROUP, "")
        where = f'its CloudWatch log group "{log_group}"' if _LOG_GROUP.fullmatch(log_group) else "its CloudWatch log"
        if self.request_id:
            where += f" has the details under request id {self.request_id}"
        attempts = f" after {self.attempts} attempts" if self.attempts else ""
        if self.condition == EVENT_AGE_EXCEEDED:
            # Throttled, never run to the end: the only failure here that a plain retry of the action can cure.
            return ServiceUnavailableError(
                f"{function} was not run for this job before the event's maximum age (Lambda: {EVENT_AGE_EXCEEDED}"
                f"{attempts}): Lambda throttled it, for lack of concurrency in the account and region. Retry the "
                f"action; if this happens again, raise the account's Lambda concurrency quota. {capitalized(where)}."
            )
        explanation, advice = _EXPLANATIONS.get(self.error_type or "", _UNEXPLAINED)
        recorded = f'error type "{self.error_type}": {explanation}' if self.error_type else "no error type recorded"
        condition = self.condition or "no condition recorded"
        return ImageDefsError(
            f"{function} ended without reporting this job (Lambda: {condition}{attempts}; {recorded}). The job was "
            f"not run again. To fix: {advice}. {capitalized(where)}."
        )


def failed_invocation_of(record: object) -> FailedInvocation | None:
    """The failed invocation a record describes; None for a record of a success or one without a job id."""
    if not isinstance(record, dict):
        return None
    job_id = job_id_of(record.get("requestPayload"))
    context = _mapping(record.get("requestContext"))
    condition = _matching(context.get("condition"), _CONDITION)
    if job_id is None or condition == SUCCESS:
        return None
    attempts = context.get("approximateInvokeCount")
    valid_attempts = isinstance(attempts, int) and not isinstance(attempts, bool) and 0 < attempts < _MAX_ATTEMPTS_SHOWN
    function_arn = context.get("functionArn")
    arn = _FUNCTION_ARN.fullmatch(function_arn) if isinstance(function_arn, str) else None
    return FailedInvocation(
        job_id=job_id,
        condition=condition,
        attempts=attempts if valid_attempts else None,
        error_type=_matching(_mapping(record.get("responsePayload")).get("errorType"), _ERROR_TYPE),
        function_name=arn["name"] if arn else None,
        request_id=_matching(context.get("requestId"), _REQUEST_ID),
    )


def record_secrets(record: object) -> tuple[str, ...]:
    """The artifact credentials' secret parts in the record's job event (for redaction)."""
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get(JOB_KEY), dict):
        return ()
    return secrets_of(payload)


def record_keys(record: object) -> list[str]:
    """The top-level keys of a record that is no failure to report, for its log line (never the values)."""
    return sorted(str(key)[:64] for key in record)[:10] if isinstance(record, dict) else []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _matching(value: object, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None
