"""The function's one dependency has one version: the pin `sam build` reads, the dev pin and the tests' own."""

from __future__ import annotations

import re
from pathlib import Path

from aws_lambda_powertools.shared.version import VERSION

ROOT = Path(__file__).resolve().parents[2]
POWERTOOLS = "aws-lambda-powertools"


def pinned_version(requirements: Path, package: str) -> str:
    pins = re.findall(rf"^{re.escape(package)}==(\S+)$", requirements.read_text(), re.MULTILINE)
    assert len(pins) == 1, f"{requirements.name} must pin {package} exactly once"
    return str(pins[0])


def test_the_build_pin_the_dev_pin_and_the_tested_version_agree() -> None:
    assert pinned_version(ROOT / "src" / "requirements.txt", POWERTOOLS) == VERSION
    assert pinned_version(ROOT / "requirements-dev.txt", POWERTOOLS) == VERSION


def test_the_build_takes_its_pins_from_requirements_txt_only() -> None:
    # Dependabot and Renovate read requirements.txt; a version written in the Makefile would escape them.
    build = (ROOT / "src" / "Makefile").read_text()
    assert "-r requirements.txt" in build
    assert POWERTOOLS not in build
