"""`make rollback [VERSION=N]`: point the alias "live" back at the version before it, or at version N.

Pipelines that invoke <function>:live run that version from their next job on; nothing is redeployed. Run with
.venv-sam's Python after devtools.deploy_check. The stack is STACK= or samconfig.toml's stack_name, in the region
`make deploy` uses. The next `make deploy` that publishes a new version moves the alias to it again.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Final

import botocore.exceptions
import botocore.session

from devtools.deploy_check import STS_CONFIG, DeployCheckError, deploy_region, samconfig_value

ALIAS: Final = "live"
FUNCTION_OUTPUT: Final = "FunctionName"


def function_name(cloudformation: Any, stack: str) -> str:
    """The function the stack created (its FunctionName output)."""
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    for output in described.get("Outputs", []):
        if output.get("OutputKey") == FUNCTION_OUTPUT:
            return str(output["OutputValue"])
    raise DeployCheckError(
        f"make rollback: stack {stack} has no {FUNCTION_OUTPUT} output: is it this function's stack?"
    )


def published_versions(lambda_client: Any, name: str) -> dict[int, str]:
    """Each published version's number and description (which lists the settings it was published with)."""
    versions: dict[int, str] = {}
    for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        for version in page["Versions"]:
            if version["Version"].isdigit():
                versions[int(version["Version"])] = str(version.get("Description", ""))
    return versions


def rollback_target(current: int, versions: dict[int, str], wanted: int | None) -> int:
    """The version the alias moves to: the one asked for, or the newest before the current one."""
    if wanted is not None:
        if wanted not in versions:
            listed = ", ".join(str(number) for number in sorted(versions))
            raise DeployCheckError(f"make rollback: VERSION={wanted} is not a published version (published: {listed})")
        return wanted
    earlier = [number for number in versions if number < current]
    if not earlier:
        raise DeployCheckError(
            f'make rollback: the alias "{ALIAS}" is on version {current}, the first one: there is none to go back to'
        )
    return max(earlier)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", type=int, help="the version to point the alias at (default: the one before)")
    arguments = parser.parse_args(argv)
    session = botocore.session.Session()
    stack = os.environ.get("STACK", "") or samconfig_value("stack_name", "deploy")
    try:
        region = deploy_region(session, target="rollback", sam_command="deploy", optional=False)
        cloudformation: Any = session.create_client("cloudformation", region_name=region, config=STS_CONFIG)
        lambda_client: Any = session.create_client("lambda", region_name=region, config=STS_CONFIG)
        name = function_name(cloudformation, stack)
        current = int(lambda_client.get_alias(FunctionName=name, Name=ALIAS)["FunctionVersion"])
        versions = published_versions(lambda_client, name)
        target = rollback_target(current, versions, arguments.version)
        lambda_client.update_alias(FunctionName=name, Name=ALIAS, FunctionVersion=str(target))
    except DeployCheckError as error:
        print(error, file=sys.stderr)
        return 1
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "an error")
        print(
            f"make rollback: AWS refused it ({code}) for stack {stack} in {region}: check STACK= and REGION=",
            file=sys.stderr,
        )
        return 1
    print(f'make rollback: alias "{ALIAS}" of {name} moved from version {current} to {target} ({versions[target]})')
    return 0


if __name__ == "__main__":
    sys.exit(main())
