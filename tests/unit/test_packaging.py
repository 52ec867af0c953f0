"""The function runs with the Powertools version the tests ran with."""

from __future__ import annotations

import re
from pathlib import Path

from aws_lambda_powertools.shared.version import VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_the_packaged_powertools_is_the_tested_one() -> None:
    build = (ROOT / "src" / "Makefile").read_text()
    packaged = re.search(r"^POWERTOOLS_VERSION := (\S+)$", build, re.MULTILINE)
    assert packaged is not None
    assert packaged[1] == VERSION
    assert f"aws-lambda-powertools=={VERSION}" in (ROOT / "requirements-dev.txt").read_text().splitlines()
