"""The Makefile: `make help` lists every target a user runs, with the line its `##` comment gives."""

from __future__ import annotations

import re
import subprocess

from tests.templates import ROOT

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
