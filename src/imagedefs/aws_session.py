"""The one botocore session the adapters create their clients from.

botocore directly rather than boto3: importing boto3 also imports s3transfer (70-90 ms of a cold
start here, measured with `make bench`), which this function never uses. The clients are the same
classes boto3 would return, configured the same standard way: region, credentials, retry settings
and the AWS_ENDPOINT_URL* variables all come from the environment and config files.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from imagedefs.errors import ImageDefsError

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.session import Session

    from imagedefs.budget import TimeBudget

_Result = TypeVar("_Result")


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


def budgeted_client(
    service_name: str, budget: TimeBudget, signature_version: str | None = None, **options: Any
) -> BaseClient:
    """A client whose timeouts and attempts are cut to the job's budget, and which refuses to sign (and so to send)
    any request once the budget is spent: a call abandoned at the deadline can then neither retry, nor change
    anything, nor log a freshly signed request after the job has reported. Endpoint and region come from boto3's
    standard configuration (AWS_ENDPOINT_URL_<SERVICE>).
    """
    from botocore.config import Config

    limits = budget.limits()
    client = create_client(
        service_name,
        config=Config(
            signature_version=signature_version,
            connect_timeout=limits.connect_timeout,
            read_timeout=limits.read_timeout,
            retries={"mode": "standard", "total_max_attempts": limits.total_max_attempts},
        ),
        **options,
    )
    service_id = client.meta.service_model.service_id

    def refuse_once_spent(**_: Any) -> None:
        budget.check(f"sending a request to {service_id}")

    client.meta.events.register(f"before-sign.{service_id.hyphenize()}", refuse_once_spent)
    return client


def call_classified(
    doing: str,
    call: Callable[[], _Result],
    budget: TimeBudget | None,
    translate: Callable[[BaseException, str], ImageDefsError | None],
) -> _Result:
    """Run a remote call under the budget's hard deadline; an AWS or network error becomes the job failure that
    `translate` gives it, here, where it comes from, so that it can never pass for something else further up.
    """
    try:
        return budget.run(doing, call) if budget else call()
    except ImageDefsError:
        raise
    except Exception as exc:
        translated = translate(exc, doing)
        if translated is None:
            raise
        raise translated from exc


def is_connection_failure(error: BaseException) -> bool:
    """A failure of the connection or of the bytes on it (ResponseStreamingError is an HTTPClientError)."""
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import FlexibleChecksumError, HTTPClientError, IncompleteReadError

    return isinstance(
        error, (HTTPClientError, BotocoreConnectionError, IncompleteReadError, FlexibleChecksumError, OSError)
    )


def http_status(error: BaseException) -> int:
    """The HTTP status of a botocore ClientError; 0 for any other error."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("AccessDenied", ...); empty for any other error."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
