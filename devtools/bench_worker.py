"""One process of `make bench`: run jobs with the packaged handler ("ours") or with bare boto3 ("floor").

Run as a script with -S and PYTHONPATH = the built package and the runtime's libraries, like Lambda.
Usage: bench_worker.py {ours|floor} JOBS_FILE. Prints one JSON line: per-job seconds and peak RSS.
"""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from typing import Any


class Context:
    aws_request_id = "bench"
    function_name = "image-definitions"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:image-definitions"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def ours() -> Any:
    from handlers.image_definitions import lambda_handler

    return lambda event: lambda_handler(event, Context())


def floor() -> Any:
    """The least any implementation must do: boto3, two GETs, one PUT, one report."""
    import boto3

    codepipeline = boto3.client("codepipeline")

    def run(event: dict[str, Any]) -> None:
        job = event["CodePipeline.job"]
        data = job["data"]
        credentials = data["artifactCredentials"]
        s3 = boto3.client(
            "s3",
            aws_access_key_id=credentials["accessKeyId"],
            aws_secret_access_key=credentials["secretAccessKey"],
            aws_session_token=credentials["sessionToken"],
        )
        definitions = []
        for artifact in data["inputArtifacts"]:
            location = artifact["location"]["s3Location"]
            body = s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])["Body"].read()
            detail = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("imageDetail.json"))
            repository = detail["ImageURI"].split("@")[0]
            definitions.append(
                {"name": repository.rsplit("/", 1)[-1], "imageUri": f"{repository}:{detail['ImageTags'][0]}"}
            )
        output = io.BytesIO()
        with zipfile.ZipFile(output, "w") as archive:
            archive.writestr("imagedefinitions.json", json.dumps(definitions))
        location = data["outputArtifacts"][0]["location"]["s3Location"]
        s3.put_object(Bucket=location["bucketName"], Key=location["objectKey"], Body=output.getvalue())
        codepipeline.put_job_success_result(jobId=job["id"], executionDetails={"summary": "done"})

    return run


def main() -> None:
    mode, jobs_file = sys.argv[1], sys.argv[2]
    with open(jobs_file) as file:  # noqa: PTH123 - pathlib costs import time in a cold-start measurement
        events = json.load(file)
    run = {"ours": ours, "floor": floor}[mode]()
    seconds = []
    for event in events:
        started = time.perf_counter()
        run(event)
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"job_seconds": seconds, "peak_rss_bytes": peak_rss_bytes()}), file=sys.__stdout__)


def peak_rss_bytes() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over from the parent across exec."""
    with open("/proc/self/status") as status:  # noqa: PTH123 - see main
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
