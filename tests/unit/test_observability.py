"""The redaction of secrets: every log record, for as long as any thread of their job may still log."""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
import sys
import traceback
from urllib.parse import quote

import pytest

from imagedefs.observability import (
    MAX_KEPT_SECRETS,
    REDACTED,
    SECRETS_KEPT_SECONDS,
    SecretRedactor,
    logger,
    redactor,
    scrubbed,
    server_text,
)
from tests.secret_forms import PIECE_CHARS, every_form, leaked_forms, secret_access_key, session_token

SECRETS = (session_token(), secret_access_key())


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


def test_only_the_newest_secrets_are_kept_however_many_jobs_run_in_a_warm_environment() -> None:
    previous_factory = logging.getLogRecordFactory()
    redactor = SecretRedactor()
    try:
        # Given a function secret hidden by every job, and more jobs' secrets than are kept
        function_secret = secrets.token_hex(20)
        job_secrets = [secrets.token_hex(20) for _ in range(MAX_KEPT_SECRETS)]
        for job_secret in job_secrets:
            redactor.hide(function_secret, job_secret)
        # Then the oldest job's secret is forgotten, the newest and the function's (hidden again by each job) kept
        assert _message_as_logged(f"{job_secrets[0]} {job_secrets[-1]}") == f"{job_secrets[0]} {REDACTED}"
        assert _message_as_logged(function_secret) == REDACTED
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


@pytest.mark.parametrize(("secret", "form"), [(secret, form) for secret in SECRETS for form in every_form(secret)])
def test_every_form_a_secret_can_take_in_what_aws_sends_back_is_redacted(secret: str, form: str) -> None:
    # Given a hidden secret, and a text that holds it in one of its forms (as a server's error body may)
    redactor.hide(secret)
    text = every_form(secret)[form]
    assert leaked_forms(text, secret), "the search must find the form, or it proves nothing"

    # When the text is cleaned
    cleaned = redactor.clean(text)

    # Then no form of the secret is left, and the text around it is
    assert leaked_forms(cleaned, secret) == []
    assert REDACTED in cleaned
    assert cleaned.startswith("<Body>before ")
    assert cleaned.endswith(" after</Body>")


@pytest.mark.parametrize("secret", SECRETS, ids=["session token", "secret access key"])
def test_every_piece_of_a_secret_is_redacted_wherever_it_starts_and_a_shorter_one_is_kept(secret: str) -> None:
    # Given a hidden secret, and texts that each quote a piece of it (plain, hex or base64), from every start
    redactor.hide(secret)
    for start in range(len(secret) - PIECE_CHARS + 1):
        piece = secret[start : start + PIECE_CHARS]
        for quoted in (piece, piece.encode().hex(), base64.b64encode(f"{start:03}{piece}".encode()).decode()):
            # When a text quoting it is cleaned
            cleaned = redactor.clean(f"before {quoted} after")

            # Then the piece is gone, whatever its start and form, and the text around it is kept
            assert leaked_forms(cleaned, secret) == [], (start, quoted)
            assert cleaned.startswith("before ") and cleaned.endswith(" after") and REDACTED in cleaned

        # And a piece one character shorter is too short to be a secret's: it is kept (between characters no
        # secret holds, as whitespace is ignored: "before" would lend its "e" to a piece that starts with one)
        assert redactor.clean(f"<{piece[1:]}>") == f"<{piece[1:]}>"


def test_text_without_a_secret_is_left_as_it_was() -> None:
    # Given hidden secrets, and texts full of hex and base64 that hold none of them
    redactor.hide(*SECRETS)
    texts = [
        "50 4f 53 54 0a 2f 0a 0a 68 6f 73 74 3a",
        "sha256:2a1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
        base64.b64encode(bytes(range(256))).decode(),
        "https://s3.us-west-2.amazonaws.com/bucket/key%2Fwith%20escapes?X-Amz-Date=20240101T000000Z",
        'Tom &amp; Jerry &#43; &#x2F; \\u0041\\n\\"quoted\\" %252F\r\n\tindented\x00',
        base64.b32encode(bytes(range(64))).decode(),
        bytes(range(64)).hex(" "),
    ]

    # Then cleaning changes none of them
    assert [redactor.clean(text) for text in texts] == texts


def test_every_field_the_function_logs_is_redacted() -> None:
    # Given a hidden secret, a key appended to every record, and extra fields that quote it in other forms
    secret = session_token()
    redactor.hide(secret)
    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    logger.append_keys(artifact=f"named {secret}")
    try:
        # When the function logs
        logger.warning("Job failed", extra={"reason": quote(secret, safe=""), "details": {"code": secret.encode()}})
    finally:
        logger.remove_keys(["artifact"])
        logger.removeHandler(handler)  # type: ignore[attr-defined]

    # Then the line is there, its fields all redacted
    (line,) = printed.getvalue().splitlines()
    record = json.loads(line)
    assert (record["artifact"], record["reason"]) == (f"named {REDACTED}", REDACTED)
    assert leaked_forms(line, secret) == []


def test_botocore_logs_a_response_body_by_its_size_only() -> None:
    # Given botocore's parser logging a server's error body at DEBUG, in a form no redactor knows (reversed)
    secret = session_token()
    redactor.hide(secret)
    body = f"<Error><Code>SignatureDoesNotMatch</Code><Tricky>{secret[::-1]}</Tricky></Error>".encode()
    records: list[logging.LogRecord] = []
    parser_log = logging.getLogger("botocore.parsers")
    handler = _Recording(records)
    parser_log.addHandler(handler)
    level = parser_log.level
    parser_log.setLevel(logging.DEBUG)
    try:
        # When it logs the body and the headers
        parser_log.debug("Response body:\n%r", body)
        parser_log.debug("Response headers: %r", {"x-amz-request-id": "1", "x-amz-id-2": secret[::-1]})
    finally:
        parser_log.removeHandler(handler)
        parser_log.setLevel(level)

    # Then only their sizes are logged
    assert [record.getMessage() for record in records] == [
        f"Response body: {len(body)} bytes (not logged: a server's answer can quote the request's credentials)",
        "Response headers: 2 entries (not logged: a server's answer can quote the request's credentials)",
    ]


def test_a_response_body_holding_a_hidden_secret_and_one_not_yet_hidden_is_not_logged() -> None:
    # Given an STS answer quoting a hidden secret (which has the redactor write the message out) and credentials
    # that nothing has hidden yet: AssumeRole's answer is parsed, and logged, before the function can hide them
    hidden, fresh = session_token(), session_token()
    redactor.hide(hidden)
    body = f"<Credentials><SessionToken>{fresh}</SessionToken><Old>{hidden}</Old></Credentials>".encode()
    records: list[logging.LogRecord] = []
    parser_log = logging.getLogger("botocore.parsers")
    handler = _Recording(records)
    parser_log.addHandler(handler)
    level = parser_log.level
    parser_log.setLevel(logging.DEBUG)
    try:
        # When botocore logs the body
        parser_log.debug("Response body:\n%r", body)
    finally:
        parser_log.removeHandler(handler)
        parser_log.setLevel(level)

    # Then neither secret is in the record: its size is not known any more, and nothing else is logged
    assert [record.getMessage() for record in records] == [
        "Response body: ? bytes (not logged: a server's answer can quote the request's credentials)"
    ]


class _Recording(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_error_leaves_the_function_as_clean_as_a_log_record() -> None:
    # Given an error whose message, cause and context quote a hidden secret in several forms
    secret = secret_access_key()
    redactor.hide(secret)
    try:
        try:
            raise ValueError(f"server said {secret.encode().hex(' ')}")
        except ValueError as server_error:
            raise RuntimeError(f"refused: {quote(secret, safe='')}", 400) from server_error
    except RuntimeError as error:
        error.add_note(secret)
        leaving = scrubbed(error)

    # Then what leaves holds the rest of the message, and neither the secret nor its chain
    assert leaving.args == (f"refused: {REDACTED}", "400")
    assert leaving.__cause__ is None
    assert leaving.__context__ is None
    assert leaked_forms("".join(traceback.format_exception(leaving)) + repr(leaving), secret) == []


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\\n"], ids=["LF", "CRLF", "JSON's escaped LF"])
def test_server_text_shows_no_piece_of_a_secret_the_server_wrapped(line_break: str) -> None:
    # Given a server's message quoting a hidden secret in a header, the whole wrapped every 60 characters
    secret = session_token()
    redactor.hide(secret)
    header = f"x-amz-security-token:{secret}"
    wrapped = line_break.join(header[start : start + 60] for start in range(0, len(header), 60))

    # When it is quoted, its whitespace folded
    shown = server_text(f"The canonical request was{line_break}{wrapped}{line_break}host:ecs", 1000)

    # Then the secret is redacted whole, line breaks and all, and the rest is kept
    line_break_shown = " " if line_break.isspace() else line_break
    assert (
        shown == f"The canonical request was{line_break_shown}x-amz-security-token:{REDACTED}{line_break_shown}host:ecs"
    )
    assert leaked_forms(shown, secret) == []


def test_server_text_is_redacted_before_it_is_cut() -> None:
    # Given a server's message whose secret starts before the cut and ends after it
    secret = session_token()
    redactor.hide(secret)
    text = "x" * 280 + "\n" + secret

    # When it is quoted
    shown = server_text(text, 300)

    # Then no part of the secret is shown
    assert shown.startswith("x" * 280 + " ***")
    assert secret[:8] not in shown
    assert len(shown) == 300 or shown.endswith(REDACTED)
