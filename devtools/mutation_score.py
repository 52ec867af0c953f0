"""The mutation score per module, from the results mutmut leaves in mutants/ (`make mutation` prints it).

Killed counts mutants that a test turned red, or that ran past mutmut's time limit (a mutant that hangs is
caught too). `python -m devtools.mutation_score --survivors` also lists the mutants still alive.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

MUTANTS = Path("mutants")
# Modules are named by their path under the package ("formats/zip"): two folders may hold a module of one name.
PACKAGE = Path("src") / "imagedefs"
NAME_WIDTH = 20
# mutmut's exit codes (mutmut/stats.py): 1 and 3 a red test, 36, 24, 152, 255 and -24 a time-out.
KILLED_CODES = frozenset({1, 3, 36, 24, 152, 255, -24})
SURVIVED_CODES = frozenset({0})
NOT_RUN_CODES = frozenset({None})


@dataclass(frozen=True)
class ModuleScore:
    module: str
    killed: int
    survived: int
    other: int
    survivors: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.other

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def scores(mutants: Path = MUTANTS) -> list[ModuleScore]:
    result = []
    for meta_path in sorted(mutants.rglob("*.py.meta")):
        exit_codes: dict[str, int | None] = json.loads(meta_path.read_text())["exit_code_by_key"]
        kinds = Counter(
            "killed" if code in KILLED_CODES else "survived" if code in SURVIVED_CODES else "other"
            for code in exit_codes.values()
        )
        survivors = tuple(sorted(key for key, code in exit_codes.items() if code in SURVIVED_CODES))
        module = meta_path.relative_to(mutants / PACKAGE).as_posix().removesuffix(".py.meta")
        result.append(ModuleScore(module, kinds["killed"], kinds["survived"], kinds["other"], survivors))
    return result


def report(module_scores: list[ModuleScore], show_survivors: bool) -> str:
    lines = [f"{'module':<{NAME_WIDTH}} {'killed':>6} / {'total':<5} {'score':>6}  survived  not run/other"]
    for score in module_scores:
        lines.append(
            f"{score.module:<{NAME_WIDTH}} {score.killed:>6} / {score.total:<5} {score.percent:>5.1f}%  "
            f"{score.survived:>8}  {score.other:>13}"
        )
    killed = sum(score.killed for score in module_scores)
    total = sum(score.total for score in module_scores)
    lines.append(f"{'all':<{NAME_WIDTH}} {killed:>6} / {total:<5} {100.0 * killed / max(total, 1):>5.1f}%")
    if show_survivors:
        lines += [f"  survived: {name}" for score in module_scores for name in score.survivors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="also list the mutants that survived")
    parser.add_argument("--mutants", type=Path, default=MUTANTS, help="mutmut's folder (default: mutants)")
    arguments = parser.parse_args(argv)
    module_scores = scores(arguments.mutants)
    if not module_scores:
        print(f"No mutmut results in {arguments.mutants}/: run `make mutation` first.", file=sys.stderr)
        return 1
    print(report(module_scores, arguments.survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
