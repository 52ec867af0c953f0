"""An S3 (or ECS) endpoint that fails requests the way a test asks: an error code, a stall, a late or trickled answer.

Errors are S3's XML, or with `json_error` the JSON of AWS's JSON protocols (ECS: HTTP 400 with
`{"__type": "AccessDeniedException"}`), with the message a test gives, or AWS's signature errors that quote the
request (`signature_mismatch`); `answers` keeps the error bodies sent. Every request's access key is recorded
(`access_keys`), so a test can tell which credentials signed it.

With `methods`, only those HTTP methods fail and the others pass through to a real (moto) S3,
so that a test can let reads succeed and make the write fail; with `path_contains`, only requests
whose path holds it fail (one object of several). With `methods=frozenset()` nothing
fails: it is a proxy that counts the bytes S3 served (`bytes_served`). With `delay_seconds` every
request passes through, each answered that late. With `trickle` ("headers" or "body") or
`stall_mid_body_seconds`, a GET is answered 200 with a body of `TRICKLED_BODY_BYTES`, sent slowly.

With `answer_bytes`, a failing request is answered `status` with a body of that many bytes (an error padded to it,
or for a 200 an S3 object's bytes or, with `json_error`, an ECS task definition), framed as `framing` says:
"length" (Content-Length), "close" (no length: the body ends when the connection does) or "chunked". With
`operations`, only requests of those operations (X-Amz-Target of the JSON protocols, or the path of CBOR's) fail;
the others pass through. With `ranges="overlapping"`, every ranged GET is answered from the upstream object with
as many bytes as asked, but ending at the first byte asked: all of it but one byte overlaps what came before.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from devtools import signature_errors
from devtools.loopback import LoopbackServer

# Every slow answer ends by itself after this long, whatever the client does.
MAX_SLOW_ANSWER_SECONDS = 60.0
TRICKLED_BODY_BYTES = 4096
_PIECE_BYTES = 1024 * 1024


@dataclass
class Fault:
    status: int = 403
    code: str = "AccessDenied"
    stall_seconds: float = 0.0
    methods: frozenset[str] | None = None
    delay_seconds: float = 0.0
    trickle: str | None = None
    trickle_interval: float = 0.3
    stall_mid_body_seconds: float = 0.0
    json_error: bool = False
    # The error's message (default: "<code> (injected)").
    message: str | None = None
    # Answer as AWS does a request whose signature it refuses (devtools.signature_errors): S3's
    # SignatureDoesNotMatch XML, or with `json_error` an InvalidSignatureException; both quote the request.
    signature_mismatch: bool = False
    path_contains: str | None = None
    answer_bytes: int = 0
    framing: str = "length"
    operations: frozenset[str] | None = None
    ranges: str | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _FaultServer
    # HTTP/1.1 answers botocore's "Expect: 100-continue" at once; HTTP/1.0 would make every PUT wait 1 s.
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        fault = self.server.fault
        credential = self.headers.get("Authorization", "").partition("Credential=")[2]
        self.server.access_keys.append(credential.partition("/")[0])
        if fault.delay_seconds:
            self.server.requests += 1
            time.sleep(fault.delay_seconds)
            if not self.server.closing:  # the test that asked for it may be over
                self._pass_through()
            return
        if (
            (fault.methods is not None and self.command not in fault.methods)
            or (fault.path_contains is not None and fault.path_contains not in self.path)
            or (fault.operations is not None and self._operation() not in fault.operations)
        ):
            self._pass_through()
            return
        self.server.requests += 1
        if fault.trickle or fault.stall_mid_body_seconds:
            self._answer_slowly(fault)
            return
        if fault.ranges == "overlapping" and "Range" in self.headers:
            self._answer_overlapping()
            return
        if fault.answer_bytes:
            self._answer_huge(fault)
            return
        if fault.stall_seconds:
            time.sleep(fault.stall_seconds)
        content_type, body = self._error_body(fault)
        self.server.answers.append(body)
        self.close_connection = True  # the request body, if any, is left unread
        try:
            self.send_response(fault.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a stalled answer

    def _error_body(self, fault: Fault) -> tuple[str, bytes]:
        message = fault.message if fault.message is not None else f"{fault.code} (injected)"
        if fault.signature_mismatch:
            request = self.command, self.path, dict(self.headers.items())
            received = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not fault.json_error:
                return "application/xml", signature_errors.s3_error_xml(*request, received)
            message = signature_errors.json_service_message(*request, received)
        if fault.json_error:
            return "application/x-amz-json-1.1", json.dumps({"__type": fault.code, "message": message}).encode()
        return "application/xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{escape(fault.code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>FAULT</RequestId></Error>"
        ).encode()

    def _operation(self) -> str:
        """The operation asked for: X-Amz-Target's (JSON protocols) or the path's last segment (CBOR)."""
        return self.headers.get("X-Amz-Target", "").rpartition(".")[2] or self.path.rpartition("/")[2]

    def _answer_overlapping(self) -> None:
        first, _, last = self.headers["Range"].removeprefix("bytes=").partition("-")
        if not first:  # the tail: answered as asked
            self._pass_through()
            return
        body = self._upstream_answer(without_range=True)[2]
        start, end = int(first), min(int(last), len(body) - 1)
        lead = min(start, end - start)
        self.server.bytes_served += end - start + 1
        self._send(
            206,
            {"Content-Range": f"bytes {start - lead}-{end - lead}/{len(body)}", "Content-Type": "binary/octet-stream"},
            [body[start - lead : end - lead + 1]],
            "length",
        )

    def _answer_huge(self, fault: Fault) -> None:
        if fault.json_error and fault.status == 200:
            head = b'{"taskDefinition": {"family": "shop", "containerDefinitions": [{"name": "web", "image": "'
            tail = b'"}]}}'
        elif fault.json_error:
            head, tail = f'{{"__type": "{fault.code}", "message": "'.encode(), b'"}'
        elif fault.status == 200:
            head, tail = b"PK", b""
        else:
            head = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault.code}</Code><Message>'.encode()
            tail = b"</Message><RequestId>FAULT</RequestId></Error>"
        whole, rest = divmod(fault.answer_bytes - len(head) - len(tail), _PIECE_BYTES)
        filler = b"x" * _PIECE_BYTES  # one piece, sent again and again
        pieces = [head, *[filler] * whole, filler[:rest], tail]
        content_type = "application/x-amz-json-1.1" if fault.json_error else "application/xml"
        self.close_connection = True  # the request body, if any, is left unread
        self._send(fault.status, {"Content-Type": content_type}, pieces, fault.framing)

    def _send(self, status: int, headers: dict[str, str], pieces: list[bytes], framing: str) -> None:
        """An answer whose body is `pieces`, framed by Content-Length, by the connection's end, or chunked."""
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if framing == "length":
                self.send_header("Content-Length", str(sum(map(len, pieces))))
            elif framing == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            for piece in pieces:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" and piece else piece)
            if framing == "chunked":
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should

    def _answer_slowly(self, fault: Fault) -> None:
        size = TRICKLED_BODY_BYTES
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: binary/octet-stream\r\nContent-Length: {size}\r\n"
            f"Content-Range: bytes 0-{size - 1}/{size}\r\n\r\n"
        ).encode()
        body = b"PK" + b"\0" * (size - 2)
        if fault.trickle == "headers":
            pieces = [head[i : i + 1] for i in range(len(head))] + [body]
        elif fault.trickle == "body":
            pieces = [head] + [body[i : i + 1] for i in range(size)]
        else:
            pieces = [head, body[: size // 2], b"", body[size // 2 :]]  # b"": the stall
        self.close_connection = True
        deadline = time.monotonic() + MAX_SLOW_ANSWER_SECONDS
        try:
            for piece in pieces:
                if time.monotonic() > deadline:
                    return
                if piece:
                    self.wfile.write(piece)
                    self.wfile.flush()
                time.sleep(fault.trickle_interval if fault.trickle else 0 if piece else fault.stall_mid_body_seconds)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up

    def _pass_through(self) -> None:
        status, headers, data = self._upstream_answer()
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date", "expect"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.bytes_served += len(data)

    def _upstream_answer(self, without_range: bool = False) -> tuple[int, list[tuple[str, str]], bytes]:
        """The upstream's answer to this request (status, headers, body); `without_range`: to all of the object."""
        assert self.server.upstream, "FaultyS3 needs an upstream to pass requests through"
        upstream = urlsplit(self.server.upstream)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        dropped = {"expect", "range"} if without_range else {"expect"}
        headers = {name: value for name, value in self.headers.items() if name.lower() not in dropped}
        connection = http.client.HTTPConnection(upstream.netloc, timeout=10)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    do_GET = do_PUT = do_HEAD = do_POST = _answer  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


class _FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fault: Fault, upstream: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fault = fault
        self.upstream = upstream
        self.requests = 0
        self.bytes_served = 0
        self.access_keys: list[str] = []
        self.answers: list[bytes] = []  # the error bodies sent
        self.closing = False


class FaultyS3(LoopbackServer):
    """Serve `fault` on a free loopback port while in the `with` block."""

    def __init__(self, fault: Fault, upstream: str | None = None) -> None:
        self._fault_server = _FaultServer(fault, upstream)
        super().__init__(self._fault_server)

    def __exit__(self, *exc_info: object) -> None:
        self._fault_server.closing = True
        super().__exit__(*exc_info)

    @property
    def fault(self) -> Fault:
        return self._fault_server.fault

    @fault.setter
    def fault(self, fault: Fault) -> None:
        """Answer the next requests with this fault instead."""
        self._fault_server.fault = fault

    @property
    def answers(self) -> list[bytes]:
        return self._fault_server.answers

    @property
    def requests(self) -> int:
        return self._fault_server.requests

    @property
    def access_keys(self) -> list[str]:
        return self._fault_server.access_keys

    @property
    def bytes_served(self) -> int:
        return self._fault_server.bytes_served
