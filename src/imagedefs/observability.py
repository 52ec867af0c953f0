"""The function's structured logger, its CloudWatch metrics (EMF), and the redaction of job secrets."""

from __future__ import annotations

import base64
import html
import logging
import math
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, repeat
from typing import Any, Final
from urllib.parse import quote, quote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE: Final = "image-definitions"
NAMESPACE: Final = "ImageDefinitions"
REDACTED: Final = "***redacted***"
# Lambda's longest invocation: no thread of a job outlives it by more.
SECRETS_KEPT_SECONDS: Final = 15 * 60
# At most this many secrets are kept (the newest): 16 jobs' four, about 1 MB of patterns each job; a warm
# environment that runs many jobs within SECRETS_KEPT_SECONDS would otherwise grow by that much per job.
MAX_KEPT_SECRETS: Final = 64
# An AWS error code as a message quotes it: AWS's are short names, a longer one is no AWS code.
MAX_ERROR_CODE_CHARS: Final = 100
# The shortest piece of a secret that is redacted wherever it is: a server may quote only part of one (a message
# cut at 300 characters, one line of a wrapped dump), and 16 characters of a 40-character secret key are still
# 96 of its 240 bits. In base64 or base32, a piece is as many characters as PIECE_CHARS bytes alone decide (fewer
# would let a plain secret's base32 match unrelated text). A secret (or a form of it) shorter is redacted whole.
PIECE_CHARS: Final = 16
# Pieces are found by sampling: every step-th _GRAM-character gram of each form is indexed, and the text's grams
# are looked up every _TEXT_STEP characters. The steps being coprime, any run of step * _TEXT_STEP + _GRAM - 1
# characters that text and form share holds a looked-up gram that is indexed: each form's step is the largest
# for which that run is no longer than its piece (`_form_step`).
_GRAM: Final = 5
_TEXT_STEP: Final = 3
_STRAY_CHARS: Final = 3  # see _View.original
# What a server puts between the characters of a text it wraps (MIME base64 at 76, AWS's messages at 60-80, NULs
# between the bytes of UTF-16 once its hex is decoded): never part of a secret, so ignored in matching.
_IGNORED: Final = dict.fromkeys(["\0", *(char for char in map(chr, range(0x3001)) if char.isspace())], False)
_IGNORED_CHARS: Final = re.compile(r"[\s\x00]")
# Escapes a server or a library may write a character as, nested up to _ESCAPE_DEPTH deep ("%252F", "\u0025" for
# "%", "&amp;#43;"): a JSON escape (a "\n" there is a wrapped line, or in a text with every character escaped, an
# "n"), an XML or HTML character reference, or a byte percent-encoded.
_ESCAPE: Final = re.compile(
    r"\\u(?P<utf16>[0-9A-Fa-f]{4})|\\(?P<escaped>.)|&(?P<reference>#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|amp|lt|gt|quot"
    r"|apos);|%(?P<percent>[0-9A-Fa-f]{2})",
    re.DOTALL,
)
_ESCAPE_DEPTH: Final = 4
_LINE_BREAK_ESCAPES: Final = frozenset("nrt")
_NON_JSON_ESCAPE: Final = re.compile(r'\\[^"\\/bfnrtu]')
# URL-safe base64 matched as the standard alphabet: forms and texts are compared in this alphabet.
_STANDARD_ALPHABET: Final = str.maketrans("-_", "+/")
# One byte written as hex (either case), with what may stand before and after it: S3 writes "50 4f 53 54",
# others "504F5354", "50:4f", "\x50\x4f", "0x50, 0x4f", or a dump cut into lines (JSON shows a break as "\n").
_HEX_BYTE: Final = r"(?:\\x|0x|%)?([0-9A-Fa-f]{2})(?:[\s,:.-]|\\[nrt]){0,3}"
_HEX_PAIR: Final = re.compile(_HEX_BYTE)
_HEX_RUN_CHARS: Final = r"0-9A-Fa-fx%\s,:.\\nrt-"
# botocore's DEBUG records that print what a server sent: its error bodies quote the request, credentials
# included, in encodings of the server's choosing (S3's <CanonicalRequestBytes> is hex).
_SERVER_TEXT_RECORDS: Final = ("Response headers:", "Response body:")


@dataclass(frozen=True)
class _Form:
    """A secret as a text can hold it, and the shortest part of it that is redacted wherever it is."""

    text: str
    piece_chars: int


def _cores(data: bytes, encode: Callable[[bytes], bytes], group_bytes: int, char_bits: int) -> Iterator[_Form]:
    """The characters of a base64 (or base32) text that these bytes alone decide, wherever they start in a longer
    text: a secret inside a larger encoded text starts at one of `group_bytes` alignments, and the characters it
    shares with its neighbours differ."""
    # A piece: the fewest characters that PIECE_CHARS bytes alone decide, at any alignment.
    piece_chars = min(last - first for first, last in (_core(at, PIECE_CHARS, char_bits) for at in range(group_bytes)))
    for offset in range(group_bytes):
        first, last = _core(offset, len(data), char_bits)
        yield _Form(encode(b"\0" * offset + data).decode()[first:last].translate(_STANDARD_ALPHABET), piece_chars)


def _core(offset: int, length: int, char_bits: int) -> tuple[int, int]:
    """The characters that `length` bytes after `offset` others alone decide: the first holds no bit of the bytes
    before, and the characters up to the last hold no bit of the bytes after."""
    return (offset * 8 + char_bits - 1) // char_bits, (offset + length) * 8 // char_bits


@lru_cache(maxsize=64)
def _forms_of(secret: str) -> tuple[_Form, ...]:
    """The secret as what AWS sends back can hold it once escapes (`_ESCAPE`), whitespace and hex are decoded:
    plain, base64 (of the plain or the URL-encoded text) at every alignment, or base32 at every alignment."""
    texts = dict.fromkeys((secret, quote(secret, safe=""), quote(secret), quote_plus(secret)))
    data = [text.encode("utf-8", "surrogatepass") for text in texts]
    base64_cores = (core for text in data for core in _cores(text, base64.b64encode, 3, 6))
    plain = _Form(secret.translate(_STANDARD_ALPHABET), PIECE_CHARS)
    forms = dict.fromkeys([plain, *base64_cores, *_cores(data[0], base64.b32encode, 5, 5)])
    return tuple(form for form in forms if form.text)


def _form_step(piece_chars: int) -> int:
    return max(
        step
        for step in range(1, piece_chars)
        if math.gcd(step, _TEXT_STEP) == 1 and step * _TEXT_STEP + _GRAM - 1 <= piece_chars
    )


@dataclass(frozen=True)
class _View:
    """A text as matched (escapes decoded, whitespace dropped), and where each of its characters was in the
    original text: from starts[i] to ends[i]."""

    text: str
    starts: Sequence[int]
    ends: Sequence[int]

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Where these characters were in the original text, less up to _STRAY_CHARS at either end that whitespace
        (or a dropped escape) parts from the rest, while PIECE_CHARS remain: those are likelier a neighbouring
        word's, which whitespace being ignored lets match ("before" lends its "e" to a secret's piece that starts
        with one), than a wrapped secret's own first or last few, which are too few to matter."""
        head = [at for at in range(start + 1, min(start + _STRAY_CHARS + 1, end)) if self._parted(at)]
        if head and end - head[-1] >= PIECE_CHARS:
            start = head[-1]
        tail = [at for at in range(max(end - _STRAY_CHARS, start + 1), end) if self._parted(at)]
        if tail and tail[0] - start >= PIECE_CHARS:
            end = tail[0]
        return self.starts[start], self.ends[end - 1]

    def _parted(self, at: int) -> bool:
        """Whether something dropped (whitespace, an escaped line break) stood before this character."""
        return self.ends[at - 1] != self.starts[at]


def _views(text: str, starts: Sequence[int], ends: Sequence[int]) -> Iterator[_View]:
    """The text as matched: whitespace dropped and escapes decoded, a JSON "\\n" read as a wrapped line (and also
    as an "n" in a text that escapes characters JSON never escapes, as one with every character escaped does)."""
    if _IGNORED_CHARS.search(text):
        kept = list(map(_IGNORED.get, text, repeat(True)))
        text, starts, ends = "".join(compress(text, kept)), list(compress(starts, kept)), list(compress(ends, kept))
    view = _View(text, starts, ends)
    yield _unescaped(view, line_breaks=True)
    if _NON_JSON_ESCAPE.search(text):
        yield _unescaped(view, line_breaks=False)


def _unescaped(view: _View, line_breaks: bool) -> _View:
    for _ in range(_ESCAPE_DEPTH):
        escapes = list(_ESCAPE.finditer(view.text))
        if not escapes:
            break
        # Each escape's first character becomes the character it stands for (spanning the whole escape), the
        # others are dropped.
        chars, ends, kept = list(view.text), list(view.ends), bytearray(b"\1" * len(view.text))
        for escape in escapes:
            start, end = escape.span()
            chars[start] = _escaped_char(escape, line_breaks)
            ends[start] = ends[end - 1]
            kept[start + 1 : end] = bytes(end - start - 1)
            kept[start] = chars[start] != ""
        view = _View("".join(compress(chars, kept)), list(compress(view.starts, kept)), list(compress(ends, kept)))
    return view


def _escaped_char(escape: re.Match[str], line_breaks: bool) -> str:
    if escape["utf16"] or escape["percent"]:
        return chr(int(escape["utf16"] or escape["percent"], 16))
    if escape["escaped"]:
        return "" if line_breaks and escape["escaped"] in _LINE_BREAK_ESCAPES else escape["escaped"]
    return html.unescape(escape[0])


def _common_prefix_length(first: str, second: str) -> int:
    length = 0
    for this, that in zip(first, second, strict=False):
        if this != that:
            break
        length += 1
    return length


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class SecretRedactor:
    """Removes the running job's secrets from every log record, whoever creates it, and from any text given to
    `clean`: in every form (`_forms_of`, hex, escapes), whatever a server wrapped them with, and every piece of
    PIECE_CHARS or more characters of them.

    It works at record creation (logging's record factory), so it covers botocore's own DEBUG
    output (which prints the session token header) and any handler a user or the runtime adds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._forms: tuple[_Form, ...] = ()
        self._whole_forms: tuple[str, ...] = ()  # too short to be found by their grams: found whole
        self._grams: frozenset[str] = frozenset()
        self._hex_zone, self._hex_run = _hex_patterns(PIECE_CHARS)
        self._previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(self._create_record)

    def hide(self, *secrets: str) -> None:
        """Hide these secrets from every record for the next SECRETS_KEPT_SECONDS.

        They stay hidden after their job: a remote call abandoned at the job's deadline may still log
        from its thread, until at most Lambda's longest invocation later.
        """
        now = self._clock()
        kept = {secret: expiry for secret, expiry in self._expiry.items() if expiry > now}
        for secret in secrets:
            if secret:
                kept.pop(secret, None)  # re-hidden: it is the newest again
                kept[secret] = now + SECRETS_KEPT_SECONDS
        self._expiry = dict(list(kept.items())[-MAX_KEPT_SECRETS:])
        kept = self._expiry
        forms = dict.fromkeys(form for secret in kept for form in _forms_of(secret))
        self._forms = tuple(form for form in forms if len(form.text) >= form.piece_chars)
        self._whole_forms = tuple(form.text for form in forms if len(form.text) < form.piece_chars)
        self._grams = frozenset(
            form.text[start : start + _GRAM]
            for form in self._forms
            for start in range(0, len(form.text) - _GRAM + 1, _form_step(form.piece_chars))
        )
        self._hex_zone, self._hex_run = _hex_patterns(min([*map(len, kept), PIECE_CHARS]))

    def clean(self, text: str) -> str:
        """The text with every form of every hidden secret, and every piece of PIECE_CHARS or more characters of
        one, replaced by REDACTED: in the text as it is, and in each run of hex in it, decoded."""
        if not self._expiry:
            return text
        spans = []
        for view in _views(text, range(len(text)), range(1, len(text) + 1)):
            spans += [view.original(start, end) for start, end in self._spans(view.text)]
        for zone in self._hex_zone.finditer(text):
            for run in self._hex_run.finditer(text, *zone.span()):
                spans += self._hex_spans(text, run)
        return _replaced(text, spans)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Where in this text (as matched) a form of a secret, or a piece of one, is."""
        text = text.translate(_STANDARD_ALPHABET)
        spans = []
        for form in self._whole_forms:
            start = text.find(form)
            while start >= 0:
                spans.append((start, start + len(form)))
                start = text.find(form, start + len(form))
        covered = 0
        grams = self._grams
        for start in [at for at in range(0, len(text) - _GRAM + 1, _TEXT_STEP) if text[at : at + _GRAM] in grams]:
            if start >= covered:  # not inside a piece found already
                found = self._pieces_at(text, start)
                spans += found
                covered = max((end for _, end in found), default=covered)
        return spans

    def _pieces_at(self, text: str, start: int) -> list[tuple[int, int]]:
        """The pieces of a form long enough to be redacted that this text holds around the gram at start."""
        gram = text[start : start + _GRAM]
        pieces = []
        for form in self._forms:
            at = form.text.find(gram)
            while at >= 0:
                before = _common_prefix_length(text[max(start - at, 0) : start][::-1], form.text[:at][::-1])
                after = _common_prefix_length(text[start:], form.text[at:])
                if before + after >= form.piece_chars:
                    pieces.append((start - before, start + after))
                at = form.text.find(gram, at + 1)
        return pieces

    def _hex_spans(self, text: str, run: re.Match[str]) -> list[tuple[int, int]]:
        """Where in the text the digits are of the secrets (or pieces) that this run of hex holds, decoded."""
        spans = []
        # Without separators, a run may start one digit early (a word's last letter: "...ed504f53...").
        for shift in (0, 1):
            pairs = list(_HEX_PAIR.finditer(text, run.start() + shift, run.end()))
            decoded = bytes.fromhex("".join(pair[1] for pair in pairs)).decode("latin-1")
            starts = [pair.start(1) for pair in pairs]
            ends = [start + 2 for start in starts]
            for view in _views(decoded, starts, ends):
                spans += [view.original(start, end) for start, end in self._spans(view.text)]
        return spans

    def _create_record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous_factory(*args, **kwargs)
        if self._expiry:
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


def _hex_patterns(least_bytes: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Zones of the characters hex is written with, and the runs of hex in them, of at least this many bytes: a
    shorter run cannot hold a secret, or a piece of one. Zones are found first: ten times faster than runs."""
    return re.compile(f"[{_HEX_RUN_CHARS}]{{{2 * least_bytes},}}"), re.compile(f"(?:{_HEX_BYTE}){{{least_bytes},}}")


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
    redaction could leave part of a secret). Folding cannot bring back what was redacted: the redaction ignores
    whitespace, so a secret the server wrapped over lines is redacted whole, line breaks included."""
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
    if isinstance(record.msg, str) and record.msg.startswith(_SERVER_TEXT_RECORDS):
        # Without args, the redactor already wrote the message out (it held a piece of a hidden secret): the rest of
        # the answer, a secret not yet hidden among it (the credentials AssumeRole answers with), must not pass.
        shown = (record.args[0] if isinstance(record.args, tuple) else record.args) if record.args else None
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
