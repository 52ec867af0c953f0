"""The one botocore session the adapters create their clients from.

botocore directly rather than boto3: importing boto3 also imports s3transfer (70-90 ms of a cold
start here, measured with `make bench`), which this function never uses. The clients are the same
classes boto3 would return, configured the same standard way: region, credentials, retry settings
and the AWS_ENDPOINT_URL* variables all come from the environment and config files.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.session import Session


@cache
def _session() -> Session:
    # One per execution environment: warm invocations reuse its loaded service models.
    import botocore.session

    return botocore.session.get_session()


def create_client(service_name: str, **options: Any) -> BaseClient:
    return _session().create_client(service_name, **options)


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("AccessDenied", ...); empty for any other error."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
