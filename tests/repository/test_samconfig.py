"""samconfig.toml: `sam deploy` accepts its parameter overrides, and they are the template's defaults."""

from __future__ import annotations

import re
import tomllib

from tests.templates import ROOT, load_template

# What SAM CLI's --parameter-overrides accepts for one entry: Key=value, or Key="..." (quotes allow empty values).
# An unquoted empty value (Key=) makes `sam deploy` exit with "is not a valid format".
OVERRIDE = re.compile(r'(?P<key>[A-Za-z0-9]+)=(?:"(?P<quoted>[^"]*)"|(?P<plain>[^"\s]+))')


def test_every_parameter_override_is_valid_and_is_the_templates_default() -> None:
    deploy = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    parameters = load_template(ROOT / "template.yaml")["Parameters"]

    overrides = {}
    for entry in deploy["parameter_overrides"]:
        match = OVERRIDE.fullmatch(entry)
        assert match is not None, f"sam deploy rejects {entry!r}"
        overrides[match["key"]] = match["plain"] if match["plain"] is not None else match["quoted"]

    assert overrides == {name: str(spec.get("Default", "")) for name, spec in parameters.items()}
