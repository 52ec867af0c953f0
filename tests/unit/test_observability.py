"""The redaction of secrets: every log record, for as long as any thread of their job may still log."""

from __future__ import annotations

import logging
import sys

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


def test_a_secret_in_an_exceptions_trace_is_redacted_and_the_rest_kept() -> None:
    previous_factory = logging.getLogRecordFactory()
    redactor = SecretRedactor()
    try:
        # Given a hidden secret and an error whose message quotes it
        redactor.hide("s3cr3t")
        try:
            raise RuntimeError("token s3cr3t leaked")
        except RuntimeError:
            error = sys.exc_info()
        # When a record of it is created, with formatting arguments
        record = logging.getLogRecordFactory()("test", logging.ERROR, __file__, 1, "failed for %s", ("s3cr3t",), error)
        # Then message and trace keep everything but the secret
        message = record.getMessage()
        assert message.startswith(f"failed for {REDACTED}\n")
        assert f"RuntimeError: token {REDACTED} leaked" in message
        assert "s3cr3t" not in message
        assert record.exc_info is None
        # And a record without the secret is left as it was
        clean = logging.getLogRecordFactory()("test", logging.INFO, __file__, 1, "all %s", ("fine",), None)
        assert (clean.msg, clean.args) == ("all %s", ("fine",))
    finally:
        logging.setLogRecordFactory(previous_factory)
