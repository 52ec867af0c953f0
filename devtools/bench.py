"""`make bench`: cold and warm job time against a bare-boto3 floor, large-artifact cost, and memory; then the
cold and warm job under Lambda's CPU share for each memory size, their cost, the MemorySize that the rule picks,
and where the cold job's time goes.

Everything runs here, in one go: moto's S3 server and the CodePipeline double over HTTP on loopback,
and each measured job in a fresh process shaped like Lambda's (python -S, the `sam build` package and
the runtime's libraries on the path). Pairs are interleaved (ours, floor; floor, ours; ...) so that
machine noise hits both sides alike; figures are medians with min and max.

`make bench BASELINE=<commit>` also builds that commit's package (in a git worktree under .aws-sam/) and times its
cold job against this one's, interleaved in the same run: a change's before and after on the same machine state.
"""

from __future__ import annotations

import io
import json
import math
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

from cfnlint.decode import decode_str

from devtools import cpu_share
from devtools.bench_worker import IMPORTS_FROM_HERE
from devtools.cpu_share import CpuShare
from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event, local_aws, sample_artifacts
from devtools.packaged_function import RUNTIME_DIR, function_configuration, lambda_environment

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "bench_worker.py"
SWEEP_FILE = ROOT / "docs" / "memory-sweep.json"  # devtools/bench_chart.py draws docs/memory-sweep.png from it
PAIRS = 15
WARM_JOBS = 10
LARGE_ARTIFACT_BYTES = 200 * 1024 * 1024
GOAL_COLD_RATIO = 1.15
GOAL_WARM_RATIO = 1.2
GOAL_LARGE_BYTES = 256 * 1024
GOAL_LARGE_RSS_DELTA = 10 * 1024 * 1024
GOAL_LARGE_TIME_RATIO = 1.5
GOAL_PEAK_RSS = 96 * 1024 * 1024
GOAL_BASELINE_RATIO = 1.05  # this tree's cold job against BASELINE's: no slower, within a median's noise
GOAL_IMAGES_ONLY_RATIO = 1.0  # images from pipeline variables: no slower than the artifact job they replace

MEMORY_SIZES_MB = (128, 256, 512, 1024, 1769, 3008)
SWEEP_RUNS = 3  # cold and warm processes per size; a 128 MB cold job takes seconds under its share
SHARE_PAIRS = 5
# The rule for the template's MemorySize (issue 9): the cold job, which nearly every pipeline run hits, within
# these factors of the fastest size's time and of the cheapest size's cost. The smallest size that meets both.
RULE_TIME_FACTOR = 1.5
RULE_COST_FACTOR = 1.25
# us-east-1 list prices, arm64: https://aws.amazon.com/lambda/pricing/
PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000


@dataclass(frozen=True)
class Run:
    wall_seconds: float
    job_seconds: list[float]
    peak_rss_bytes: int
    bytes_served: int = 0
    # From the launch to the end of the last job: what the pipeline waits for and Lambda bills (init + invoke);
    # the interpreter's exit, which Lambda never waits for, is left out.
    until_done_seconds: float = 0.0
    phases: dict[str, float] | None = None


@dataclass(frozen=True)
class SizeResult:
    memory_mb: int
    cold_seconds: list[float]
    warm_seconds: list[float]

    @property
    def cold(self) -> float:
        return median(self.cold_seconds)

    @property
    def warm(self) -> float:
        return median(self.warm_seconds)

    @property
    def cold_cost(self) -> float:
        return cost_per_thousand(self.memory_mb, self.cold)

    @property
    def warm_cost(self) -> float:
        return cost_per_thousand(self.memory_mb, self.warm)


def cost_per_thousand(memory_mb: int, seconds: float) -> float:
    """Dollars for 1,000 invocations: duration billed in whole milliseconds at the function's memory, plus requests."""
    billed_seconds = math.ceil(seconds * 1000) / 1000
    return 1000 * (memory_mb / 1024 * billed_seconds * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST)


def chosen_memory(results: list[SizeResult]) -> tuple[SizeResult, bool]:
    """The smallest size whose cold job is within the rule's factors of the fastest time and the cheapest cost, and
    True; or, when none is (noisy figures on a busy machine can do that), the size nearest to both, and False."""
    fastest = min(result.cold for result in results)
    cheapest = min(result.cold_cost for result in results)

    def shortfall(result: SizeResult) -> float:
        return max(result.cold / (RULE_TIME_FACTOR * fastest), result.cold_cost / (RULE_COST_FACTOR * cheapest))

    meeting = [result for result in results if shortfall(result) <= 1.0]
    if meeting:
        return min(meeting, key=lambda result: result.memory_mb), True
    return min(results, key=shortfall), False


def baseline_environment(bench: Bench, commit: str) -> dict[str, str]:
    """The environment of `commit`'s package: a worktree of it, built by this tree's `sam build` (its own template
    and src/Makefile), so that nothing is installed into this tree's venvs."""
    worktree = ROOT / ".aws-sam" / f"baseline-{commit}"
    if not worktree.exists():
        git = ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), commit]
        subprocess.run(git, check=True)  # noqa: S603
        subprocess.run([str(ROOT / ".venv-sam" / "bin" / "sam"), "build"], cwd=worktree, check=True)  # noqa: S603
    code_dir, _, _ = function_configuration(worktree / ".aws-sam" / "build" / "template.yaml")
    return {
        **bench.environment,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "PYTHONPATH": f"{code_dir}{os.pathsep}{RUNTIME_DIR}",
    }


def template_memory_default() -> int:
    template, problems = decode_str((ROOT / "template.yaml").read_text())
    if problems:
        raise ValueError(f"template.yaml: {problems}")
    return int(template["Parameters"]["MemorySize"]["Default"])


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

    def run(
        self,
        mode: str,
        events: list[dict[str, Any]],
        environment: Mapping[str, str] | None = None,
        share: CpuShare | None = None,
    ) -> Run:
        """One worker process; with `share`, inside its cgroup and told its memory size as Lambda would."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as jobs_file:
            json.dump(events, jobs_file)
        environment = dict(environment or self.environment)
        command = [self.python, "-S", str(WORKER), mode, jobs_file.name]
        if mode == "breakdown":
            command[2:2] = ["-X", "importtime"]
        if share is not None:
            environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(share.memory_mb)
            command = share.command(command)
        started = time.perf_counter()
        completed = subprocess.run(command, env=environment, capture_output=True, check=False)  # noqa: S603
        wall = time.perf_counter() - started
        Path(jobs_file.name).unlink()
        if completed.returncode != 0:
            raise RuntimeError(f"{mode} worker failed:\n{completed.stderr.decode()[-3000:]}")
        result = json.loads(completed.stdout.decode().strip().splitlines()[-1])
        succeeded = {report.job_id for report in self.aws.double.reports if report.succeeded}
        failed = [
            event["CodePipeline.job"]["id"] for event in events if event["CodePipeline.job"]["id"] not in succeeded
        ]
        if failed:  # a figure of a job that failed would measure the wrong work
            raise RuntimeError(
                f"{mode} worker: job(s) {failed} did not report success: {completed.stderr.decode()[-3000:]}"
            )
        phases = None
        if mode == "breakdown":
            phases = cold_job_phases(result, started, completed.stderr.decode())
        return Run(
            wall,
            result["job_seconds"],
            result["peak_rss_bytes"],
            until_done_seconds=result["finished_at"] - started,
            phases=phases,
        )


# Whose modules an import belongs to, by top-level package; the rest is the standard library.
IMPORT_OWNERS = {
    "aws_lambda_powertools": "Powertools",
    "typing_extensions": "Powertools",
    "botocore": "botocore",
    "urllib3": "botocore",
    "dateutil": "botocore",
    "jmespath": "botocore",
    "six": "botocore",
    "handlers": "our code",
    "imagedefs": "our code",
}
PHASES = (
    "interpreter start",
    "import Powertools",
    "import botocore (with urllib3, dateutil, jmespath)",
    "import our code",
    "import standard library modules (the rest)",
    "load service models and endpoint data",
    "create clients",
    "the job's calls and the rest of the job",
)


def cold_job_phases(result: dict[str, Any], launched: float, import_times: str) -> dict[str, float]:
    """Where a cold job's time went, from the worker's timestamps, its botocore timers and `-X importtime`.

    Each import's own time (not counting the modules it imports) is given to the package the module belongs to,
    and a standard library module's to the nearest package that imported it: ssl counts as botocore's.
    Imports happen before and during the first job; the job's other phases are what remains of it.
    """
    imports = dict.fromkeys(("Powertools", "botocore", "our code", "standard library"), 0.0)
    owner_at_depth: dict[int, str] = {}
    # importtime prints a module after the modules it imports, indented one more: read backwards, parents come first.
    for line in reversed(import_times.split(IMPORTS_FROM_HERE, 1)[-1].splitlines()):
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own_us, _, module = line.removeprefix("import time:").split("|")
        depth = (len(module) - len(module.lstrip()) - 1) // 2
        package = module.strip().split(".")[0]
        owner = IMPORT_OWNERS.get(package) or owner_at_depth.get(depth - 1, "standard library")
        owner_at_depth[depth] = owner
        imports[owner] += int(own_us) / 1e6
    all_imports = sum(imports.values())
    worker_seconds = result["finished_at"] - result["started_at"]
    phases = dict(
        zip(
            PHASES,
            (
                result["started_at"] - launched,
                imports["Powertools"],
                imports["botocore"],
                imports["our code"],
                imports["standard library"],
                result["service_data_seconds"],
                result["client_seconds"],
            ),
            strict=False,
        )
    )
    phases[PHASES[-1]] = worker_seconds - all_imports - result["service_data_seconds"] - result["client_seconds"]
    return phases


def jobs(template: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Copies of a sample job with fresh job ids (CodePipeline accepts one result per job)."""
    events = []
    for _ in range(count):
        event = json.loads(json.dumps(template))
        event["CodePipeline.job"]["id"] = str(uuid.uuid4())
        events.append(event)
    return events


def interleaved(first: Callable[[], Run], second: Callable[[], Run], pairs: int = PAIRS) -> tuple[list[Run], list[Run]]:
    firsts, seconds = [], []
    for pair in range(pairs):
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

        # The same one-container job, its image from pipeline variables (no input artifact) or from an artifact
        images_only, one_artifact = load_event("build-and-publish.json"), load_event("single-ecr-source.json")
        aws.seed(images_only)
        aws.seed(one_artifact)
        cold_images_only, cold_one_artifact = interleaved(
            lambda: bench.run("ours", jobs(images_only, 1)), lambda: bench.run("ours", jobs(one_artifact, 1))
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

        baseline: tuple[str, list[Run], list[Run]] | None = None
        if commit := os.environ.get("BASELINE"):
            environment = baseline_environment(bench, commit)
            bench.run("ours", jobs(two_containers, 1), environment)  # warm the file cache, unmeasured
            this, theirs = interleaved(
                lambda: bench.run("ours", jobs(two_containers, 1)),
                lambda: bench.run("ours", jobs(two_containers, 1), environment),
            )
            baseline = (commit, this, theirs)

        no_pyc: list[Run] = []
        if bench.read_only:
            bare = bench.without_package_pyc()
            _, no_pyc = interleaved(
                lambda: bench.run("ours", jobs(two_containers, 1)),
                lambda: bench.run("ours", jobs(two_containers, 1), bare),
            )

        unavailable = cpu_share.unavailable_reason()
        if unavailable is None:
            shared = under_cpu_share(bench, two_containers)
        else:
            print(f"\nLambda's CPU share not emulated, its figures skipped: {unavailable} (needs root and cgroup v1)")
            shared = None

    images_only_pair = (cold_images_only, cold_one_artifact)
    print_table(cold_ours, cold_floor, warm_ours, warm_floor, images_only_pair, large, small, no_pyc, baseline, shared)
    if shared is not None:
        print_share_figures(shared)
        write_sweep(shared, machine, version)


@dataclass(frozen=True)
class ShareFigures:
    sizes: list[SizeResult]
    chosen: SizeResult
    meets_rule: bool  # False: no size met the rule in this run, and `chosen` is the nearest
    cold_ours: list[Run]
    cold_floor: list[Run]
    breakdowns: dict[int, list[Run]]


def under_cpu_share(bench: Bench, job: dict[str, Any]) -> ShareFigures:
    """Each memory size's cold and warm job under its share; at the chosen size, the floor ratio and the phases."""
    print(f"\nunder Lambda's CPU share (cgroup cpu quota = memory/{cpu_share.MEMORY_OF_ONE_VCPU_MB} of a CPU):")
    sizes = []
    for memory_mb in MEMORY_SIZES_MB:
        with CpuShare(memory_mb) as share:
            cold = [bench.run("ours", jobs(job, 1), share=share).until_done_seconds for _ in range(SWEEP_RUNS)]
            warm = [
                median(bench.run("ours", jobs(job, 1 + WARM_JOBS), share=share).job_seconds[1:])
                for _ in range(SWEEP_RUNS)
            ]
        sizes.append(SizeResult(memory_mb, cold, warm))
        print(f"  {memory_mb} MB measured: cold {median(cold):.2f} s, warm {median(warm) * 1000:.0f} ms")
    chosen, meets_rule = chosen_memory(sizes)
    breakdowns = {}
    for memory_mb in sorted({MEMORY_SIZES_MB[0], chosen.memory_mb}):
        with CpuShare(memory_mb) as share:
            breakdowns[memory_mb] = [bench.run("breakdown", jobs(job, 1), share=share) for _ in range(SWEEP_RUNS)]
    with CpuShare(chosen.memory_mb) as share:
        cold_ours, cold_floor = interleaved(
            lambda: bench.run("ours", jobs(job, 1), share=share),
            lambda: bench.run("floor", jobs(job, 1), share=share),
            SHARE_PAIRS,
        )
    return ShareFigures(sizes, chosen, meets_rule, cold_ours, cold_floor, breakdowns)


def share_percent(memory_mb: int) -> str:
    return f"{cpu_share.quota_us(memory_mb, os.cpu_count() or 1) / cpu_share.PERIOD_US:.0%}"


def print_share_figures(shared: ShareFigures) -> None:
    ms = 0.001
    print(f"\n{SWEEP_RUNS} runs each; time to the job reported, median (min–max); cost at arm64 us-east-1 prices")
    print("| MemorySize | CPU share | cold job | per 1,000 cold | warm job | per 1,000 warm |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in shared.sizes:
        mark = " (chosen)" if size is shared.chosen else ""
        print(
            f"| {size.memory_mb}{mark} | {share_percent(size.memory_mb)} | {spread(size.cold_seconds, 1, '.2f')} s"
            f" | ${size.cold_cost:.4f} | {spread(size.warm_seconds, ms, '.0f')} ms | ${size.warm_cost:.4f} |"
        )
    fastest = min(shared.sizes, key=lambda size: size.cold)
    cheapest = min(shared.sizes, key=lambda size: size.cold_cost)
    print(
        f"\nrule: cold job <= {RULE_TIME_FACTOR} x fastest ({fastest.memory_mb} MB, {fastest.cold:.2f} s) and cost"
        f" <= {RULE_COST_FACTOR} x cheapest ({cheapest.memory_mb} MB, ${cheapest.cold_cost:.4f} per 1,000):"
        + (
            f" smallest size that meets both = {shared.chosen.memory_mb} MB"
            if shared.meets_rule
            else f" no size meets both in this run (rerun on a quiet machine); nearest = {shared.chosen.memory_mb} MB"
        )
    )
    default = template_memory_default()
    agreement = "agrees" if default == shared.chosen.memory_mb else "DIFFERS: update template.yaml and the README"
    print(f"template.yaml MemorySize default: {default} MB ({agreement})")

    print("\nwhere a cold job's time goes (one job in a fresh process, median of", SWEEP_RUNS, "runs):")
    sizes = sorted(shared.breakdowns)
    print("| phase | " + " | ".join(f"{memory_mb} MB" for memory_mb in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for phase in PHASES:
        times = [median([run.phases[phase] for run in shared.breakdowns[size] if run.phases]) for size in sizes]
        print(f"| {phase} | " + " | ".join(f"{seconds * 1000:.0f} ms" for seconds in times) + " |")
    totals = [median([run.until_done_seconds for run in shared.breakdowns[size]]) for size in sizes]
    print("| total, launch to job reported | " + " | ".join(f"{seconds * 1000:.0f} ms" for seconds in totals) + " |")


def write_sweep(shared: ShareFigures, machine: str, python: str) -> None:
    sweep = {
        "machine": f"{machine}, {os.cpu_count()} cores",
        "python": python,
        "runs_per_size": SWEEP_RUNS,
        "chosen_mb": shared.chosen.memory_mb,
        "sizes": [
            {
                "memory_mb": size.memory_mb,
                "cold_seconds": size.cold,
                "warm_seconds": size.warm,
                "cold_cost_per_1000": size.cold_cost,
                "warm_cost_per_1000": size.warm_cost,
            }
            for size in shared.sizes
        ],
    }
    SWEEP_FILE.write_text(json.dumps(sweep, indent=2) + "\n")
    print(f"\nwrote {SWEEP_FILE.relative_to(ROOT)}")


def print_table(
    cold_ours: list[Run],
    cold_floor: list[Run],
    warm_ours: list[Run],
    warm_floor: list[Run],
    images_only_pair: tuple[list[Run], list[Run]],
    large: list[Run],
    small: list[Run],
    no_pyc: list[Run],
    baseline: tuple[str, list[Run], list[Run]] | None,
    shared: ShareFigures | None,
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
    images_only, one_artifact = images_only_pair
    images_only_ratio = median(wall(images_only)) / median(wall(one_artifact))
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
            "cold job, image from pipeline variables (no input artifact) vs from an artifact",
            f"variables {spread(wall(images_only), ms, '.0f')} ms, artifact {spread(wall(one_artifact), ms, '.0f')} ms",
            f"ratio {images_only_ratio:.2f}",
            f"<= {GOAL_IMAGES_ONLY_RATIO}",
            images_only_ratio <= GOAL_IMAGES_ONLY_RATIO,
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
    if baseline is not None:
        commit, this, theirs = baseline
        ratio = median(wall(this)) / median(wall(theirs))
        rows.insert(
            1,
            (
                f"cold job, this tree against BASELINE={commit}",
                f"this {spread(wall(this), ms, '.0f')} ms, {commit} {spread(wall(theirs), ms, '.0f')} ms",
                f"ratio {ratio:.2f}",
                f"<= {GOAL_BASELINE_RATIO}",
                ratio <= GOAL_BASELINE_RATIO,
            ),
        )
    if shared is not None:
        done = [[run.until_done_seconds for run in runs] for runs in (shared.cold_ours, shared.cold_floor)]
        ratio = median(done[0]) / median(done[1])
        rows.insert(
            1,
            (
                f"cold job under a {shared.chosen.memory_mb} MB function's CPU share (launch to job reported)",
                f"ours {spread(done[0], ms, '.0f')} ms, floor {spread(done[1], ms, '.0f')} ms",
                f"ratio {ratio:.2f}",
                f"<= {GOAL_COLD_RATIO}",
                ratio <= GOAL_COLD_RATIO,
            ),
        )
    print("\n| figure | measured | result | goal | |")
    print("| --- | --- | --- | --- | --- |")
    for figure, measured, result, goal, met in rows:
        verdict = "" if met is None else "met" if met else "MISSED"
        print(f"| {figure} | {measured} | {result} | {goal} | {verdict} |")


if __name__ == "__main__":
    main()
