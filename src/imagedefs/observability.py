"""The function's structured logger, its CloudWatch metrics (EMF), and the redaction of job secrets."""

from __future__ import annotations

import base64
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote, quote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE: Final = "image-definitions"
NAMESPACE: Final = "ImageDefinitions"
REDACTED: Final = "***redacted***"
# Lambda's longest invocation: no thread of a job outlives it by more.
SECRETS_KEPT_SECONDS: Final = 15 * 60
# An AWS error code as a message quotes it: AWS's are short names, a longer one is no AWS code.
MAX_ERROR_CODE_CHARS: Final = 100
# Characters that URL encoders leave as they are (RFC 3986): every other one may come percent-encoded.
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# One byte written as hex (either case), with what may stand before and after it: S3 writes "50 4f 53 54",
# others "504F5354", "50:4f", "\x50\x4f", "0x50, 0x4f", or a dump cut into lines (JSON shows a break as "\n").
_HEX_BYTE: Final = r"(?:\\x|0x|%)?([0-9A-Fa-f]{2})(?:[\s,:.-]|\\[nrt]){0,3}"
# botocore's DEBUG records that print what a server sent: its error bodies quote the request, credentials
# included, in encodings of the server's choosing (S3's <CanonicalRequestBytes> is hex).
_SERVER_TEXT_RECORDS: Final = ("Response headers:", "Response body:")


def _hex_digit(digit: str) -> str:
    return f"[{digit.lower()}{digit.upper()}]" if digit.isalpha() else digit


def _char_form(char: str) -> str:
    """A pattern for one character of a secret: plain, percent-encoded (once or twice) or JSON-escaped."""
    if char in _UNRESERVED:
        return re.escape(char)
    data = char.encode("utf-8", "surrogatepass")
    percent = "".join(f"%(?:25)*{''.join(map(_hex_digit, f'{byte:02x}'))}" for byte in data)
    json_escape = "".join(f"\\\\u{''.join(map(_hex_digit, f'{unit:04x}'))}" for unit in _utf16_units(char))
    return f"(?:{re.escape(char)}|\\\\{re.escape(char)}|{percent}|{json_escape})"


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[index : index + 2], "big") for index in range(0, len(data), 2)]


def _base64_cores(data: bytes) -> Iterator[str]:
    """The base64 characters that these bytes alone decide, wherever they start in a longer text: a secret inside
    a larger base64 text starts at one of three alignments, and the characters it shares with its neighbours
    differ."""
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        first = (offset * 8 + 5) // 6  # the first character that holds no bit of the bytes before
        last = (offset + len(data)) * 8 // 6  # the characters up to here hold no bit of the bytes after
        core = encoded[first:last]
        yield core
        yield core.translate(str.maketrans("+/", "-_"))  # the URL-safe alphabet


@dataclass(frozen=True)
class _SecretForms:
    """Every form of one secret that what AWS sends back can hold, but hex (SecretRedactor decodes hex runs)."""

    text: re.Pattern[str]  # plain, URL-encoded once or twice, JSON-escaped, or a mix
    base64: tuple[str, ...]  # of the plain or the URL-encoded text, standard or URL-safe, at any alignment


@lru_cache(maxsize=64)
def _forms_of(secret: str) -> _SecretForms:
    texts = dict.fromkeys((secret, quote(secret, safe=""), quote(secret), quote_plus(secret)))
    cores = {core for text in texts for core in _base64_cores(text.encode("utf-8", "surrogatepass"))}
    return _SecretForms(re.compile("".join(map(_char_form, secret))), tuple(sorted(cores, key=len, reverse=True)))


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class SecretRedactor:
    """Removes the running job's secrets, in every form (`_SecretForms`, and hex), from every log record, whoever
    creates it, and from any text given to `clean`.

    It works at record creation (logging's record factory), so it covers botocore's own DEBUG
    output (which prints the session token header) and any handler a user or the runtime adds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._forms: tuple[_SecretForms, ...] = ()
        self._hex_run = re.compile(f"(?:{_HEX_BYTE})+")
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
        # The longest first: a secret that holds another is removed whole.
        self._forms = tuple(_forms_of(secret) for secret in sorted(kept, key=len, reverse=True))
        # A hex run shorter than the shortest secret cannot hold one.
        shortest = min(map(len, kept), default=1)
        self._hex_run = re.compile(f"(?:{_HEX_BYTE}){{{shortest},}}")

    def clean(self, text: str) -> str:
        """The text with every form of every hidden secret replaced by REDACTED, hex included: each run of hex is
        decoded, and the digits of the secret's bytes in it are replaced."""
        if not self._forms:
            return text
        text = _replaced(text, self._spans(text))
        return self._hex_run.sub(lambda run: _replaced(run[0], self._hex_spans(run[0])), text)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for forms in self._forms:
            spans += [found.span() for found in forms.text.finditer(text)]
            for core in forms.base64:
                start = text.find(core)
                while start >= 0:
                    spans.append((start, start + len(core)))
                    start = text.find(core, start + len(core))
        return spans

    def _hex_spans(self, run: str) -> list[tuple[int, int]]:
        spans = []
        # Without separators, a run may start one digit early (a word's last letter: "...ed504f53...").
        for shift in (0, 1):
            digits = [(pair.start(1) + shift, pair.end(1) + shift) for pair in re.finditer(_HEX_BYTE, run[shift:])]
            decoded = bytes.fromhex("".join(run[start:end] for start, end in digits)).decode("latin-1")
            spans += [(digits[start][0], digits[end - 1][1]) for start, end in self._spans(decoded)]
        return spans

    def _create_record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous_factory(*args, **kwargs)
        if self._forms:
            self._redact(record)
        return record

    def _redact(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would
            return
        cleaned = self.clean(message)
        if record.exc_info:
            trace = "".join(traceback.format_exception(*record.exc_info))
            if self.clean(trace) != trace:
                cleaned, record.exc_info, record.exc_text = f"{cleaned}\n{self.clean(trace)}", None, None
        if cleaned != message:
            record.msg, record.args = cleaned, None


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with these (possibly overlapping) spans replaced by REDACTED."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        pieces += [text[position:start], REDACTED] if start >= position else []
        position = max(position, end)
    return "".join([*pieces, text[position:]]) if pieces else text


def server_text(text: object, limit: int) -> str:
    """Text that a server (or a proxy on the way) sent, as a message or log field may quote it: the secrets
    redacted first, then the whitespace folded and the text cut to `limit` characters (a cut made before the
    redaction could leave part of a secret)."""
    return " ".join(redactor.clean(str(text)).split())[:limit]


def scrubbed(error: BaseException) -> BaseException:
    """The error as it may leave the function. awslambdaric prints its type and str() (`[ERROR] Type: message`)
    and posts them as the invocation's error body, where no log redactor runs; its cause and context, which may
    quote a server, are dropped (awslambdaric prints neither, but nothing that leaves may hold a secret)."""
    error.args = tuple(redactor.clean(str(argument)) for argument in error.args)
    error.__cause__, error.__context__, error.__suppress_context__ = None, None, True
    if hasattr(error, "__notes__"):
        del error.__notes__
    return error


def _without_server_text(record: logging.LogRecord) -> bool:
    """Keep botocore's DEBUG record of a response, but only its size: the redactor removes the encodings it knows,
    and this removes the ones no redactor could foresee (a server may quote the request in any form)."""
    if isinstance(record.msg, str) and record.msg.startswith(_SERVER_TEXT_RECORDS) and record.args:
        shown = record.args[0] if isinstance(record.args, tuple) else record.args
        size = len(shown) if isinstance(shown, (bytes, str, dict)) else "?"
        record.msg = f"{record.msg.partition(':')[0]}: {size} {'entries' if isinstance(shown, dict) else 'bytes'} "
        record.msg += "(not logged: a server's answer can quote the request's credentials)"
        record.args = None
    return True


def _redacting(serialize: Callable[[Any], str]) -> Callable[[Any], str]:
    """Powertools' JSON as its formatter writes it, with the secrets removed from every field: `extra` fields and
    appended keys are added to the record after the record factory ran, and only the written line holds them all."""

    def serialized(log: Any) -> str:
        return redactor.clean(serialize(log))

    return serialized


logging.getLogger("botocore.parsers").addFilter(_without_server_text)
redactor = SecretRedactor()
_formatter = logger.registered_formatter
assert isinstance(_formatter, LambdaPowertoolsFormatter)  # pragma: no mutate (what Logger() always builds)
_formatter.json_serializer = _redacting(_formatter.json_serializer)
