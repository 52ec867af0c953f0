"""Peak memory of a fresh function process that is fed every kind of hostile artifact: bounded by construction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from devtools.local_aws import LocalAws, zip_files
from tests.hostile import job_reading, many_entries, with_declared_size, with_end_record, zip_with_method
from tests.samples import image_detail

MAX_PEAK_RSS_BYTES = 96 * 1024 * 1024
WORKER = Path(__file__).resolve().parents[2] / "devtools" / "bench_worker.py"
SOURCE = Path(__file__).resolve().parents[2] / "src"


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
