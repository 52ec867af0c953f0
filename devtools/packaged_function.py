"""The function as `sam build` packaged it, run by awslambdaric (Lambda's runtime client) against a local Runtime API.

Only the built package, the layers the template declares (none) and the runtime's own libraries
(awslambdaric and boto3, installed by `make` into .lambda-runtime/) are on the path: the interpreter
runs with -S, so nothing installed on this machine can hide a dependency missing from the package.

`PackagedFunction.attempt` ends an invocation as Lambda does: it SIGKILLs a process past its deadline or
over its memory limit, and turns a process that died or failed to import into Lambda's error payload.
`AsynchronousInvocation` plays Lambda's asynchronous side on top: retries after a failed attempt (with
delays shortened for tests), then the invocation record handed to the on-failure destination function.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from cfnlint.decode import decode_str

from devtools.runtime_api import FUNCTION_ARN, Invocation, RuntimeApiServer

ROOT = Path(__file__).resolve().parent.parent
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
# What Lambda's runtime provides (`make runtime`); the tests under Lambda's Python name their own copy, since
# awslambdaric's native part is built for one Python version.
RUNTIME_DIR = ROOT / os.environ.get("IMAGEDEFS_RUNTIME_DIR", ".lambda-runtime")
FUNCTION = "ImageDefinitionsFunction"
DESTINATION = "OnFailureFunction"
# The local names of the template's functions, and of the resources their environment refers to.
LOCAL_FUNCTION_NAMES = {FUNCTION: "image-definitions", DESTINATION: "image-definitions-on-failure"}
LOCAL_STACK = "image-definitions"
# Lambda's answer for a function error: what the invocation record's responseContext.functionError says.
UNHANDLED = "Unhandled"


@dataclass(frozen=True)
class FunctionResult:
    succeeded: bool
    body: Any
    seconds: float
    # Lambda's error type when the process died or could not start (the body is then Lambda's error payload).
    died: str | None = None


def function_arn(function: str) -> str:
    return FUNCTION_ARN.rsplit(":", 1)[0] + ":" + LOCAL_FUNCTION_NAMES[function]


def function_configuration(
    template_path: Path = BUILT_TEMPLATE, function: str = FUNCTION
) -> tuple[Path, str, dict[str, str]]:
    """The built code folder, the handler and the environment that the template gives the function."""
    if not template_path.exists():
        raise FileNotFoundError(f"{template_path} is missing: run `make build` (sam build) first")
    template, problems = decode_str(template_path.read_text())
    if problems:
        raise ValueError(f"{template_path}: {problems}")
    defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    properties = template["Resources"][function]["Properties"]
    environment = {}
    for name, value in properties.get("Environment", {}).get("Variables", {}).items():
        if isinstance(value, str):
            environment[name] = value
        elif isinstance(value, dict) and "Ref" in value:
            # A parameter's default, or a resource's name as CloudFormation makes it (<stack>-<logical id>-<suffix>).
            environment[name] = defaults.get(value["Ref"], f"{LOCAL_STACK}-{value['Ref']}-local")
        # Anything else is conditional (Fn::If ... AWS::NoValue): absent when deployed with defaults.
    return template_path.parent / properties["CodeUri"], properties["Handler"], environment


def lambda_environment(
    code_dir: Path, handler: str, environment: Mapping[str, str], function: str = FUNCTION
) -> dict[str, str]:
    """What Lambda's python3.x runtime sets for the function, plus the given variables."""
    if not (RUNTIME_DIR / "awslambdaric").is_dir():
        raise FileNotFoundError(f"{RUNTIME_DIR} is missing: run `make runtime` first")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
        "PYTHONPATH": os.pathsep.join([str(code_dir), str(RUNTIME_DIR)]),
        "_HANDLER": handler,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": LOCAL_FUNCTION_NAMES[function],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{LOCAL_FUNCTION_NAMES[function]}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        **environment,
    }


class PackagedFunction:
    """One function's execution environments: started cold on entry, reused by every invoke until one dies (killed
    or crashed, as Lambda sees it), then started cold again for the next invoke."""

    def __init__(
        self,
        environment: Mapping[str, str],
        timeout_seconds: float = 60,
        function: str = FUNCTION,
        code_dir: Path | None = None,
        memory_limit_mb: float | None = None,
        hang_on_invoke: bool = False,
    ) -> None:
        built_dir, self.handler, template_environment = function_configuration(function=function)
        self.code_dir = code_dir or built_dir
        self.function = function
        self.arn = function_arn(function)
        self._environment = {**template_environment, **environment}
        self._timeout = timeout_seconds
        # Lambda's limits, enforced from the moment a process takes an invocation: over the memory limit it is
        # SIGKILLed; with hang_on_invoke it is stopped (SIGSTOP: a hung interpreter) until its deadline kills it.
        self.memory_limit_mb = memory_limit_mb
        self.hang_on_invoke = hang_on_invoke
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the processes it captures
        self._runtime_api: RuntimeApiServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def process_environment(self) -> dict[str, str]:
        """What Lambda's python3.x runtime sets, plus the template's and the caller's variables."""
        assert self._runtime_api is not None, "use PackagedFunction in a with block"
        return lambda_environment(
            self.code_dir,
            self.handler,
            {"AWS_LAMBDA_RUNTIME_API": self._runtime_api.address, **self._environment},
            self.function,
        )

    def __enter__(self) -> Self:
        self._start()
        return self

    def _start(self) -> None:
        # Each environment has its own Runtime API, so a dead process's pending request can take no later event.
        self._runtime_api = RuntimeApiServer(self.arn).__enter__()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, the runtime client and the handler
            [sys.executable, "-S", "-m", "awslambdaric", self.handler],
            cwd=self.code_dir,
            env=self.process_environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if self.hang_on_invoke:
            process = self._process
            self._runtime_api.api.on_take = lambda _: process.send_signal(signal.SIGSTOP)
        self.starts += 1

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
        if self._runtime_api is not None:
            self._runtime_api.__exit__()
            self._runtime_api = None

    def invoke(self, event: dict[str, Any]) -> FunctionResult:
        """Hand the event to the function and wait for its answer, as Lambda would; raise if the function died."""
        result = self.attempt(event)
        if result.died:
            raise RuntimeError(f"the function did not answer ({result.died}: {result.body}); its log:\n{self.log}")
        return result

    def attempt(self, event: dict[str, Any], request_id: str | None = None) -> FunctionResult:
        """One invocation, ended as Lambda ends it: the function's answer, or Lambda's error for a process that
        died, could not import its handler, ran past its deadline or over its memory limit (then SIGKILLed).
        A dead environment is replaced by a cold one for the next attempt."""
        if self._process is None:
            self._start()
        assert self._process is not None and self._runtime_api is not None
        api, process = self._runtime_api.api, self._process
        started = time.perf_counter()
        invocation = api.submit(event, self._timeout, request_id)
        while not invocation.answered.wait(0.01):
            elapsed = time.perf_counter() - started
            died = _death_of(process, api.init_error, elapsed > self._timeout, self._over_memory(invocation, process))
            if died:
                self._stop()
                # An import that failed: Lambda passes on what the runtime client posted to /init/error.
                payload = api.init_error or {
                    "errorType": died,
                    "errorMessage": _lambda_error_message(died, invocation, self._timeout),
                }
                return FunctionResult(False, payload, elapsed, died=str(payload.get("errorType", died)))
        return FunctionResult(invocation.succeeded, invocation.body, time.perf_counter() - started)

    def _over_memory(self, invocation: Invocation, process: subprocess.Popen[bytes]) -> bool:
        if self.memory_limit_mb is None or not invocation.taken.is_set():
            return False
        return resident_mb(process.pid) > self.memory_limit_mb

    @property
    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __exit__(self, *exc_info: object) -> None:
        self._stop()
        self._log.close()


def resident_mb(pid: int) -> float:
    """The process's resident memory (VmRSS) in MB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _death_of(process: subprocess.Popen[bytes], init_error: Any, past_deadline: bool, over_memory: bool) -> str | None:
    """Lambda's error type for an invocation whose process will not answer, or None while it still may."""
    if past_deadline:
        return "Sandbox.Timedout"
    if over_memory:
        return "Runtime.OutOfMemory"
    if init_error is not None:
        return "Runtime.ImportModuleError"
    if process.poll() is not None:
        return "Runtime.ExitError"
    return None


def _lambda_error_message(error_type: str, invocation: Invocation, timeout: float) -> str:
    if error_type == "Sandbox.Timedout":
        return f"RequestId: {invocation.request_id} Error: Task timed out after {timeout:.2f} seconds"
    return f"RequestId: {invocation.request_id} Error: Runtime exited with error: signal: killed"


@dataclass
class AsynchronousOutcome:
    """What Lambda did with one asynchronous invocation: each attempt, and the record handed to the destination."""

    attempts: list[FunctionResult] = field(default_factory=list)
    record: dict[str, Any] | None = None
    destination_attempts: list[FunctionResult] = field(default_factory=list)


class AsynchronousInvocation:
    """Lambda's asynchronous side: the event retried after each failed attempt (Lambda waits about 1 and 2
    minutes; tests shorten the delays), or, throttled, retried until its maximum age; then the invocation record
    to the on-failure destination, itself invoked asynchronously (retried, without a destination of its own)."""

    def __init__(
        self,
        function: PackagedFunction,
        destination: PackagedFunction,
        retry_delays: Sequence[float] = (1.0, 2.0),
        throttled_for_seconds: float = 0.0,
    ) -> None:
        self.function = function
        self.destination = destination
        self.retry_delays = tuple(retry_delays)
        # Every attempt within this many seconds is throttled (the function never runs): Lambda then gives up
        # with EventAgeExceeded, its maximum event age being this long too.
        self.throttled_for_seconds = throttled_for_seconds

    def invoke(self, event: dict[str, Any]) -> AsynchronousOutcome:
        outcome = AsynchronousOutcome()
        request_id = str(uuid.uuid4())
        if self.throttled_for_seconds:
            condition, throttles = self._throttled()
            outcome.record = invocation_record(event, request_id, self.function.arn, condition, throttles, None)
        else:
            outcome.attempts = _with_retries(self.function, event, request_id, self.retry_delays)
            if outcome.attempts[-1].succeeded:
                return outcome
            outcome.record = invocation_record(
                event, request_id, self.function.arn, "RetriesExhausted", len(outcome.attempts), outcome.attempts[-1]
            )
        outcome.destination_attempts = _with_retries(
            self.destination, outcome.record, str(uuid.uuid4()), self.retry_delays
        )
        return outcome

    def _throttled(self) -> tuple[str, int]:
        # Lambda backs off from 1 s up to 5 minutes; shortened here like the retry delays.
        throttles, delay, ends = 0, 0.05, time.monotonic() + self.throttled_for_seconds
        while time.monotonic() < ends:
            throttles += 1
            time.sleep(min(delay, max(0.0, ends - time.monotonic())))
            delay *= 2
        return "EventAgeExceeded", throttles


def _with_retries(
    function: PackagedFunction, event: dict[str, Any], request_id: str, retry_delays: Sequence[float]
) -> list[FunctionResult]:
    attempts = [function.attempt(event, request_id)]
    for delay in retry_delays:
        if attempts[-1].succeeded:
            break
        time.sleep(delay)
        attempts.append(function.attempt(event, request_id))
    return attempts


def invocation_record(
    event: dict[str, Any],
    request_id: str,
    arn: str,
    condition: str,
    attempts: int,
    last_attempt: FunctionResult | None,
) -> dict[str, Any]:
    """Lambda's invocation record for an on-failure destination (Lambda's documentation, "Capturing records of
    Lambda asynchronous invocations"); a throttled event, never run, has no response."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
    }
    if last_attempt is not None:
        record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": UNHANDLED}
        record["responsePayload"] = last_attempt.body
    return record
