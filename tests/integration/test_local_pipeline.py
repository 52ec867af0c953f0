"""Everything `sam local invoke` needs, up to Docker itself (which this machine lacks).

The function runs here exactly as `sam build` packaged it, under the runtime client, with the
environment that SAM CLI would build from template.yaml and events/local-env.json.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from cfnlint.decode import decode_str

from devtools.local_aws import EVENTS_DIR, load_event, local_aws
from devtools.local_pipeline import ENV_VARS_FILE, FUNCTION, endpoint_ports, seed_sample_jobs
from devtools.packaged_function import ROOT, PackagedFunction


def env_vars_file() -> dict[str, str]:
    variables: dict[str, str] = json.loads(ENV_VARS_FILE.read_text())[FUNCTION]
    return variables


def test_the_env_vars_file_sets_only_variables_the_template_declares() -> None:
    # SAM CLI's --env-vars can only override variables that the function declares.
    template, _ = decode_str((ROOT / "template.yaml").read_text())
    declared = template["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert set(env_vars_file()) <= set(declared)


def test_a_sample_job_runs_against_the_local_pipeline() -> None:
    s3_port, codepipeline_port = endpoint_ports()
    with local_aws(s3_port, codepipeline_port) as aws:
        events = {event["CodePipeline.job"]["id"]: event for event in seed_sample_jobs(aws)}
        environment: dict[str, Any] = {**env_vars_file(), "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"}
        environment.update(AWS_ACCESS_KEY_ID="defaultkey", AWS_SECRET_ACCESS_KEY="defaultsecret")  # SAM's defaults
        event = load_event("two-ecr-sources.json")
        with PackagedFunction(environment) as function:
            assert function.invoke(event).succeeded, function.log

        (report,) = aws.double.reports
        assert report.succeeded
        assert report.job_id in events
        assert "imagedefinitions.json" in aws.output_files(event)


def test_the_make_target_starts_serves_and_stops(capsys: Any) -> None:
    from devtools import local_pipeline

    stop = threading.Event()
    runner = threading.Thread(target=local_pipeline.main, args=(stop,))
    runner.start()
    stop.set()
    runner.join(timeout=30)

    printed = capsys.readouterr().out
    assert "S3 on http://127.0.0.1:4571, CodePipeline on http://127.0.0.1:4572" in printed
    assert f"--env-vars {ENV_VARS_FILE.relative_to(EVENTS_DIR.parent)}" in printed
