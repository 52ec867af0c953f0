"""A local ECR endpoint for what moto's ECR does not do: findings across pages, scans still running, throttling,
slow and stalled answers, and answers of odd types.

Every request is validated against botocore's ECR model (types, required members, lengths, patterns), as the
CodePipeline double does; every answer a test scripts is validated against the operation's output shape too,
unless the test marks it as odd on purpose. A function reaches it exactly as it reaches ECR: through
AWS_ENDPOINT_URL_ECR (AWS JSON 1.1).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session

from devtools.codepipeline_double import validate_answer, validate_request
from devtools.loopback import LoopbackServer


@dataclass(frozen=True)
class Answer:
    """One scripted answer: an HTTP status and a body (an error is {"__type", "message"}), after `delay` seconds."""

    body: Any
    status: int = 200
    delay: float = 0.0
    # An answer that breaks the output shape on purpose (odd types): not validated.
    odd: bool = False


def error(code: str, status: int = 400, message: str = "injected by the test") -> Answer:
    return Answer({"__type": code, "message": message}, status)


# Operation → what it answers to a request (the request's members, as sent).
Script = Callable[[dict[str, Any]], Answer]


@dataclass
class EcrDouble:
    """Scripted answers by operation; the requests received, in order; any request or answer the model refuses."""

    scripts: dict[str, Script] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._model = botocore.session.get_session().get_service_model("ecr")

    def handle(self, operation: str, request: dict[str, Any]) -> Answer:
        with self._lock:
            self.requests.append((operation, request))
            if operation not in self.scripts:
                return error("UnknownOperationException", message=f"the double does not script {operation}")
            model = self._model.operation_model(operation)
            problems = validate_request(model, request)
            if problems:
                self.rejected.append((operation, problems))
                return error("ValidationException", message="; ".join(problems))
        answer = self.scripts[operation](request)
        if answer.status == 200 and not answer.odd and (problems := validate_answer(model, answer.body)):
            with self._lock:
                self.rejected.append((f"{operation} answer", problems))
        return answer


class _Handler(BaseHTTPRequestHandler):
    server: _DoubleServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        answer = self.server.double.handle(operation, json.loads(body or b"{}"))
        time.sleep(answer.delay)
        payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the function gave up on the call at its deadline and closed the connection
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: the recorded requests are the log."""


class _DoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, double: EcrDouble) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.double = double


class EcrDoubleServer(LoopbackServer):
    """The double served over HTTP on a free loopback port, in a background thread."""

    def __init__(self, double: EcrDouble | None = None) -> None:
        self.double = double or EcrDouble()
        super().__init__(_DoubleServer(self.double))
