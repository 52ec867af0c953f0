"""Every test that docs/reliability.md cites exists, so that each row stays backed by a test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"`(?P<file>test_\w+\.py)(?:::(?P<test>test_\w+))?")


def functions_in(file_name: str) -> set[str]:
    (path,) = ROOT.glob(f"tests/**/{file_name}")
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_cited_test_exists() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text()
    cited = [(match["file"], match["test"]) for match in CITED.finditer(text)]
    assert len(cited) > 30
    missing = [f"{file}::{test}" for file, test in cited if test and test not in functions_in(file)]
    assert missing == []
