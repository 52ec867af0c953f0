"""Secrets as tests make them, and a search for them in any text that decodes what it finds.

The search does not share the redactor's code: it decodes every run of hex, base64 and base32 in the text (at
every alignment), URL- and JSON-unescapes it and decodes its character references, with and without its whitespace
and escaped line breaks (a server wraps long texts), then looks for the plain secret and for any piece of
PIECE_CHARS characters of it (a server may quote only part), so that a form the redactor does not know is still
found.
"""

from __future__ import annotations

import base64
import binascii
import html
import os
import re
from urllib.parse import quote, unquote

_HEX_RUN = re.compile(r"(?:(?:\\x|0x|%)?[0-9A-Fa-f]{2}(?:[\s,:.-]|\\[nrt]){0,3})+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_BASE32_RUN = re.compile(r"[A-Z2-7]{16,}")
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
_ANY_ESCAPE = re.compile(r"\\(.)")
_WRAPPING = re.compile(r"\s|\\[nrt]")
# The shortest piece of a secret that must never be shown: 16 characters of a 40-character secret key are 96 bits.
PIECE_CHARS = 16
# Pieces are searched for by the secret's every _GRAM-character gram, looked up every _GRAM characters of the text.
_GRAM = 8


def session_token() -> str:
    """A fresh session token shaped like STS's: long base64 with "+", "/" and "=" (which URL encoding changes)."""
    return "IQoJb3JpZ2luX2VjE" + base64.b64encode(b"\xfb\xff" + os.urandom(360)).decode()


def secret_access_key() -> str:
    """A fresh secret access key shaped like IAM's: 40 characters of base64, "/" and "+" included."""
    return (base64.b64encode(b"\xfb\xff" + os.urandom(28)).decode())[:40]


def leaked_forms(text: str, secret: str) -> list[str]:
    """The forms in which `secret` is in `text`: plain, URL-encoded, JSON-escaped, hex or base64."""
    found = []
    if secret in text:
        found.append("plain")
    if any(secret in variant for variant in _unescaped(text)[1:]):
        found.append("URL-encoded or JSON-escaped")
    if any(_holds(decoded, secret) for decoded in _hex_decoded(text)):
        found.append("hex")
    if any(_holds(decoded, secret) for decoded in _base64_decoded(text)):
        found.append("base64")
    if len(secret) >= PIECE_CHARS and _holds_a_piece(text, secret):
        found.append(f"a piece of {PIECE_CHARS} characters or more (wrapped, escaped, cut short, base32, ...)")
    return found


def _holds_a_piece(text: str, secret: str) -> bool:
    grams: dict[str, list[int]] = {}
    for start in range(len(secret) - _GRAM + 1):
        grams.setdefault(secret[start : start + _GRAM], []).append(start)
    return any(_shares_a_piece(decoded, secret, grams) for decoded in _decodings(text))


def _shares_a_piece(decoded: str, secret: str, grams: dict[str, list[int]]) -> bool:
    """Whether the two share PIECE_CHARS characters: such a run holds a whole gram at a multiple of _GRAM."""
    for at in range(0, len(decoded) - _GRAM + 1, _GRAM):
        for start in grams.get(decoded[at : at + _GRAM], []):
            before = _common_length(decoded[max(at - PIECE_CHARS, 0) : at][::-1], secret[:start][::-1])
            if before + _common_length(decoded[at : at + PIECE_CHARS], secret[start:]) >= PIECE_CHARS:
                return True
    return False


def _common_length(first: str, second: str) -> int:
    pairs = enumerate(zip(first, second, strict=False))
    return next((index for index, (this, that) in pairs if this != that), min(len(first), len(second)))


def _decodings(text: str) -> list[str]:
    """The text, and without its wrapping, each unescaped, and what its runs of hex, base64 and base32 decode to."""
    decodings = []
    for source in dict.fromkeys([text, _WRAPPING.sub("", text)]):
        decodings += _unescaped(source)
        encoded = [*_hex_decoded(source), *_base64_decoded(source), *_base32_decoded(source)]
        decodings += [unquote(decoded.replace("\0", "")) for decoded in encoded]  # of a URL-encoded text, or UTF-16
    return list(dict.fromkeys(decodings))


def every_form(secret: str) -> dict[str, str]:
    """The secret as AWS and the libraries between may write it, each inside some other text."""
    url = quote(secret, safe="")
    data = secret.encode()
    forms = {
        "plain": secret,
        "URL-encoded": url,
        "URL-encoded, '/' kept": quote(secret),
        "URL-encoded twice": quote(url, safe=""),
        "URL-encoded, lower-case hex": re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), url),
        "JSON-escaped": secret.replace("/", "\\/").replace("+", "\\u002b"),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "hex with spaces, as S3's CanonicalRequestBytes": data.hex(" "),
        "HEX with colons": data.hex(":").upper(),
        "hex with \\x": "".join(f"\\x{byte:02x}" for byte in data),
        "hex of the URL-encoded text, as S3 shows a presigned request": url.encode().hex(" "),
        "hex cut into lines of 16 bytes": "\n".join(data[i : i + 16].hex(" ") for i in range(0, len(data), 16)),
    }
    for offset in range(3):
        before = b"x-amz-security-token:"[:offset]
        forms[f"base64 at alignment {offset}"] = base64.b64encode(before + data + b"\n").decode()
        forms[f"URL-safe base64 at alignment {offset}"] = base64.urlsafe_b64encode(before + data).decode()
        forms[f"base64 of the URL-encoded text at {offset}"] = base64.b64encode(before + url.encode()).decode()
    for offset in range(5):
        forms[f"base32 at alignment {offset}"] = base64.b32encode(b"x-amz"[:offset] + data).decode()
    header = "x-amz-security-token:" + secret
    forms.update(
        {
            # A server wraps long texts: AWS's signature errors every 60-80 characters, MIME base64 at 76.
            "wrapped at 60 with line breaks": _wrapped(header, 60, "\n"),
            "wrapped at 80 with CRLF": _wrapped(header, 80, "\r\n"),
            "wrapped at 64 with JSON's escaped line breaks": _wrapped(header, 64, "\\n"),
            "wrapped every 10 characters": _wrapped(header, 10, "\n "),
            "base64 wrapped at 76, as MIME": _wrapped(base64.b64encode(header.encode()).decode(), 76, "\r\n"),
            "XML character references": secret.replace("+", "&#43;").replace("/", "&#x2F;").replace("=", "&#61;"),
            "XML character references, escaped again": secret.replace("+", "&amp;#43;").replace("/", "&amp;#x2f;"),
            "letters percent-encoded here and there": "".join(
                f"%{ord(char):02X}" if index % 7 == 3 else char for index, char in enumerate(secret)
            ),
            "letters JSON-escaped here and there": "".join(
                f"\\u{ord(char):04x}" if index % 9 == 4 else char for index, char in enumerate(secret)
            ),
            "every character backslash-escaped": "".join(f"\\{char}" for char in secret),
            "URL-encoded twice, its '%' JSON-escaped": quote(url, safe="").replace("%", "\\u0025"),
            "hex of UTF-16LE": secret.encode("utf-16-le").hex(),
            "HEX of UTF-16BE with spaces": secret.encode("utf-16-be").hex(" ").upper(),
            # A server may quote only part of a secret: its start (a message cut short), its end, or a middle.
            "cut short by the server": secret[: max(PIECE_CHARS, len(secret) // 2)] + "...",
            "its last characters only": "..." + secret[-PIECE_CHARS:],
            "a middle piece, URL-encoded": quote(secret[len(secret) // 3 :][:PIECE_CHARS], safe=""),
        }
    )
    return {name: f"<Body>before {form} after</Body>" for name, form in forms.items()}


def _wrapped(text: str, width: int, line_break: str) -> str:
    return line_break.join(text[start : start + width] for start in range(0, len(text), width))


def _holds(decoded: str, secret: str) -> bool:
    return any(secret in variant for variant in _unescaped(decoded))


def _unescaped(text: str) -> list[str]:
    json_unescaped = _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text.replace("\\/", "/"))
    once = unquote(json_unescaped)
    referenced = html.unescape(html.unescape(text))
    return [text, json_unescaped, once, unquote(once), unquote(unquote(once)), referenced, _ANY_ESCAPE.sub(r"\1", text)]


def _hex_decoded(text: str) -> list[str]:
    decoded = []
    for run in _HEX_RUN.finditer(text):
        digits = "".join(re.findall(r"(?:\\x|0x|%)?([0-9A-Fa-f]{2})", run[0]))
        for aligned in (digits, digits[1:-1]):
            decoded.append(bytes.fromhex(aligned).decode("latin-1"))
    return decoded


def _base32_decoded(text: str) -> list[str]:
    decoded = []
    for run in _BASE32_RUN.finditer(text):
        for offset in range(8):
            chunk = run[0][offset:]
            chunk = chunk[: len(chunk) // 8 * 8]
            try:
                decoded.append(base64.b32decode(chunk).decode("latin-1"))
            except (binascii.Error, ValueError):
                continue
    return decoded


def _base64_decoded(text: str) -> list[str]:
    decoded = []
    for run in _BASE64_RUN.finditer(text):
        standard = run[0].translate(str.maketrans("-_", "+/"))
        for offset in range(4):
            chunk = standard[offset:]
            chunk = chunk[: len(chunk) - (len(chunk) % 4 == 1)]  # a lone last character holds no whole byte
            chunk += "=" * (-len(chunk) % 4)
            try:
                decoded.append(base64.b64decode(chunk).decode("latin-1"))
            except (binascii.Error, ValueError):
                continue
    return decoded
