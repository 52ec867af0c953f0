"""Peak memory of a fresh function process that is fed every kind of hostile artifact, or whose S3, ECS or
CodePipeline answers the way no AWS endpoint should: bounded by construction."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import SAMPLE_SERVICE_ARN, LocalAws, load_event, zip_files
from tests.hostile import job_reading, many_entries, with_declared_size, with_end_record, zip_with_method
from tests.samples import image_detail

MAX_PEAK_RSS_BYTES = 96 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "devtools" / "bench_worker.py"
SOURCE = ROOT / "src"
HUGE = 40 * 1024 * 1024
# The probe's Lambda context gives 60 s; the job's work must end within its budget, 50 s of it.
WORK_DEADLINE_SECONDS = 50


def hostile_artifacts() -> dict[str, bytes]:
    zeros = b"\0" * (200 * 1024 * 1024)
    detail = json.dumps(image_detail()).encode()
    return {
        "bzip2 bomb, lying size": with_declared_size(
            zip_with_method("imageDetail.json", zeros, zipfile.ZIP_BZIP2), 300
        ),
        "deflate bomb, lying size": with_declared_size(
            zip_with_method("imageDetail.json", zeros, zipfile.ZIP_DEFLATED), 300
        ),
        "100,000 entries": many_entries(100_000),
        "huge names": zip_files({f"{index}{'x' * 60_000}": b"" for index in range(30)}),
        "end record lying about the directory": with_end_record(zip_files({"imageDetail.json": detail}), 9, 2**31),
        "JSON nested 50,000 deep": zip_files({"imageDetail.json": b"[" * 50_000 + b"]" * 50_000}),
        "100 KB of tags": zip_files({"imageDetail.json": image_detail(tags=[f"t{index}" for index in range(12_000)])}),
        "random 24 MB object": os.urandom(24 * 1024 * 1024),
    }


def test_no_input_artifact_takes_the_function_past_96_mb(aws: LocalAws, tmp_path: Path) -> None:
    # Given one job per hostile artifact, each in S3
    events = [job_reading(aws, body) for body in hostile_artifacts().values()]
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps(events))

    # When a fresh process runs them all with the real handler
    finished = subprocess.run(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), "ours", str(jobs_file)],
        env={**os.environ, **aws.environment, "PYTHONPATH": str(SOURCE), "POWERTOOLS_LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    peak_rss_bytes = json.loads(finished.stdout.splitlines()[-1])["peak_rss_bytes"]

    # Then each job was reported once, as a failure, and the process never held more than 96 MB
    reports = {report.job_id: report for report in aws.double.reports}
    assert len(reports) == len(events) == len(aws.double.reports)
    assert not any(report.succeeded for report in reports.values())
    print(f"peak RSS of the hostile jobs: {peak_rss_bytes / 2**20:.1f} MB")
    assert peak_rss_bytes <= MAX_PEAK_RSS_BYTES, f"peak RSS {peak_rss_bytes / 2**20:.1f} MB"


@dataclass(frozen=True)
class ServerBehaviour:
    """What one endpoint (S3, ECS or CODEPIPELINE) does, and what the job must end in."""

    endpoint: str
    fault: Fault
    refusal: str = ""


def far_member_artifact() -> bytes:
    """imageDetail.json first, then 300 KB of incompressible bulk, a small file and 300 KB more: its member is read
    apart from the tail, and the zip's layout check reads a local header far from both."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imageDetail.json", json.dumps(image_detail()))
        archive.writestr("bundle.bin", os.urandom(300 * 1024))
        archive.writestr("notes.txt", "notes")
        archive.writestr("more.bin", os.urandom(300 * 1024))
    return buffer.getvalue()


BUCKET = "codepipeline-us-west-2-123456789012"  # the sample jobs' artifact bucket
S3_ANSWERED = f'S3 answered reading input artifact "SourceArtifact" (s3://{BUCKET}/hostile/'
CODEPIPELINE_REFUSAL = (
    "CodePipeline's answer to the job result was refused: CodePipeline answered with more than 64 KB (HTTP 400), more "
    "than any CodePipeline answer the function can use, so the answer was refused unread. Retry the action; if it "
    "stays so, something other than CodePipeline answers at its endpoint (a proxy, or an AWS_ENDPOINT_URL_* setting)."
)
SERVER_BEHAVIOURS = {
    "S3 answers every range overlapping all but one new byte": ServerBehaviour(
        "S3",
        Fault(ranges="overlapping"),
        refusal=f"S3 answered the reads of s3://{BUCKET}/hostile/… in slivers: 48 ranged GETs",
    ),
    "S3 error of 40 MB with Content-Length": ServerBehaviour(
        "S3", Fault(500, "InternalError", answer_bytes=HUGE), refusal=f"{S3_ANSWERED}…) with more than 64 KB (HTTP 500)"
    ),
    "S3 error of 40 MB without Content-Length": ServerBehaviour(
        "S3",
        Fault(500, "InternalError", answer_bytes=HUGE, framing="close"),
        refusal=f"{S3_ANSWERED}…) with more than 64 KB (HTTP 500)",
    ),
    "S3 error of 40 MB, chunked": ServerBehaviour(
        "S3",
        Fault(403, "AccessDenied", answer_bytes=HUGE, framing="chunked"),
        refusal=f"{S3_ANSWERED}…) with more than 64 KB (HTTP 403)",
    ),
    "S3 answers a range with 40 MB": ServerBehaviour(
        "S3", Fault(200, answer_bytes=HUGE), refusal=f"{S3_ANSWERED}…) with more than 2048 KB (HTTP 200)"
    ),
    "S3 answers a range with 40 MB, chunked": ServerBehaviour(
        "S3", Fault(200, answer_bytes=HUGE, framing="chunked"), refusal="S3 sent more than the 65536 bytes asked"
    ),
    "ECS DescribeTaskDefinition answer of 40 MB": ServerBehaviour(
        "ECS",
        Fault(200, json_error=True, answer_bytes=HUGE, operations=frozenset({"DescribeTaskDefinition"})),
        refusal="ECS answered reading task definition arn:aws:ecs:us-west-2:123456789012:task-definition/shop:1 of ECS "
        'service "prod/shop" with more than 1024 KB (HTTP 200), more than any ECS answer the function can use',
    ),
    "ECS DescribeTaskDefinition answer of 40 MB, chunked": ServerBehaviour(
        "ECS",
        Fault(
            200, json_error=True, answer_bytes=HUGE, framing="chunked", operations=frozenset({"DescribeTaskDefinition"})
        ),
        refusal="ECS answered reading task definition arn:aws:ecs:us-west-2:123456789012:task-definition/shop:1 of ECS "
        'service "prod/shop" with more than 1024 KB (HTTP 200), more than any ECS answer the function can use',
    ),
    "ECS error of 40 MB without Content-Length": ServerBehaviour(
        "ECS",
        Fault(400, "ClientException", json_error=True, answer_bytes=HUGE, framing="close"),
        refusal='ECS answered describing ECS service "prod/shop" with more than 64 KB (HTTP 400)',
    ),
    "CodePipeline error of 40 MB": ServerBehaviour(
        "CODEPIPELINE", Fault(400, "ValidationException", json_error=True, answer_bytes=HUGE)
    ),
    "CodePipeline error of 40 MB, chunked": ServerBehaviour(
        "CODEPIPELINE", Fault(400, "ValidationException", json_error=True, answer_bytes=HUGE, framing="chunked")
    ),
}


def job_for(behaviour: ServerBehaviour, aws: LocalAws) -> tuple[dict[str, Any], dict[str, str]]:
    """The job that meets the behaviour: blue/green for ECS (its service in moto), else a single-source job; and
    the function settings it needs."""
    if behaviour.endpoint != "ECS":
        event, settings = job_reading(aws, far_member_artifact()), {"IMAGEDEFS_ECS_SERVICES": ""}
    else:
        event = load_event("blue-green.json")
        event["CodePipeline.job"]["id"] = str(uuid.uuid4())
        aws.seed(event)
        settings = {"IMAGEDEFS_ECS_SERVICES": SAMPLE_SERVICE_ARN}
    for output in event["CodePipeline.job"]["data"]["outputArtifacts"]:  # each job its own, to see what it wrote
        output["location"]["s3Location"]["objectKey"] = f"outputs/{uuid.uuid4()}"
    return event, settings


def test_no_server_behaviour_takes_the_function_past_96_mb(aws: LocalAws, tmp_path: Path) -> None:
    # Given one job per server behaviour, each job's endpoint answering that way (in front of moto, or of the
    # CodePipeline double), the others as usual
    aws.seed_service()
    runs, servers = [], {}
    with ExitStack() as stack:
        for name, behaviour in SERVER_BEHAVIOURS.items():
            event, settings = job_for(behaviour, aws)
            upstream = aws.codepipeline_url if behaviour.endpoint == "CODEPIPELINE" else aws.s3_url
            servers[name] = stack.enter_context(FaultyS3(behaviour.fault, upstream=upstream))
            endpoint = {f"AWS_ENDPOINT_URL_{behaviour.endpoint}": servers[name].url}
            runs.append({"event": event, "environment": {**aws.environment, **settings, **endpoint}})
        # When a fresh function process runs them one after another
        results = probe(runs, tmp_path)

    peaks = {
        name: f"{result['peak_rss_bytes'] / 2**20:.1f} MB"
        for name, result in zip(SERVER_BEHAVIOURS, results, strict=True)
    }
    print("peak RSS per server behaviour:", json.dumps(peaks, indent=1))
    reports = {report.job_id: report for report in aws.double.reports}
    assert len(reports) == len(aws.double.reports)
    for (name, behaviour), run, result in zip(SERVER_BEHAVIOURS.items(), runs, results, strict=True):
        # Then each ended before the deadline, the process never holding more than 96 MB
        assert result["seconds"] < WORK_DEADLINE_SECONDS, name
        assert result["peak_rss_bytes"] <= MAX_PEAK_RSS_BYTES, f"{name}: peak RSS {peaks[name]}"
        assert servers[name].requests >= 1, name
        job = run["event"]["CodePipeline.job"]
        if behaviour.endpoint == "CODEPIPELINE":
            # and, CodePipeline's answer refused, no report counts as delivered: the handler raised for Lambda's retry
            assert job["id"] not in reports, name
            assert result["raised"] == {"type": "ReportNotDeliveredError", "message": CODEPIPELINE_REFUSAL}, name
            continue
        # and with exactly one report: SystemUnavailable, naming the service and the bound; nothing was written
        assert result["returned"]["report"] == "reported", name
        failure = reports[job["id"]].request["failureDetails"]
        assert failure["type"] == "SystemUnavailable", name
        before, _, after = behaviour.refusal.partition("…")  # "…": the object key, new for each job
        assert failure["message"].startswith(before), name
        assert after in failure["message"], name
        output = job["data"]["outputArtifacts"][0]["location"]["s3Location"]
        assert "Contents" not in aws.s3.list_objects_v2(Bucket=output["bucketName"], Prefix=output["objectKey"]), name


def probe(runs: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    """How each job ended in one fresh function process (devtools/memory_probe.py), with its peak RSS."""
    runs_file = tmp_path / "runs.json"
    runs_file.write_text(json.dumps(runs))
    finished = subprocess.run(  # noqa: S603 - our own probe
        [sys.executable, "-m", "devtools.memory_probe", str(runs_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(SOURCE), "POWERTOOLS_LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(finished.stdout.splitlines()[-1])
    return results
