"""One exception hierarchy for every way a job can fail, and its one mapping to CodePipeline.

Each error's message is written for the pipeline owner who reads it in the CodePipeline
console: what is wrong, where (artifact, file, field or key) and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final


class ImageDefsError(Exception):
    """A job failure whose message is safe and useful to show to the pipeline owner."""


class ConfigurationError(ImageDefsError):
    """The action's configuration (UserParameters, artifacts wiring, function settings) is wrong."""


class ArtifactContentError(ImageDefsError):
    """An input artifact's content cannot be turned into image definitions."""


class ImageRefusedError(ImageDefsError):
    """An image of the deploy failed the ECR gate: missing, its tag moved, or its scan findings refused."""


class InvalidJobError(ImageDefsError):
    """The job as CodePipeline sent it cannot be acted on (a malformed event or artifact location)."""


class ArtifactAccessDeniedError(ImageDefsError):
    """S3 or KMS refused access to an artifact."""


class ServiceUnavailableError(ImageDefsError):
    """S3 or the network failed after retries, or the time budget ran out."""


class AnswerTooLargeError(ServiceUnavailableError):
    """An AWS endpoint answered with more bytes than the function can use; the rest of the answer was never read."""

    def __init__(self, service: str, limit_bytes: int, status: int, doing: str = "") -> None:
        self.service = service
        self.limit_bytes = limit_bytes
        self.status = status
        during = f" {doing}" if doing else ""
        super().__init__(
            f"{service} answered{during} with more than {limit_bytes // 1024} KB (HTTP {status}), more than any "
            f"{service} answer the function can use, so the answer was refused unread. Retry the action; if it stays "
            f"so, something other than {service} answers at its endpoint (a proxy, or an AWS_ENDPOINT_URL_* setting)."
        )

    def while_doing(self, doing: str) -> AnswerTooLargeError:
        """The same refusal, saying what the function was doing."""
        return AnswerTooLargeError(self.service, self.limit_bytes, self.status, doing)


class ReportNotDeliveredError(Exception):
    """CodePipeline could not be told the job's result; Lambda's retry must run the job again."""


# The only place where failures meet CodePipeline's FailureType enum.
FAILURE_TYPES: Final[dict[type[ImageDefsError], str]] = {
    ConfigurationError: "ConfigurationError",
    ArtifactContentError: "JobFailed",
    ImageRefusedError: "JobFailed",
    InvalidJobError: "JobFailed",
    ArtifactAccessDeniedError: "PermissionError",
    ServiceUnavailableError: "SystemUnavailable",
}
UNEXPECTED_FAILURE_TYPE: Final = "JobFailed"


def failure_type_of(error: BaseException) -> str:
    """The CodePipeline failureDetails.type for an error raised while running a job."""
    for error_class, failure_type in FAILURE_TYPES.items():
        if isinstance(error, error_class):
            return failure_type
    return UNEXPECTED_FAILURE_TYPE


def quoted(names: Iterable[str]) -> str:
    """Names as a message lists them: "a", "b" (JSON-quoted: a name from an artifact cannot break the message)."""
    return ", ".join(json.dumps(name) for name in names)


# What a message shows of a value: a 10 KB value is cut, not echoed.
SHOWN_CHARS: Final = 100


def shown(text: str) -> str:
    """A value as a message shows it: JSON-quoted, and cut when it is long."""
    if len(text) <= SHOWN_CHARS:
        return json.dumps(text)
    return f"{json.dumps(text[:SHOWN_CHARS])}... ({len(text):,} characters)"


def capitalized(text: str) -> str:
    """A message part that starts a sentence ("the DefaultPin parameter ..." → "The DefaultPin parameter ...")."""
    return text[:1].upper() + text[1:]
