"""What the ECR gate adds to a job: the real handler on one job against moto's ECR and S3 on loopback, without the
gate, with "verify", and with "verify" and "failOnSeverity", in turn; the median of warm runs, and the first run
of each in one fresh process (the first gated job loads ECR's model). ECR's own latency in a region comes on top.

    .venv/bin/python -m devtools.gate_cost
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from devtools.local_aws import REGION, LocalAws, load_event, local_aws

RUNS = 20
GATES: dict[str, dict[str, Any]] = {
    "no gate": {},
    "verify": {"verify": True},
    "verify + failOnSeverity": {"verify": True, "failOnSeverity": "CRITICAL"},
}


@dataclass
class _Context:
    aws_request_id: str = "gate-cost"
    function_name: str = "image-definitions"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:image-definitions"
    log_group_name: str = "/aws/lambda/image-definitions"
    log_stream_name: str = "cost"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _seeded(aws: LocalAws) -> dict[str, Any]:
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    detail_repository = "dk-image-repo"
    aws.ecr.create_repository(repositoryName=detail_repository)
    digest = "sha256:1f0f5d1e0b7a4e6a9c2d3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    aws.ecr.put_image(
        repositoryName=detail_repository, imageManifest=json.dumps(manifest), imageTag="latest", imageDigest=digest
    )
    aws.ecr.start_image_scan(repositoryName=detail_repository, imageId={"imageDigest": digest})
    return event


def main() -> None:
    with local_aws() as aws:
        os.environ.update(aws.environment)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        os.environ["IMAGEDEFS_ECR_REPOSITORIES"] = f"arn:aws:ecr:{REGION}:123456789012:repository/*"
        event = _seeded(aws)
        from handlers.image_definitions import lambda_handler

        times: dict[str, list[float]] = {name: [] for name in GATES}
        for _ in range(RUNS + 1):  # the gates in turn, so that a busy machine's drift is shared alike
            for name, parameters in GATES.items():
                event["CodePipeline.job"]["id"] = str(uuid.uuid4())
                event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = (
                    json.dumps(parameters)
                )
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):  # the metrics it prints
                    lambda_handler(event, _Context())
                times[name].append((time.perf_counter() - started) * 1000)
        assert all(report.succeeded for report in aws.double.reports), aws.double.reports[-1]
        print(f"{'job':<26}{'first run':>12}{'warm median':>14}")
        for name, measured in times.items():
            print(f"{name:<26}{measured[0]:>9.0f} ms{statistics.median(measured[1:]):>11.0f} ms")


if __name__ == "__main__":
    main()
