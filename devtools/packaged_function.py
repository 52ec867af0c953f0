"""The function as `sam build` packaged it, run by awslambdaric (Lambda's runtime client) against a local Runtime API.

Only the built package, the layers the template declares (none) and the runtime's own libraries
(awslambdaric and boto3, installed by `make` into .lambda-runtime/) are on the path: the interpreter
runs with -S, so nothing installed on this machine can hide a dependency missing from the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from cfnlint.decode import decode_str

from devtools.runtime_api import FUNCTION_ARN, RuntimeApiServer

ROOT = Path(__file__).resolve().parent.parent
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
RUNTIME_DIR = ROOT / ".lambda-runtime"
FUNCTION = "ImageDefinitionsFunction"


@dataclass(frozen=True)
class FunctionResult:
    succeeded: bool
    body: Any
    seconds: float


def function_configuration(template_path: Path = BUILT_TEMPLATE) -> tuple[Path, str, dict[str, str]]:
    """The built code folder, the handler and the environment that the template gives the function."""
    if not template_path.exists():
        raise FileNotFoundError(f"{template_path} is missing: run `make build` (sam build) first")
    template, problems = decode_str(template_path.read_text())
    if problems:
        raise ValueError(f"{template_path}: {problems}")
    defaults = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    properties = template["Resources"][FUNCTION]["Properties"]
    environment = {}
    for name, value in properties.get("Environment", {}).get("Variables", {}).items():
        if isinstance(value, str):
            environment[name] = value
        elif isinstance(value, dict) and "Ref" in value:
            environment[name] = defaults[value["Ref"]]
        # Anything else is conditional (Fn::If ... AWS::NoValue): absent when deployed with defaults.
    return template_path.parent / properties["CodeUri"], properties["Handler"], environment


def lambda_environment(code_dir: Path, handler: str, environment: Mapping[str, str]) -> dict[str, str]:
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
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_ARN.rsplit(":", 1)[-1],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/image-definitions",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        **environment,
    }


class PackagedFunction:
    """One Lambda execution environment: started cold on entry, reused by every invoke until exit."""

    def __init__(self, environment: Mapping[str, str], timeout_seconds: float = 60) -> None:
        self.code_dir, self.handler, template_environment = function_configuration()
        self._environment = {**template_environment, **environment}
        self._timeout = timeout_seconds
        self._runtime_api = RuntimeApiServer()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process it captures
        self._process: subprocess.Popen[bytes] | None = None

    def process_environment(self) -> dict[str, str]:
        """What Lambda's python3.x runtime sets, plus the template's and the caller's variables."""
        return lambda_environment(
            self.code_dir, self.handler, {"AWS_LAMBDA_RUNTIME_API": self._runtime_api.address, **self._environment}
        )

    def __enter__(self) -> Self:
        self._runtime_api.__enter__()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, the runtime client and the handler
            [sys.executable, "-S", "-m", "awslambdaric", self.handler],
            cwd=self.code_dir,
            env=self.process_environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def invoke(self, event: dict[str, Any]) -> FunctionResult:
        """Hand the event to the function and wait for its answer, as Lambda would."""
        assert self._process is not None, "use PackagedFunction in a with block"
        started = time.perf_counter()
        invocation = self._runtime_api.api.submit(event, self._timeout)
        while not invocation.answered.wait(0.05):
            init_error = self._runtime_api.api.init_error
            if (
                init_error is not None
                or self._process.poll() is not None
                or time.perf_counter() - started > self._timeout
            ):
                raise RuntimeError(f"the function did not answer (init error: {init_error}); its log:\n{self.log}")
        return FunctionResult(invocation.succeeded, invocation.body, time.perf_counter() - started)

    @property
    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._runtime_api.__exit__()
        self._log.close()
