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
        if (fault.methods is not None and self.command not in fault.methods) or (
            fault.path_contains is not None and fault.path_contains not in self.path
        ):
            self._pass_through()
            return
        self.server.requests += 1
        if fault.trickle or fault.stall_mid_body_seconds:
            self._answer_slowly(fault)
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
        assert self.server.upstream, "FaultyS3 needs an upstream to pass requests through"
        upstream = urlsplit(self.server.upstream)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        connection = http.client.HTTPConnection(upstream.netloc, timeout=10)
        headers = {name: value for name, value in self.headers.items() if name.lower() != "expect"}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date", "expect"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()
        self.server.bytes_served += len(data)

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
