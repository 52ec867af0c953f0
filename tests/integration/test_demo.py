"""`make demo` tells the job's story, and shows the function's own log and metrics to whoever asks."""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.demo import FUNCTION_LOG, MESSAGE_WIDTH
from devtools.packaged_function import ROOT
from imagedefs.config import USER_PARAMETER_KEYS
from imagedefs.errors import quoted


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


def test_with_show_log_the_demo_prints_each_jobs_log_and_emf_metrics_under_that_job() -> None:
    # Given two jobs, one that succeeds and one the function refuses
    output = run_demo("--show-log", events=("events/two-ecr-sources.json", "events/unknown-container.json"))

    # Then each job's section ends with its own log records and metrics, and no other job's
    first, second = output.split("=== Job 2 of 2: events/unknown-container.json ===", 1)
    first_log = first.split("\n5. The function's log for this job, as CloudWatch Logs would receive it", 1)[1]
    second_log = second.split("\n5. The function's log for this job, as CloudWatch Logs would receive it", 1)[1]
    assert '"correlation_id": "1c5b7d4f-6e3a-4f9b-8c2d-8e7f6a5b4c32"' in first_log
    assert '"JobsSucceeded": [' in first_log
    assert "5a1e8c2d-9b7f-4d3e-a6c5-2f1e0d9c8b76" not in first_log
    assert '"correlation_id": "5a1e8c2d-9b7f-4d3e-a6c5-2f1e0d9c8b76"' in second_log
    assert '"failure_type": "ConfigurationError"' in second_log
    assert '"JobsFailed": [' in second_log
    assert "1c5b7d4f-6e3a-4f9b-8c2d-8e7f6a5b4c32" not in second_log
    assert "Metrics (embedded metric format" in first_log
    assert "Metrics (embedded metric format" in second_log


def test_the_blue_green_job_shows_the_taskdef_images_and_the_appspec() -> None:
    output = run_demo(events=("events/two-ecr-sources.json", "events/blue-green.json"))

    blue_green = output.split("=== Job 2 of 2: events/blue-green.json ===", 1)[1]
    assert "3. Output artifact BlueGreen now holds taskdef.json, appspec.yaml, for the CodeDeployToECS action." in (
        blue_green
    )
    assert "     log-router  public.ecr.aws/aws-observability/aws-for-fluent-bit:stable" in blue_green
    assert '             TaskDefinition: "<TASK_DEFINITION>"' in blue_green
    assert "4. CodePipeline received:\n   PutJobSuccessResult" in blue_green


def test_a_refused_job_shows_the_report_and_the_message_the_pipeline_owner_reads() -> None:
    output = run_demo(events=("events/unknown-container.json",))

    assert (
        "   ECS service prod/shop is deployed by ECS's rolling update and runs task\n"
        "   definition shop:1 (containers web, api, log-router)." in output
    )
    after_start = output.split("\n3. ", 1)[1]
    assert after_start.startswith(
        "The job failed: nothing was written, output artifact ImageDefinitions stays empty.\n"
        "\n"
        "4. CodePipeline received:\n"
        "   PutJobFailureResult\n"
        "     {\n"
        '       "jobId": "5a1e8c2d-9b7f-4d3e-a6c5-2f1e0d9c8b76",\n'
        '       "failureDetails": {\n'
        '         "type": "ConfigurationError",\n'
        '         "message": "The job writes container(s) \\"frontend\\" into the image definitions'
    )
    assert (
        "   The action fails (ConfigurationError), and the pipeline owner reads on it (the console's action\n"
        "   details, or GetPipelineState's errorDetails):\n"
        '     The job writes container(s) "frontend" into the image definitions, which the task definition\n'
        '     arn:aws:ecs:us-west-2:123456789012:task-definition/shop:1 of ECS service "prod/shop" does not\n'
        "     have: the ECS deploy action, which makes the new revision from that task definition, would fail\n"
        '     with "The AWS ECS container frontend does not exist". Its containers are "web", "api",\n'
        '     "log-router": name those with UserParameters "containers", or set UserParameters "service" to\n'
        "     the service this pipeline deploys.\n"
        "\n"
        "5. The function wrote "
    ) in output
    assert "now holds" not in output


def test_a_sample_job_with_bad_user_parameters_shows_its_failure() -> None:
    output = run_demo(events=("events/bad-user-parameters.json",))

    assert "3. The job failed: nothing was written, output artifact ImageDefinitions stays empty." in output
    read = output.split("GetPipelineState's errorDetails):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert all(line.startswith("     ") and len(line) <= MESSAGE_WIDTH for line in read)
    assert " ".join(line.strip() for line in read) == (
        f'UserParameters has unknown key(s) "pinned". Valid keys: {quoted(USER_PARAMETER_KEYS)}.'
    )
