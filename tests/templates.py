"""CloudFormation templates of this repository, read as CloudFormation reads them (short-form tags included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[1]


def load_template(path: Path) -> dict[str, Any]:
    decoded, problems = decode_str(path.read_text())
    assert not problems, problems
    loaded: dict[str, Any] = json.loads(json.dumps(decoded))
    return loaded
