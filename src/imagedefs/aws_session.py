"""The one botocore session the adapters create their clients from.

botocore directly rather than boto3: importing boto3 also imports s3transfer (70-90 ms of a cold
start here, measured with `make bench`), which this function never uses. The clients are the same
classes boto3 would return, configured the same standard way: region, credentials, retry settings
and the AWS_ENDPOINT_URL* variables all come from the environment and config files.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.session import Session


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Importing botocore and building a client allocate some 100,000 long-lived objects and no garbage cycles;
    the collector would traverse them again and again meanwhile (10-15% of a cold job's CPU, measured with
    `make bench`, multiplied on a small CPU share). Reference counting still frees everything else.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@cache
def _session() -> Session:
    # One per execution environment: warm invocations reuse its loaded service models.
    import botocore.session

    return botocore.session.get_session()


def create_client(service_name: str, **options: Any) -> BaseClient:
    with _cyclic_gc_paused():
        return _session().create_client(service_name, **options)


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("AccessDenied", ...); empty for any other error."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
