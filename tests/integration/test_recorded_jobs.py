"""Every sample job's bytes and report, compared with what was recorded before the layout changed (issue 17).

The fixtures in tests/recorded/ were written once, on the code before the refactor, and are never written again:
`IMAGEDEFS_RECORD_JOBS=1 .venv/bin/pytest tests/integration/test_recorded_jobs.py` writes them and fails on
purpose. moto gives the blue/green service's subnet and security group random ids: appspec.yaml holds placeholders
for them, and that job's zip is compared by its files, not by its hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import SAMPLE_SERVICE_ARN, LocalAws, load_event, unzip_files
from tests.integration.conftest import Invoke

RECORDED_DIR = Path(__file__).resolve().parents[1] / "recorded"
SAMPLE_JOBS = ("single-ecr-source", "two-ecr-sources", "kms-encrypted", "blue-green", "bad-user-parameters")
_MOTO_IDS = {"subnet": re.compile(r"subnet-[0-9a-f]+"), "security-group": re.compile(r"sg-[0-9a-f]+")}


def _without_moto_ids(text: str) -> str:
    for name, pattern in _MOTO_IDS.items():
        text = pattern.sub(f"<{name}-0>", text)
    return text


def _written(aws: LocalAws, event: dict[str, Any], stable_zip: bool) -> list[dict[str, Any]]:
    """Per output artifact: the zip's hash, its files' text, and how S3 stored it (or "not written")."""
    written: list[dict[str, Any]] = []
    for index, artifact in enumerate(event["CodePipeline.job"]["data"]["outputArtifacts"]):
        try:
            stored = aws.output_object(event, index)
        except aws.s3.exceptions.NoSuchKey:
            written.append({"artifact": artifact["name"], "written": False})
            continue
        body = stored["Body"].read()
        written.append(
            {
                "artifact": artifact["name"],
                "written": True,
                "zip_sha256": hashlib.sha256(body).hexdigest() if stable_zip else "moto ids vary",
                "files": {name: _without_moto_ids(data.decode()) for name, data in unzip_files(body).items()},
                "ContentType": stored.get("ContentType"),
                "ServerSideEncryption": stored.get("ServerSideEncryption"),
                "SSEKMSKeyId": stored.get("SSEKMSKeyId"),
            }
        )
    return written


@pytest.mark.parametrize("job", SAMPLE_JOBS)
def test_each_sample_job_writes_and_reports_what_was_recorded(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, job: str
) -> None:
    # Given a sample job from events/, its artifacts in S3 (and for blue/green the ECS service it reads)
    event = load_event(f"{job}.json")
    aws.seed(event)
    blue_green = job == "blue-green"
    if blue_green:
        aws.seed_service()
        monkeypatch.setenv("IMAGEDEFS_ECS_SERVICES", SAMPLE_SERVICE_ARN)

    # When the function runs it
    result = invoke(event)

    # Then it reports and writes exactly what the code before the refactor did, byte for byte
    observed = {
        "report": {"operation": result.report.operation, "request": result.report.request},
        "outputs": _written(aws, event, stable_zip=not blue_green),
    }
    recorded = RECORDED_DIR / f"{job}.json"
    if os.environ.get("IMAGEDEFS_RECORD_JOBS") == "1":
        recorded.write_text(json.dumps(observed, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        pytest.fail(f"recorded {recorded}; commit it and rerun without IMAGEDEFS_RECORD_JOBS")
    assert observed == json.loads(recorded.read_text())
