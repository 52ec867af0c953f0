"""`make demo` tells the job's story, and shows the function's own log and metrics to whoever asks."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.demo import FUNCTION_LOG
from devtools.packaged_function import ROOT


def run_demo(*options: str, events: tuple[str, ...] = ("events/two-ecr-sources.json",)) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and demo
        [sys.executable, "-m", "devtools.demo", *events, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_demo_names_the_file_that_holds_the_functions_log() -> None:
    output = run_demo()

    assert "4. CodePipeline received:\n   PutJobSuccessResult" in output
    assert "They are in .aws-sam/demo-function.log; `make demo LOG=1` prints them here." in output
    records = [json.loads(line) for line in FUNCTION_LOG.read_text().splitlines()]
    assert any(record.get("outcome") == "succeeded" for record in records)


def test_with_show_log_the_demo_prints_the_structured_log_and_the_emf_metrics() -> None:
    output = run_demo("--show-log")

    log_section = output.split("\n5. The function's log", 1)[1]
    assert '"correlation_id": "1c5b7d4f-6e3a-4f9b-8c2d-8e7f6a5b4c32"' in log_section
    assert "Metrics (embedded metric format" in log_section
    assert '"JobsSucceeded": [' in log_section


def test_the_blue_green_job_shows_the_taskdef_images_and_the_appspec() -> None:
    output = run_demo(events=("events/two-ecr-sources.json", "events/blue-green.json"))

    blue_green = output.split("=== Job 2 of 2: events/blue-green.json ===", 1)[1]
    assert "3. Output artifact BlueGreen now holds taskdef.json, appspec.yaml, for the CodeDeployToECS action." in (
        blue_green
    )
    assert "     log-router  public.ecr.aws/aws-observability/aws-for-fluent-bit:stable" in blue_green
    assert '             TaskDefinition: "<TASK_DEFINITION>"' in blue_green
    assert "4. CodePipeline received:\n   PutJobSuccessResult" in blue_green
