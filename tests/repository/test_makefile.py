"""The Makefile: `make help` lists every target a user runs, with the line its `##` comment gives; it builds again
only when what `sam build` reads changed, so that a second `make demo` starts at once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.templates import ROOT

BUILT = Path(".aws-sam/build/template.yaml")
USER_TARGETS = {"demo", "test", "build", "deploy", "deploy-guided", "rollback", "publish", "delete", "help"}


def test_make_help_lists_each_documented_target_with_its_description() -> None:
    makefile = (ROOT / "Makefile").read_text()
    documented = dict(re.findall(r"^## ([a-z-]+): (.+)$", makefile, re.MULTILINE))

    listed = subprocess.run(
        ["make", "--no-print-directory", "help"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout

    assert set(documented) >= USER_TARGETS
    for target, description in documented.items():
        assert re.search(rf"^  make {re.escape(target)} +{re.escape(description)}$", listed, re.MULTILINE), target
    # `make` alone is `make help`: it builds nothing
    assert re.search(r"^\.DEFAULT_GOAL := help$", makefile, re.MULTILINE)


@pytest.fixture
def built_copy(tmp_path: Path) -> Path:
    """The Makefile, the template and src/ in a fresh folder, with venvs and a build newer than all of them."""
    for name in ("Makefile", "template.yaml", "samconfig.toml", "requirements-dev.txt", "requirements-sam.txt"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    newer = max(path.stat().st_mtime for path in tmp_path.rglob("*") if path.is_file()) + 10
    for made in (Path(".venv/bin/.installed"), Path(".venv-sam/.installed"), BUILT):
        (tmp_path / made).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / made).touch()
        os.utime(tmp_path / made, (newer, newer))
    return tmp_path


def is_up_to_date(folder: Path) -> bool:
    question = subprocess.run(
        ["make", "--question", "--no-print-directory", "build"],  # noqa: S607 - make from PATH, as a user runs it
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert question.returncode in (0, 1), question.stderr
    return question.returncode == 0


def test_nothing_changed_builds_nothing(built_copy: Path) -> None:
    assert is_up_to_date(built_copy)


@pytest.mark.parametrize(
    "changed", ["template.yaml", "samconfig.toml", "src/imagedefs/plan.py", "src/requirements.txt", "src/Makefile"]
)
def test_a_change_to_what_sam_build_reads_builds_again(built_copy: Path, changed: str) -> None:
    os.utime(built_copy / changed, None)  # now: newer than the build

    assert not is_up_to_date(built_copy)


def test_make_demo_runs_the_good_jobs_and_a_refused_one() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "DEMO_JOBS := events/two-ecr-sources.json events/blue-green.json events/unknown-container.json" in makefile
