"""`make deploy` (and deploy-guided, publish, delete, rollback) checks a region and AWS credentials first.

Run with .venv-sam's Python, whose botocore is the one SAM CLI uses, before anything is built or asked, so
that a missing region or an expired sign-in ends in one line that names the make variable to set instead of
after a build and SAM's prompts. The region is found as `sam deploy` finds it: REGION=, then samconfig.toml,
then the AWS configuration (AWS_DEFAULT_REGION, the profile's region). The credentials are checked
with one STS GetCallerIdentity call, which needs no permission; the account and region are printed, so that the
wrong account is noticed before anything is deployed to it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Final

import botocore.config
import botocore.exceptions
import botocore.session

ROOT: Final = Path(__file__).resolve().parent.parent
SAMCONFIG: Final = ROOT / "samconfig.toml"
# AWS's region names: eu-west-1, us-gov-west-1, cn-north-1, ap-southeast-5.
REGION_NAME: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
# Any region answers GetCallerIdentity; this one when `make deploy-guided` is to ask for the region itself.
ANY_REGION: Final = "us-east-1"
STS_CONFIG: Final = botocore.config.Config(
    connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
)


class DeployCheckError(Exception):
    """What is missing, as one line that says how to give it."""


def samconfig_value(key: str, command: str) -> str:
    """A setting of samconfig.toml's default environment: the command's own, else the global one ("" if none)."""
    environment = tomllib.loads(SAMCONFIG.read_text()).get("default", {})
    for section in (command, "global"):
        value = environment.get(section, {}).get("parameters", {}).get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def deploy_region(session: botocore.session.Session, *, target: str, sam_command: str, optional: bool) -> str:
    """The region SAM CLI will use ("" only if optional and none is configured)."""
    given = os.environ.get("REGION", "")
    if given and not REGION_NAME.fullmatch(given):
        raise DeployCheckError(
            f"make {target}: REGION={given} is not an AWS region name: give one like REGION=eu-west-1"
        )
    region = given or samconfig_value("region", sam_command) or (session.get_config_variable("region") or "")
    if not region and not optional:
        raise DeployCheckError(
            f"make {target}: no AWS region: give the pipeline's region, for example `make {target} REGION=eu-west-1` "
            "(or set AWS_DEFAULT_REGION, or region in your AWS profile or in samconfig.toml)"
        )
    return region


def caller_account(session: botocore.session.Session, *, target: str, region: str) -> tuple[str, str]:
    """The account and identity ARN of the credentials SAM CLI will use, checked with AWS."""
    profile = os.environ.get("AWS_PROFILE", "")
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as error:  # a missing profile, an expired SSO sign-in
        raise DeployCheckError(f"make {target}: the AWS credentials cannot be loaded: {error}") from None
    if credentials is None:
        raise DeployCheckError(
            f"make {target}: no AWS credentials found"
            + (f" for AWS_PROFILE={profile}" if profile else "")
            + ": sign in first (for example with your SSO profile: `AWS_PROFILE=name make "
            f"{target}`), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Nothing was built or deployed."
        )
    client: Any = session.create_client("sts", region_name=region or ANY_REGION, config=STS_CONFIG)
    try:
        identity = client.get_caller_identity()
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "an error")
        raise DeployCheckError(
            f"make {target}: AWS refused these credentials ({code}): sign in again, or check AWS_PROFILE. "
            "Nothing was built or deployed."
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise DeployCheckError(
            f"make {target}: could not check the credentials with AWS STS in {region or ANY_REGION} ({error}): "
            "check the network, and REGION=. Nothing was built or deployed."
        ) from None
    return str(identity["Account"]), str(identity["Arn"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", help="the make target, as messages name it (deploy, deploy-guided, ...)")
    parser.add_argument("--sam-command", default="deploy", help="the samconfig.toml section SAM CLI reads")
    parser.add_argument("--region-optional", action="store_true", help="SAM CLI asks for the region itself")
    arguments = parser.parse_args(argv)
    session = botocore.session.Session()
    try:
        region = deploy_region(
            session, target=arguments.target, sam_command=arguments.sam_command, optional=arguments.region_optional
        )
        account, identity = caller_account(session, target=arguments.target, region=region)
    except DeployCheckError as error:
        print(error, file=sys.stderr)
        return 1
    stack = os.environ.get("STACK", "") or samconfig_value("stack_name", arguments.sam_command)
    where = f"in {region}" if region else "in the region you choose next"
    print(f"make {arguments.target}: stack {stack}, account {account} {where}, as {identity}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
