"""A local STS endpoint for what moto's STS does not do: a role whose trust policy does not trust the caller
(AccessDenied), throttling, expired tokens, and credentials that a test chooses.

Every AssumeRole request is validated against botocore's STS model (types, required members, lengths, patterns), as
the CodePipeline and ECR doubles do, and every answer it sends against the operation's output shape. A function
reaches it exactly as it reaches STS: through AWS_ENDPOINT_URL_STS (the query protocol, answered in XML).
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

import botocore.session

from devtools.codepipeline_double import validate_answer, validate_request
from devtools.loopback import LoopbackServer

_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# The query protocol sends every member as text; these are integers in the model.
_INTEGER_MEMBERS = ("DurationSeconds",)


@dataclass(frozen=True)
class StsError:
    """An error answer as STS sends it: an HTTP status, a code and a message."""

    code: str
    status: int = 403
    message: str = "injected by the test"


@dataclass(frozen=True)
class IssuedCredentials:
    """What a successful AssumeRole gives, as the test chose it."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: str = "2030-01-01T00:00:00Z"


@dataclass
class StsDouble:
    """Answers AssumeRole with `error` when set, else with `credentials`; records each request (its members)."""

    credentials: IssuedCredentials | None = None
    error: StsError | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._operation = botocore.session.get_session().get_service_model("sts").operation_model("AssumeRole")

    def handle(self, form: dict[str, str]) -> tuple[int, str]:
        action = form.pop("Action", "")
        form.pop("Version", None)
        request: dict[str, Any] = {
            name: int(value) if name in _INTEGER_MEMBERS and value.isdigit() else value for name, value in form.items()
        }
        with self._lock:
            self.requests.append(request)
            if action != "AssumeRole":
                return 400, _error_xml(StsError("InvalidAction", 400, f"the double answers AssumeRole, not {action}"))
            problems = validate_request(self._operation, request)
            if problems:
                self.rejected.append(("AssumeRole", problems))
                return 400, _error_xml(StsError("ValidationError", 400, "; ".join(problems)))
        if self.error is not None:
            return self.error.status, _error_xml(self.error)
        assert self.credentials is not None, "give the double credentials or an error"
        return 200, self._answer_xml(request)

    def _answer_xml(self, request: dict[str, Any]) -> str:
        issued = self.credentials
        assert issued is not None
        role_arn, session = str(request["RoleArn"]), str(request["RoleSessionName"])
        account, role_name = role_arn.split(":")[4], role_arn.rpartition("/")[2]
        answer = {
            "Credentials": {
                "AccessKeyId": issued.access_key_id,
                "SecretAccessKey": issued.secret_access_key,
                "SessionToken": issued.session_token,
                "Expiration": issued.expiration,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": f"AROAEXAMPLEROLEID0001:{session}",
                "Arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
            },
        }
        problems = validate_answer(self._operation, answer)
        if problems:
            with self._lock:
                self.rejected.append(("AssumeRole answer", problems))
        credentials = "".join(f"<{key}>{escape(value)}</{key}>" for key, value in answer["Credentials"].items())
        user = "".join(f"<{key}>{escape(value)}</{key}>" for key, value in answer["AssumedRoleUser"].items())
        return (
            f'<AssumeRoleResponse xmlns="{_NAMESPACE}"><AssumeRoleResult><Credentials>{credentials}</Credentials>'
            f"<AssumedRoleUser>{user}</AssumedRoleUser></AssumeRoleResult>"
            "<ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>"
            "</AssumeRoleResponse>"
        )


def _error_xml(error: StsError) -> str:
    kind = "Receiver" if error.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>'
        f"<Message>{escape(error.message)}</Message></Error>"
        "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
    )


class _Handler(BaseHTTPRequestHandler):
    server: _DoubleServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        status, answer = self.server.double.handle(form)
        payload = answer.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: the recorded requests are the log."""


class _DoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, double: StsDouble) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.double = double


class StsDoubleServer(LoopbackServer):
    """The double served over HTTP on a free loopback port, in a background thread."""

    def __init__(self, double: StsDouble | None = None) -> None:
        self.double = double or StsDouble()
        super().__init__(_DoubleServer(self.double))
