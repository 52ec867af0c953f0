"""One process of `make bench`: run jobs with the packaged handler ("ours") or with bare boto3 ("floor").

Run as a script with -S and PYTHONPATH = the built package and the runtime's libraries, like Lambda.
Usage: bench_worker.py {ours|floor|breakdown} JOBS_FILE. Prints one JSON line: per-job seconds, peak RSS,
when its own code started and finished (time.perf_counter: CLOCK_MONOTONIC, which the parent shares), the
package's modules loaded after each job, and for "breakdown" (ours, with botocore instrumented) the first
job's time spent loading service data from disk and creating clients.
"""

from __future__ import annotations

import time

STARTED_AT = time.perf_counter()  # first thing: what came before is the interpreter's own start
IMPORTS_FROM_HERE = "bench_worker: imports from here on are the job's"

import sys  # noqa: E402 - built in, imported at startup already

if __name__ == "__main__":  # -X importtime writes to stderr: the parent counts only the lines after this one
    print(IMPORTS_FROM_HERE, file=sys.stderr, flush=True)

import io  # noqa: E402 - after the timestamp on purpose
import json  # noqa: E402
import os  # noqa: E402
import zipfile  # noqa: E402
from typing import Any  # noqa: E402


class Context:
    aws_request_id = "bench"
    function_name = "image-definitions"
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:image-definitions"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def ours() -> Any:
    from handlers.image_definitions import lambda_handler

    return lambda event: lambda_handler(event, Context())


class BotocoreTimer:
    """Time botocore spends reading its data files (service models, endpoints, partitions) and in
    Session.create_client: bench-only instrumentation of the library's own methods, installed before any job.
    """

    def __init__(self) -> None:
        import botocore.loaders
        import botocore.session

        self.seconds = {"load_file": 0.0, "create_client": 0.0}
        self._time(botocore.loaders.JSONFileLoader, "load_file")
        self._time(botocore.session.Session, "create_client")

    def _time(self, owner: type, method: str) -> None:
        original = getattr(owner, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[method] += time.perf_counter() - started

        setattr(owner, method, timed)

    def result(self) -> dict[str, float]:
        # Data files are read inside create_client: what is left of it is building the client itself.
        loading = self.seconds["load_file"]
        return {"service_data_seconds": loading, "client_seconds": self.seconds["create_client"] - loading}


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
    timer = BotocoreTimer() if mode == "breakdown" else None
    run = {"ours": ours, "floor": floor, "breakdown": ours}[mode]()
    seconds = []
    modules = []
    for event in events:
        started = time.perf_counter()
        run(event)
        seconds.append(time.perf_counter() - started)
        modules.append(sorted(name for name in sys.modules if name.startswith(("imagedefs", "handlers"))))
    result: dict[str, Any] = {
        "job_seconds": seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "started_at": STARTED_AT,
        # The package's modules loaded after each job (tests/integration/test_cold_imports.py).
        "modules": modules,
    }
    if timer is not None:
        result |= timer.result()
    print(json.dumps({**result, "finished_at": time.perf_counter()}), file=sys.__stdout__)


def peak_rss_bytes() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over from the parent across exec."""
    with open("/proc/self/status") as status:  # noqa: PTH123 - see main
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
