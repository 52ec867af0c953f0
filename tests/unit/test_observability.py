"""The redaction of secrets: every log record, for as long as any thread of their job may still log."""

from __future__ import annotations

import logging

from imagedefs.observability import REDACTED, SECRETS_KEPT_SECONDS, SecretRedactor


def _message_as_logged(text: str) -> str:
    return logging.getLogRecordFactory()("test", logging.INFO, __file__, 1, text, None, None).getMessage()


def test_secrets_stay_hidden_for_lambdas_longest_invocation_then_are_forgotten() -> None:
    clock = [0.0]
    previous_factory = logging.getLogRecordFactory()
    redactor = SecretRedactor(clock=lambda: clock[0])
    try:
        # Given a secret of an earlier job, and one of the current job
        redactor.hide("old-secret")
        clock[0] += SECRETS_KEPT_SECONDS - 1
        redactor.hide("new-secret", "")
        assert _message_as_logged("old-secret new-secret") == f"{REDACTED} {REDACTED}"

        # When the earlier job's time is up
        clock[0] += 2
        redactor.hide()

        # Then only the current job's secret is still hidden
        assert _message_as_logged("old-secret new-secret") == f"old-secret {REDACTED}"
    finally:
        logging.setLogRecordFactory(previous_factory)
