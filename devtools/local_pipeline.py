"""`make local-pipeline`: local S3 and CodePipeline on fixed loopback ports, for `sam local invoke`.

It seeds the input artifacts of every sample job in events/, then prints each job result that
CodePipeline receives, until Ctrl-C. In another terminal, with Docker:

    sam build
    sam local invoke ImageDefinitionsFunction -e events/two-ecr-sources.json \\
        --env-vars events/local-env.json --docker-network host --region us-west-2
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Final

from devtools.local_aws import EVENTS_DIR, LocalAws, load_event, local_aws

ENV_VARS_FILE: Final = EVENTS_DIR / "local-env.json"
FUNCTION: Final = "ImageDefinitionsFunction"
SAM_LOCAL_INVOKE: Final = (
    f"sam local invoke {FUNCTION} -e events/two-ecr-sources.json --env-vars events/local-env.json "
    "--docker-network host --region us-west-2"
)
SAMPLE_JOBS: Final = (
    "single-ecr-source.json",
    "two-ecr-sources.json",
    "kms-encrypted.json",
    "bad-user-parameters.json",
)


def endpoint_ports(env_vars_file: Path = ENV_VARS_FILE) -> tuple[int, int]:
    """The S3 and CodePipeline ports that the env-vars file points the function at."""
    variables = json.loads(env_vars_file.read_text())[FUNCTION]
    return (
        int(variables["AWS_ENDPOINT_URL_S3"].rsplit(":", 1)[1]),
        int(variables["AWS_ENDPOINT_URL_CODEPIPELINE"].rsplit(":", 1)[1]),
    )


def seed_sample_jobs(aws: LocalAws) -> list[dict[str, Any]]:
    events = [load_event(name) for name in SAMPLE_JOBS]
    for event in events:
        aws.seed(event)
    return events


def main(stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    s3_port, codepipeline_port = endpoint_ports()
    with local_aws(s3_port, codepipeline_port) as aws:
        seed_sample_jobs(aws)
        print(f"S3 on {aws.s3_url}, CodePipeline on {aws.codepipeline_url}; sample artifacts uploaded.")
        print(f"In another terminal, with Docker:\n  sam build\n  {SAM_LOCAL_INVOKE}", flush=True)
        print("\nJob results appear here; Ctrl-C stops.", flush=True)
        shown = 0
        try:
            while not stop.wait(0.5):
                for report in aws.double.reports[shown:]:
                    print(f"{report.operation} {json.dumps(report.request, ensure_ascii=False)}", flush=True)
                shown = len(aws.double.reports)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
