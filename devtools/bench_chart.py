"""Draw docs/memory-sweep.png from docs/memory-sweep.json (written by `make bench`): time and cost against memory.

Run with the bench's own environment (.venv-bench, matplotlib), so that `make test` does not need matplotlib.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # after choosing the backend

SWEEP = Path(__file__).resolve().parent.parent / "docs" / "memory-sweep.json"


def main(sweep_file: Path = SWEEP) -> None:
    sweep = json.loads(sweep_file.read_text())
    sizes = sweep["sizes"]
    memory = [size["memory_mb"] for size in sizes]
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for panel, job, unit, scale in ((panels[0], "cold", "s", 1), (panels[1], "warm", "ms", 1000)):
        times = [size[f"{job}_seconds"] * scale for size in sizes]
        costs = [size[f"{job}_cost_per_1000"] for size in sizes]
        panel.plot(memory, times, "o-", color="tab:blue", label=f"{job} job time")
        panel.set_xscale("log", base=2)
        panel.set_xticks(memory, [str(mb) for mb in memory])
        panel.minorticks_off()
        panel.set_xlabel("MemorySize (MB); CPU share = MemorySize / 1769")
        panel.set_ylabel(f"{job} job time ({unit})", color="tab:blue")
        panel.set_ylim(bottom=0)
        panel.axvline(sweep["chosen_mb"], color="tab:green", linestyle="--", label=f"default {sweep['chosen_mb']} MB")
        cost_axis = panel.twinx()
        cost_axis.plot(memory, costs, "s-", color="tab:orange", label="cost per 1,000 runs")
        cost_axis.set_ylabel("$ per 1,000 runs (arm64, us-east-1)", color="tab:orange")
        cost_axis.set_ylim(bottom=0)
        lines = panel.get_legend_handles_labels()[0] + cost_axis.get_legend_handles_labels()[0]
        panel.legend(lines, [str(line.get_label()) for line in lines], loc="upper center")
        panel.set_title(f"{job} two-container job under Lambda's CPU share")
    figure.suptitle(f"make bench, {sweep['runs_per_size']} runs per size, median; {sweep['machine']}", fontsize=9)
    output = sweep_file.with_suffix(".png")
    figure.savefig(output, dpi=100)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SWEEP)
