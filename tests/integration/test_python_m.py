"""`python -m imagedefs` in the project's own .venv after `make test` or `make demo`, with no install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import imagedefs
from imagedefs.cli import main
from tests.templates import ROOT


def test_version_prints_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["--version"])

    assert exit_status.value.code == 0
    assert capsys.readouterr().out == f"imagedefs {imagedefs.__version__}\n"


def test_python_m_imagedefs_runs_this_checkouts_code_from_the_venv(tmp_path: Path) -> None:
    # The recipe `make test` and `make demo` run first (the venv itself is not reinstalled here)
    subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/bin/.installed", ".venv/bin/.src-on-path"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    python = str(ROOT / ".venv" / "bin" / "python")  # this checkout's .venv, as `make` creates it

    # Given a folder other than the checkout, with no PYTHONPATH
    version = subprocess.run(  # noqa: S603
        [python, "-m", "imagedefs", "--version"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    location = subprocess.run(  # noqa: S603
        [python, "-c", "import imagedefs; print(imagedefs.__file__)"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (version.returncode, version.stdout) == (0, f"imagedefs {imagedefs.__version__}\n"), version.stderr
    assert Path(location.stdout.strip()) == ROOT / "src" / "imagedefs" / "__init__.py"
