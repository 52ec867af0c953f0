"""samconfig.toml: what `make deploy` passes to `sam deploy` without PARAMS= changes no stack setting."""

from __future__ import annotations

import tomllib

from tests.templates import ROOT


def test_a_deploy_without_params_keeps_every_deployed_setting() -> None:
    # SAM passes samconfig.toml's parameter_overrides on every deploy: a list of the defaults there would reset
    # a setting given once with PARAMS= (AllowedRegistries, say) on the next plain `make deploy`. Without the
    # list, SAM asks CloudFormation to keep each parameter's previous value (UsePreviousValue).
    environment = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    deploy = environment["deploy"]["parameters"]

    assert "parameter_overrides" not in deploy
    assert "tags" not in deploy  # none by default; the file shows how to add them
    assert deploy["capabilities"] == "CAPABILITY_IAM"  # the stack creates the two roles
    assert environment["global"]["parameters"]["stack_name"] == "image-definitions"
