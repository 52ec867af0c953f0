"""`make demo`: run the packaged function on a sample job, as Lambda would, and tell what happened.

The function is the `sam build` output, run by awslambdaric (Lambda's runtime interface client)
against a local Runtime API. S3 is moto's server and CodePipeline a double that validates every
request against the real API model, both on loopback, reached through boto3's AWS_ENDPOINT_URL_*
variables. No AWS account, no Docker.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from devtools.local_aws import load_event, local_aws, sample_artifacts
from devtools.packaged_function import PackagedFunction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("event", help="a sample job from events/, for example events/two-ecr-sources.json")
    event_name = Path(parser.parse_args().event).name
    event = load_event(event_name)
    job = event["CodePipeline.job"]
    artifacts = sample_artifacts()

    print(f"1. CodePipeline starts job {job['id']} (events/{event_name}).")
    parameters = job["data"]["actionConfiguration"]["configuration"].get("UserParameters", "(none)")
    print(f"   UserParameters: {parameters}")
    for artifact in job["data"]["inputArtifacts"]:
        location = artifact["location"]["s3Location"]
        detail = artifacts[f"{location['bucketName']}/{location['objectKey']}"].get("imageDetail.json", {})
        print(f"   Input artifact {artifact['name']} (an ECR source) holds imageDetail.json:")
        print(f"     ImageURI  {detail.get('ImageURI')}\n     ImageTags {detail.get('ImageTags')}")

    with local_aws() as aws:
        aws.seed(event)
        started = time.perf_counter()
        with PackagedFunction(aws.environment) as function:
            result = function.invoke(event)
            cold_seconds = time.perf_counter() - started
            log_lines = len(function.log.splitlines())
        print(
            f"\n2. Lambda starts the packaged function cold (.aws-sam/build, under awslambdaric) and runs the job: "
            f"{cold_seconds * 1000:.0f} ms from process start to answer. It returned {result.body}."
        )
        for index, artifact in enumerate(job["data"]["outputArtifacts"]):
            files = aws.output_files(event, index) if result.succeeded else {}
            for name, content in files.items():
                print(f"\n3. Output artifact {artifact['name']} now holds {name}, for the ECS deploy action:")
                print(_indent(json.loads(content), 3))
        print("\n4. CodePipeline received:")
        for report in aws.double.reports:
            print(f"   {report.operation}\n{_indent(report.request, 5)}")
        for operation, problems in aws.double.rejected:
            print(f"   REJECTED {operation}: {problems}")
    print(f"\n(The function's structured log, {log_lines} JSON lines, was kept out of this view.)")


def _indent(document: Any, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in json.dumps(document, indent=2, ensure_ascii=False).splitlines())


if __name__ == "__main__":
    main()
