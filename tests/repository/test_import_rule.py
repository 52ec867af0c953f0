"""The import rule that `make test`'s lint enforces: botocore and boto3 are imported in the AWS adapters only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")
BOTOCORE_IMPORT = "from botocore.exceptions import ClientError\n"
# An adapter module, where the import is allowed.
ADAPTER = "src/imagedefs/aws/ecs.py"


def _lint_as(path: str, source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the venv's own ruff, on text of this test
        [str(RUFF), "check", "--no-cache", "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_botocore_outside_the_aws_package_fails_the_lint() -> None:
    # Given a module of the core that imports botocore, at the top or inside a function
    for source in (BOTOCORE_IMPORT, "def translate() -> None:\n    import boto3  # noqa: F401\n"):
        # When ruff checks it as the lint of `make test` does
        linted = _lint_as("src/imagedefs/plan.py", source)

        # Then the lint fails, naming the rule and where the import belongs
        assert linted.returncode == 1, linted.stdout
        assert "TID251" in linted.stdout
        assert "imported only in src/imagedefs/aws/" in linted.stdout


def test_botocore_in_an_aws_adapter_passes_the_lint() -> None:
    linted = _lint_as(ADAPTER, BOTOCORE_IMPORT + "\n__all__ = ['ClientError']\n")

    assert linted.returncode == 0, linted.stdout
