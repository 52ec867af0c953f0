"""Secrets as tests make them, and a search for them in any text that decodes what it finds.

The search does not share the redactor's code: it decodes every run of hex and of base64 in the text (at every
alignment), and URL- and JSON-unescapes the text, then looks for the plain secret, so that a form the redactor
does not know is still found.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from urllib.parse import quote, unquote

_HEX_RUN = re.compile(r"(?:(?:\\x|0x|%)?[0-9A-Fa-f]{2}(?:[\s,:.-]|\\[nrt]){0,3})+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


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
    return found


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
    return {name: f"<Body>before {form} after</Body>" for name, form in forms.items()}


def _holds(decoded: str, secret: str) -> bool:
    return any(secret in variant for variant in _unescaped(decoded))


def _unescaped(text: str) -> list[str]:
    json_unescaped = _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text.replace("\\/", "/"))
    once = unquote(json_unescaped)
    return [text, json_unescaped, once, unquote(once)]


def _hex_decoded(text: str) -> list[str]:
    decoded = []
    for run in _HEX_RUN.finditer(text):
        digits = "".join(re.findall(r"(?:\\x|0x|%)?([0-9A-Fa-f]{2})", run[0]))
        for aligned in (digits, digits[1:-1]):
            decoded.append(bytes.fromhex(aligned).decode("latin-1"))
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
