"""An S3 endpoint that fails every request the way a test asks: an error code, or a stall."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    status: int = 403
    code: str = "AccessDenied"
    stall_seconds: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _FaultServer

    def _answer(self) -> None:
        self.server.requests += 1
        fault = self.server.fault
        if fault.stall_seconds:
            time.sleep(fault.stall_seconds)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault.code}</Code>'
            f"<Message>{fault.code} (injected)</Message><RequestId>FAULT</RequestId></Error>"
        ).encode()
        try:
            self.send_response(fault.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a stalled answer

    do_GET = do_PUT = do_HEAD = do_POST = _answer  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


class _FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fault: Fault) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fault = fault
        self.requests = 0


class FaultyS3:
    """Serve `fault` on a free loopback port while in the `with` block."""

    def __init__(self, fault: Fault) -> None:
        self._server = _FaultServer(fault)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> int:
        return self._server.requests

    def __enter__(self) -> FaultyS3:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
