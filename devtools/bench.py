"""`make bench`: cold and warm job time against a bare-boto3 floor, large-artifact cost, and memory.

Everything runs here, in one go: moto's S3 server and the CodePipeline double over HTTP on loopback,
and each measured job in a fresh process shaped like Lambda's (python -S, the `sam build` package and
the runtime's libraries on the path). Pairs are interleaved (ours, floor; floor, ours; ...) so that
machine noise hits both sides alike; figures are medians with min and max.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event, local_aws, sample_artifacts
from devtools.packaged_function import RUNTIME_DIR, function_configuration, lambda_environment

WORKER = Path(__file__).resolve().parent / "bench_worker.py"
PAIRS = 15
WARM_JOBS = 10
LARGE_ARTIFACT_BYTES = 200 * 1024 * 1024
GOAL_COLD_RATIO = 1.15
GOAL_WARM_RATIO = 1.2
GOAL_LARGE_BYTES = 256 * 1024
GOAL_LARGE_RSS_DELTA = 10 * 1024 * 1024
GOAL_LARGE_TIME_RATIO = 1.5
GOAL_PEAK_RSS = 96 * 1024 * 1024


@dataclass(frozen=True)
class Run:
    wall_seconds: float
    job_seconds: list[float]
    peak_rss_bytes: int
    bytes_served: int = 0


def lambda_python() -> tuple[str, bool]:
    """The interpreter for the measured processes, and whether it is Lambda's (python3.13).

    With Lambda's Python the processes run as on Lambda, where the code is read-only: they use only the
    .pyc shipped in the package and the runtime (PYTHONDONTWRITEBYTECODE). Otherwise they run on this
    Python, whose .pyc they write on their first run.
    """
    candidate = os.environ.get("LAMBDA_PYTHON_BIN", "")
    if candidate and subprocess.run([candidate, "-c", ""], check=False).returncode == 0:  # noqa: S603
        return candidate, True
    return sys.executable, False


class Bench:
    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.python, self.read_only = lambda_python()
        self.code_dir, self.handler, template_environment = function_configuration()
        self.environment = lambda_environment(
            self.code_dir,
            self.handler,
            {**template_environment, **aws.environment, **({"PYTHONDONTWRITEBYTECODE": "1"} if self.read_only else {})},
        )
        if self.read_only:  # the runtime's libraries come with .pyc on Lambda
            subprocess.run([self.python, "-m", "compileall", "-q", "-j", "0", str(RUNTIME_DIR)], check=True)  # noqa: S603

    def without_package_pyc(self) -> dict[str, str]:
        """The environment of a package built where python3.13 was missing: no .pyc shipped."""
        bare = Path(tempfile.mkdtemp(prefix="bench-no-pyc-")) / "code"
        shutil.copytree(self.code_dir, bare, ignore=shutil.ignore_patterns("__pycache__"))
        return {**self.environment, "LAMBDA_TASK_ROOT": str(bare), "PYTHONPATH": f"{bare}{os.pathsep}{RUNTIME_DIR}"}

    def run(self, mode: str, events: list[dict[str, Any]], environment: Mapping[str, str] | None = None) -> Run:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as jobs_file:
            json.dump(events, jobs_file)
        started = time.perf_counter()
        completed = subprocess.run(  # noqa: S603 - our own interpreter and worker
            [self.python, "-S", str(WORKER), mode, jobs_file.name],
            env=dict(environment or self.environment),
            capture_output=True,
            check=False,
        )
        wall = time.perf_counter() - started
        Path(jobs_file.name).unlink()
        if completed.returncode != 0:
            raise RuntimeError(f"{mode} worker failed:\n{completed.stderr.decode()[-3000:]}")
        result = json.loads(completed.stdout.decode().strip().splitlines()[-1])
        return Run(wall, result["job_seconds"], result["peak_rss_bytes"])


def jobs(template: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Copies of a sample job with fresh job ids (CodePipeline accepts one result per job)."""
    events = []
    for _ in range(count):
        event = json.loads(json.dumps(template))
        event["CodePipeline.job"]["id"] = str(uuid.uuid4())
        events.append(event)
    return events


def interleaved(first: Callable[[], Run], second: Callable[[], Run]) -> tuple[list[Run], list[Run]]:
    firsts, seconds = [], []
    for pair in range(PAIRS):
        if pair % 2 == 0:
            firsts.append(first())
            seconds.append(second())
        else:
            seconds.append(second())
            firsts.append(first())
    return firsts, seconds


def large_artifact_event(aws: LocalAws, size: int) -> dict[str, Any]:
    """The single-source sample job, its input artifact an imageDetail.json beside `size` bytes of bundle."""
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    location = event["CodePipeline.job"]["data"]["inputArtifacts"][0]["location"]["s3Location"]
    detail = sample_artifacts()[f"{location['bucketName']}/{location['objectKey']}"]["imageDetail.json"]
    location["objectKey"] = f"bench/artifact-{size}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bundle.bin", os.urandom(size))  # incompressible, stored: the zip is as large as asked
        archive.writestr("imageDetail.json", json.dumps(detail))
    aws.put(location["bucketName"], location["objectKey"], buffer.getvalue())
    return event


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], unit: float, fmt: str) -> str:
    return f"{median(values) / unit:{fmt}} ({min(values) / unit:{fmt}}–{max(values) / unit:{fmt}})"


def main() -> None:
    print(f"make bench: {PAIRS} interleaved pairs; median (min–max)")
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, {platform.system()}")
    with local_aws() as aws:
        bench = Bench(aws)
        version = (
            subprocess.run(  # noqa: S603
                [bench.python, "-c", "import platform; print(platform.python_version())"],
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )
        if bench.read_only:
            print(f"measured processes: Lambda's Python {version}, code read-only (only shipped .pyc are used)")
        else:
            print(f"measured processes: Python {version} (python3.13 not found: .pyc are written on first run)")
        two_containers = load_event("two-ecr-sources.json")
        aws.seed(two_containers)
        for mode in ("ours", "floor"):  # warm the OS file cache once, unmeasured
            bench.run(mode, jobs(two_containers, 1))

        cold_ours, cold_floor = interleaved(
            lambda: bench.run("ours", jobs(two_containers, 1)), lambda: bench.run("floor", jobs(two_containers, 1))
        )
        warm_ours, warm_floor = interleaved(
            lambda: bench.run("ours", jobs(two_containers, 1 + WARM_JOBS)),
            lambda: bench.run("floor", jobs(two_containers, 1 + WARM_JOBS)),
        )

        large_event = large_artifact_event(aws, LARGE_ARTIFACT_BYTES)
        small_event = large_artifact_event(aws, 1024)
        with FaultyS3(Fault(methods=frozenset()), upstream=aws.s3_url) as counting_proxy:
            through_proxy = {**bench.environment, "AWS_ENDPOINT_URL_S3": counting_proxy.url}

            def counted(event: dict[str, Any]) -> Run:
                before = counting_proxy.bytes_served
                run = bench.run("ours", jobs(event, 1), through_proxy)
                return Run(run.wall_seconds, run.job_seconds, run.peak_rss_bytes, counting_proxy.bytes_served - before)

            large, small = interleaved(lambda: counted(large_event), lambda: counted(small_event))

        no_pyc: list[Run] = []
        if bench.read_only:
            bare = bench.without_package_pyc()
            _, no_pyc = interleaved(
                lambda: bench.run("ours", jobs(two_containers, 1)),
                lambda: bench.run("ours", jobs(two_containers, 1), bare),
            )

    print_table(cold_ours, cold_floor, warm_ours, warm_floor, large, small, no_pyc)


def print_table(
    cold_ours: list[Run],
    cold_floor: list[Run],
    warm_ours: list[Run],
    warm_floor: list[Run],
    large: list[Run],
    small: list[Run],
    no_pyc: list[Run],
) -> None:
    mib, ms = 1024 * 1024, 0.001

    def wall(runs: list[Run]) -> list[float]:
        return [run.wall_seconds for run in runs]

    def rss(runs: list[Run]) -> list[float]:
        return [float(run.peak_rss_bytes) for run in runs]

    cold_ratio = median(wall(cold_ours)) / median(wall(cold_floor))
    warm_o = [median(run.job_seconds[1:]) for run in warm_ours]
    warm_f = [median(run.job_seconds[1:]) for run in warm_floor]
    warm_ratio = median(warm_o) / median(warm_f)
    large_bytes = max(run.bytes_served for run in large)
    small_bytes = max(run.bytes_served for run in small)
    rss_delta = median(rss(large)) - median(rss(small))
    time_ratio = median(wall(large)) / median(wall(small))
    peak = max(rss(cold_ours))
    big = f"{LARGE_ARTIFACT_BYTES // mib} MB zip"
    rows: list[tuple[str, str, str, str, bool | None]] = [
        (
            "cold job (process start to exit)",
            f"ours {spread(wall(cold_ours), ms, '.0f')} ms, floor {spread(wall(cold_floor), ms, '.0f')} ms",
            f"ratio {cold_ratio:.2f}",
            f"<= {GOAL_COLD_RATIO}",
            cold_ratio <= GOAL_COLD_RATIO,
        ),
        (
            f"warm job (jobs 2-{1 + WARM_JOBS} in one process)",
            f"ours {spread(warm_o, ms, '.1f')} ms, floor {spread(warm_f, ms, '.1f')} ms",
            f"ratio {warm_ratio:.2f}",
            f"<= {GOAL_WARM_RATIO}",
            warm_ratio <= GOAL_WARM_RATIO,
        ),
        (
            "large artifact: bytes read from S3",
            f"{big}: {large_bytes / 1024:.1f} KiB; 1 KB zip: {small_bytes / 1024:.1f} KiB",
            f"{large_bytes / 1024:.1f} KiB",
            f"<= {GOAL_LARGE_BYTES // 1024} KiB",
            large_bytes <= GOAL_LARGE_BYTES,
        ),
        (
            "large artifact: peak RSS",
            f"{big} {spread(rss(large), mib, '.1f')} MB, 1 KB zip {spread(rss(small), mib, '.1f')} MB",
            f"{rss_delta / mib:+.1f} MB",
            f"<= +{GOAL_LARGE_RSS_DELTA // mib} MB",
            rss_delta <= GOAL_LARGE_RSS_DELTA,
        ),
        (
            "large artifact: time",
            f"{big} {spread(wall(large), ms, '.0f')} ms, 1 KB zip {spread(wall(small), ms, '.0f')} ms",
            f"ratio {time_ratio:.2f}",
            f"<= {GOAL_LARGE_TIME_RATIO}",
            time_ratio <= GOAL_LARGE_TIME_RATIO,
        ),
        (
            "memory: peak RSS of a cold job",
            f"{spread(rss(cold_ours), mib, '.1f')} MB",
            f"{peak / mib:.1f} MB",
            f"<= {GOAL_PEAK_RSS // mib} MB",
            peak <= GOAL_PEAK_RSS,
        ),
    ]
    if no_pyc:
        slower = median(wall(no_pyc)) / median(wall(cold_floor))
        rows.append(
            (
                "cold job if the package had no .pyc (built without python3.13)",
                f"ours {spread(wall(no_pyc), ms, '.0f')} ms",
                f"ratio {slower:.2f}",
                "(for comparison)",
                None,
            )
        )
    print("\n| figure | measured | result | goal | |")
    print("| --- | --- | --- | --- | --- |")
    for figure, measured, result, goal, met in rows:
        verdict = "" if met is None else "met" if met else "MISSED"
        print(f"| {figure} | {measured} | {result} | {goal} | {verdict} |")


if __name__ == "__main__":
    main()
