"""examples/pipeline.yaml finds the function through the exports of the stack `sam deploy` creates."""

from __future__ import annotations

import tomllib

from tests.templates import ROOT, load_template


def imported_exports(node: object) -> list[str]:
    """The export names the template imports, each as a Sub pattern."""
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            return [node["Fn::ImportValue"]["Fn::Sub"]]
        return [name for value in node.values() for name in imported_exports(value)]
    if isinstance(node, list):
        return [name for value in node for name in imported_exports(value)]
    return []


def test_the_pipeline_imports_the_function_stacks_exports_by_the_deployed_stack_name() -> None:
    pipeline = load_template(ROOT / "examples" / "pipeline.yaml")
    function_stack = load_template(ROOT / "template.yaml")
    stack_name = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["global"]["parameters"]["stack_name"]

    exported = {output["Export"]["Name"]["Fn::Sub"] for output in function_stack["Outputs"].values()}
    imported = imported_exports(pipeline["Resources"])

    assert pipeline["Parameters"]["ImageDefinitionsStack"]["Default"] == stack_name
    assert {name.replace("${ImageDefinitionsStack}", "${AWS::StackName}") for name in imported} <= exported
    assert "${ImageDefinitionsStack}-FunctionName" in imported
    assert "${ImageDefinitionsStack}-FunctionArn" in imported
