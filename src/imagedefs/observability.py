"""The function's structured logger, its CloudWatch metrics (EMF), and the redaction of job secrets."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics

SERVICE: Final = "image-definitions"
NAMESPACE: Final = "ImageDefinitions"
REDACTED: Final = "***redacted***"
# Lambda's longest invocation: no thread of a job outlives it by more.
SECRETS_KEPT_SECONDS: Final = 15 * 60

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class SecretRedactor:
    """Removes the running job's secrets from every log record, whoever creates it.

    It works at record creation (logging's record factory), so it covers botocore's own DEBUG
    output (which prints the session token header) and any handler a user or the runtime adds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._secrets: tuple[str, ...] = ()
        self._previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(self._create_record)

    def hide(self, *secrets: str) -> None:
        """Hide these secrets from every record for the next SECRETS_KEPT_SECONDS.

        They stay hidden after their job: a remote call abandoned at the job's deadline may still log
        from its thread, until at most Lambda's longest invocation later.
        """
        now = self._clock()
        kept = {secret: expiry for secret, expiry in self._expiry.items() if expiry > now}
        kept.update((secret, now + SECRETS_KEPT_SECONDS) for secret in secrets if secret)
        self._expiry = kept
        self._secrets = tuple(kept)

    def _create_record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous_factory(*args, **kwargs)
        if self._secrets:
            self._redact(record)
        return record

    def _redact(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would
            return
        cleaned = self._clean(message)
        if record.exc_info:
            trace = "".join(traceback.format_exception(*record.exc_info))
            if self._clean(trace) != trace:
                cleaned, record.exc_info, record.exc_text = f"{cleaned}\n{self._clean(trace)}", None, None
        if cleaned != message:
            record.msg, record.args = cleaned, None

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


redactor = SecretRedactor()
