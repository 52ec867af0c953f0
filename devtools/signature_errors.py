"""AWS's signature errors, as real endpoints answer them: they quote the canonical request they computed from the
request received, and so its `x-amz-security-token` header (the caller's session token).

Two forms are served: the JSON (and CBOR) services' InvalidSignatureException, whose message holds "The Canonical
String for this request should have been '…'", and S3's SignatureDoesNotMatch XML, which holds the string to sign
and the canonical request both as text and as space-separated hex bytes (`<CanonicalRequestBytes>50 4f 53 54 0a
…`). The texts follow samples that AWS returned (aws/aws-sdk-js#168, aws-amplify/amplify-js#573,
aws-amplify/aws-sdk-ios#2236).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

JSON_SERVICE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
S3_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)


def canonical_request(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    """SigV4's canonical request for what was received, over the headers its Authorization header says it signed."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signed = lowered.get("authorization", "").partition("SignedHeaders=")[2].partition(",")[0]
    names = [name for name in signed.split(";") if name] or sorted(name for name in lowered if name.startswith("x-amz"))
    url = urlsplit(path)
    query = "&".join(sorted(part for part in url.query.split("&") if part))
    payload = lowered.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    header_lines = "".join(f"{name}:{' '.join(lowered.get(name, '').split())}\n" for name in names)
    return f"{method}\n{url.path or '/'}\n{query}\n{header_lines}\n{';'.join(names)}\n{payload}"


def string_to_sign(headers: Mapping[str, str], canonical: str) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    credential = lowered.get("authorization", "").partition("Credential=")[2].partition(",")[0]
    scope = credential.partition("/")[2]
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"AWS4-HMAC-SHA256\n{lowered.get('x-amz-date', '')}\n{scope}\n{digest}"


def json_service_message(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    """The message of an InvalidSignatureException, as CodePipeline, ECS and the other JSON services write it."""
    canonical = canonical_request(method, path, headers, body)
    return (
        f"{JSON_SERVICE_MESSAGE}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
        f"The String-to-Sign should have been\n'{string_to_sign(headers, canonical)}'\n"
    )


def s3_error_xml(method: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """S3's SignatureDoesNotMatch error body (HTTP 403)."""
    canonical = canonical_request(method, path, headers, body)
    to_sign = string_to_sign(headers, canonical)
    credential = dict(headers).get("Authorization", "").partition("Credential=")[2].partition("/")[0]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
        f"<Message>{S3_MESSAGE}</Message><AWSAccessKeyId>{escape(credential)}</AWSAccessKeyId>"
        f"<StringToSign>{escape(to_sign)}</StringToSign><SignatureProvided>0</SignatureProvided>"
        f"<StringToSignBytes>{_hex_bytes(to_sign)}</StringToSignBytes>"
        f"<CanonicalRequest>{escape(canonical)}</CanonicalRequest>"
        f"<CanonicalRequestBytes>{_hex_bytes(canonical)}</CanonicalRequestBytes>"
        "<RequestId>4442587FB7D0A2F9</RequestId><HostId>signature-error</HostId></Error>"
    ).encode()


def _hex_bytes(text: str) -> str:
    return " ".join(f"{byte:02x}" for byte in text.encode())
