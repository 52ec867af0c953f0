"""`make demo`: run the function on a sample job against local S3 and CodePipeline, and tell what happened.

No AWS account and no Docker: S3 is moto's server and CodePipeline the validating double, both on
loopback, reached by the function through boto3's standard AWS_ENDPOINT_URL_* variables.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any
from unittest import mock

from devtools.local_aws import load_event, local_aws, sample_artifacts


class DemoContext:
    """The parts of Lambda's context object the function reads."""

    aws_request_id = "demo-0001"
    function_name = "image-definitions-demo"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:image-definitions-demo"
    log_group_name = "/aws/lambda/image-definitions-demo"
    log_stream_name = "demo"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("event", help="a sample job from events/, for example events/two-ecr-sources.json")
    event_name = Path(parser.parse_args().event).name
    event = load_event(event_name)
    job = event["CodePipeline.job"]
    artifacts = sample_artifacts()

    print(f"Job {job['id']} ({event_name})")
    print(f"  UserParameters: {job['data']['actionConfiguration']['configuration'].get('UserParameters', '(none)')}")
    for artifact in job["data"]["inputArtifacts"]:
        location = artifact["location"]["s3Location"]
        detail = artifacts[f"{location['bucketName']}/{location['objectKey']}"].get("imageDetail.json", {})
        print(f"  input artifact {artifact['name']}: {detail.get('ImageURI')} tags {detail.get('ImageTags')}")

    with local_aws() as aws:
        aws.seed(event)
        function_log = io.StringIO()
        with mock.patch.dict(os.environ, aws.environment), contextlib.redirect_stdout(function_log):
            started = time.perf_counter()
            from handlers.image_definitions import lambda_handler

            returned = lambda_handler(event, DemoContext())
            elapsed = time.perf_counter() - started
        print(f"\nThe function ran in {elapsed * 1000:.0f} ms and returned {returned}.")
        for index, artifact in enumerate(job["data"]["outputArtifacts"]):
            with contextlib.suppress(Exception):
                for name, content in aws.output_files(event, index).items():
                    print(f"\nOutput artifact {artifact['name']}, {name}:\n{content.decode()}")
        print("What CodePipeline received:")
        for report in aws.double.reports:
            print(f"  {report.operation}\n{_indent(report.request)}")
        for operation, problems in aws.double.rejected:
            print(f"  REJECTED {operation}: {problems}")
    print(
        f"\nThe function's own log ({len(function_log.getvalue().splitlines())} JSON lines) was kept out of this view."
    )


def _indent(document: Any) -> str:
    return "\n".join("    " + line for line in json.dumps(document, indent=2, ensure_ascii=False).splitlines())


if __name__ == "__main__":
    main()
