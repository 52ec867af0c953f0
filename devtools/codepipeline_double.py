"""A local CodePipeline endpoint that records job results and rejects any request the real API would.

moto does not implement PutJobSuccessResult/PutJobFailureResult, and botocore's Stubber checks
neither maximum lengths, nor enums, nor patterns. This double validates every request against
botocore's own service model, all constraints included, and speaks both wire protocols that
botocore versions use for CodePipeline (Smithy RPC v2 CBOR and AWS JSON 1.1), so a function
reaches it exactly as it reaches AWS: through AWS_ENDPOINT_URL_CODEPIPELINE.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
import cbor2
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from devtools import signature_errors
from devtools.loopback import LoopbackServer

REPORT_OPERATIONS = ("PutJobSuccessResult", "PutJobFailureResult")
_CBOR_PATH = re.compile(r"/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)")


@dataclass(frozen=True)
class RecordedReport:
    """One job result that CodePipeline accepted."""

    operation: str
    request: dict[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.request["jobId"])

    @property
    def succeeded(self) -> bool:
        return self.operation == "PutJobSuccessResult"


@dataclass
class InjectedFault:
    operation: str
    code: str
    status: int
    remaining: int
    message: str = "injected by the test"
    # Quote the canonical request of the request received, as AWS's InvalidSignatureException does.
    signature_mismatch: bool = False


@dataclass(frozen=True)
class ReceivedRequest:
    """The HTTP request as it arrived, for the faults that quote it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CodePipelineDouble:
    """Job results recorded in order; a second result for the same job is refused, as AWS does."""

    reports: list[RecordedReport] = field(default_factory=list)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    faults: list[InjectedFault] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)  # the error bodies the faults answered with
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._model = botocore.session.get_session().get_service_model("codepipeline")

    def fail_next(
        self,
        operation: str,
        code: str,
        status: int = 400,
        times: int = 1,
        message: str = "injected by the test",
        signature_mismatch: bool = False,
    ) -> None:
        """Answer the next `times` calls of `operation` with an error (throttling, 5xx, ...), with `message`, or
        with `signature_mismatch` AWS's InvalidSignatureException text that quotes the request received."""
        self.faults.append(InjectedFault(operation, code, status, times, message, signature_mismatch))

    def handle(
        self, operation: str, request: dict[str, Any], received: ReceivedRequest | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The HTTP status and body CodePipeline would answer."""
        with self._lock:
            for fault in self.faults:
                if fault.operation == operation and fault.remaining > 0:
                    fault.remaining -= 1
                    message = fault.message
                    if fault.signature_mismatch and received is not None:
                        message = signature_errors.json_service_message(
                            received.method, received.path, received.headers, received.body
                        )
                    self.refusals.append(_error(fault.code, message))
                    return fault.status, self.refusals[-1]
            if operation not in REPORT_OPERATIONS:
                return 400, _error("UnknownOperationException", f"the double does not implement {operation}")
            problems = validate_request(self._model.operation_model(operation), request)
            if problems:
                self.rejected.append((operation, problems))
                return 400, _error("ValidationException", "; ".join(problems))
            if any(report.job_id == request["jobId"] for report in self.reports):
                return 400, _error("InvalidJobStateException", f"job {request['jobId']} is already closed")
            self.reports.append(RecordedReport(operation, request))
            return 200, {}


def validate_request(operation: OperationModel, request: dict[str, Any]) -> list[str]:
    """Every way `request` breaks the operation's input shape: types, required, lengths, enums, patterns."""
    problems: list[str] = []
    assert operation.input_shape is not None
    _validate(operation.input_shape, request, operation.name, problems)
    return problems


def validate_answer(operation: OperationModel, answer: dict[str, Any]) -> list[str]:
    """Every way an answer breaks the operation's output shape (what a double must never send unless told to)."""
    problems: list[str] = []
    if operation.output_shape is not None:
        _validate(operation.output_shape, answer, f"{operation.name} answer", problems)
    return problems


def _validate(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    limits = shape.metadata
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a structure")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name}: required")
        for name, member_value in value.items():
            if name not in shape.members:
                problems.append(f"{path}.{name}: unknown member")
            else:
                _validate(shape.members[name], member_value, f"{path}.{name}", problems)
        return
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map")
            return
        _check_range(len(value), limits, f"{path} entries", problems)
        for key, item in value.items():
            _validate(shape.key, key, f"{path} key {key!r}", problems)
            _validate(shape.value, item, f"{path}[{key!r}]", problems)
        return
    if shape.type_name == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string")
            return
        _check_range(len(value), limits, f"{path} length", problems)
        enum = getattr(shape, "enum", [])
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} is not one of {enum}")
        pattern = limits.get("pattern")
        if pattern and re.fullmatch(pattern, value) is None:
            problems.append(f"{path}: {value!r} does not match {pattern}")
        return
    if shape.type_name in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer")
            return
        _check_range(value, limits, path, problems)
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return
        _check_range(len(value), limits, f"{path} entries", problems)
        for index, item in enumerate(value):
            _validate(shape.member, item, f"{path}[{index}]", problems)
        return
    kinds: dict[str, tuple[type, ...]] = {"boolean": (bool,), "double": (int, float), "float": (int, float)}
    # A timestamp on the JSON wire is epoch seconds (a number); botocore also parses ISO 8601 text.
    kinds["timestamp"] = (int, float, str)
    if shape.type_name in kinds:
        if not isinstance(value, kinds[shape.type_name]) or (shape.type_name != "boolean" and isinstance(value, bool)):
            problems.append(f"{path}: expected a {shape.type_name}")
        return
    problems.append(f"{path}: the double does not validate {shape.type_name} values")


def _check_range(size: int, limits: dict[str, Any], what: str, problems: list[str]) -> None:
    if "min" in limits and size < limits["min"]:
        problems.append(f"{what} {size} is under the minimum {limits['min']}")
    if "max" in limits and size > limits["max"]:
        problems.append(f"{what} {size} is over the maximum {limits['max']}")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"__type": code, "message": message}


class _Handler(BaseHTTPRequestHandler):
    server: _DoubleServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cbor_path = _CBOR_PATH.fullmatch(self.path)
        if cbor_path:
            operation = cbor_path["operation"]
            request = cbor2.loads(body) if body else {}
        else:
            operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            request = json.loads(body or b"{}")
        received = ReceivedRequest(self.command, self.path, dict(self.headers.items()), body)
        status, answer = self.server.double.handle(operation, request, received)
        if cbor_path:
            self._send(status, cbor2.dumps(answer), "application/cbor", {"smithy-protocol": "rpc-v2-cbor"})
        else:
            self._send(status, json.dumps(answer).encode(), "application/x-amz-json-1.1", {})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: the recorded reports are the log."""


class _DoubleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, double: CodePipelineDouble, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.double = double


class CodePipelineDoubleServer(LoopbackServer):
    """The double served over HTTP on a free loopback port, in a background thread."""

    def __init__(self, double: CodePipelineDouble | None = None, port: int = 0) -> None:
        self.double = double or CodePipelineDouble()
        super().__init__(_DoubleServer(self.double, port))
