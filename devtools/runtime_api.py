"""A local implementation of the Lambda Runtime API, for running the packaged function under awslambdaric.

awslambdaric (the runtime interface client that Lambda's Python runtime uses) long-polls
`/invocation/next`, calls the handler, and posts `/response` or `/error`; a failed import is
posted to `/init/error`. Every event carries the headers the client requires. Each invocation says
when the function took it (`taken`), so that whoever plays Lambda can watch or kill the process from then
on; `on_take` runs before the event is sent (to stop the process before it can act on it).
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.loopback import LoopbackServer

API_PREFIX = "/2018-06-01/runtime"
_RESULT_PATH = re.compile(rf"{API_PREFIX}/invocation/(?P<request_id>[^/]+)/(?P<kind>response|error)")
FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:image-definitions"


@dataclass
class Invocation:
    """One event handed to the function, and what the function answered."""

    request_id: str
    event: dict[str, Any]
    deadline_ms: int
    taken: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)
    succeeded: bool = False
    body: Any = None

    def answer(self, succeeded: bool, body: Any) -> None:
        self.succeeded, self.body = succeeded, body
        self.answered.set()


class RuntimeApi:
    """The state behind the Runtime API: events waiting to be fetched, invocations waiting for an answer."""

    def __init__(self, function_arn: str = FUNCTION_ARN) -> None:
        self.function_arn = function_arn
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.invocations: dict[str, Invocation] = {}
        self.init_error: Any = None
        self.on_take: Callable[[Invocation], None] | None = None

    def submit(self, event: dict[str, Any], timeout_seconds: float, request_id: str | None = None) -> Invocation:
        """Queue the event; a retry of an asynchronous invocation keeps its request id, as in Lambda."""
        request_id = request_id or str(uuid.uuid4())
        invocation = Invocation(request_id, event, deadline_ms=int((time.time() + timeout_seconds) * 1000))
        self.invocations[request_id] = invocation
        self.pending.put(invocation)
        return invocation


class _Handler(BaseHTTPRequestHandler):
    server: _RuntimeServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._reply(404, {"errorMessage": f"unknown path {self.path}"})
            return
        invocation = self.server.api.pending.get()
        invocation.taken.set()
        if self.server.api.on_take is not None:
            self.server.api.on_take(invocation)
        body = json.dumps(invocation.event).encode()
        self.send_response(200)
        for name, value in {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.server.api.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(payload) if payload else None
        if self.path == f"{API_PREFIX}/init/error":
            self.server.api.init_error = body
            self._reply(202, {})
            return
        match = _RESULT_PATH.fullmatch(self.path)
        invocation = self.server.api.invocations.get(match["request_id"]) if match else None
        if match is None or invocation is None:
            self._reply(404, {"errorMessage": f"unknown invocation {self.path}"})
            return
        invocation.answer(match["kind"] == "response", body)
        self._reply(202, {})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


class _RuntimeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, api: RuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A function process that stops drops its pending /next request: that is how Lambda ends it too."""


class RuntimeApiServer(LoopbackServer):
    """The Runtime API on a free loopback port; `address` is what AWS_LAMBDA_RUNTIME_API takes."""

    def __init__(self, function_arn: str = FUNCTION_ARN) -> None:
        self.api = RuntimeApi(function_arn)
        super().__init__(_RuntimeServer(self.api))

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")
