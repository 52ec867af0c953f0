"""Run jobs one after another with the real handler in this fresh process: how each ended, how long it took, and
the peak RSS while it ran.

Usage: python -m devtools.memory_probe RUNS_FILE (with src/ on PYTHONPATH). RUNS_FILE holds a JSON list of
{"event": ..., "environment": {...}}: each job runs with those variables set (its endpoints, its settings), a
fresh CodePipeline client, and the peak RSS reset first (Linux: "5" to /proc/self/clear_refs), so that each job's
peak is its own, on top of what the process holds already. Prints one JSON line: a list of, per job, "returned"
(the handler's answer) or "raised" (type and message: how the handler asks Lambda to retry), "seconds" and
"peak_rss_bytes" (VmHWM).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from devtools.bench_worker import Context, peak_rss_bytes


def run(event: dict[str, Any], environment: dict[str, str]) -> dict[str, Any]:
    from handlers.image_definitions import _reporter, lambda_handler

    os.environ.update(environment)
    _reporter.cache_clear()  # its client was made for the previous job's CodePipeline endpoint
    Path("/proc/self/clear_refs").write_text("5")
    started = time.monotonic()
    outcome: dict[str, Any]
    try:
        outcome = {"returned": lambda_handler(event, Context())}
    except Exception as exc:  # reported to the test, which judges it
        outcome = {"raised": {"type": type(exc).__name__, "message": str(exc)}}
    return outcome | {"seconds": time.monotonic() - started, "peak_rss_bytes": peak_rss_bytes()}


def main() -> None:
    runs = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps([run(entry["event"], entry["environment"]) for entry in runs]), file=sys.__stdout__)


if __name__ == "__main__":
    main()
