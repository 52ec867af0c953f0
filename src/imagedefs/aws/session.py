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
from typing import TYPE_CHECKING, Any, Final, TypeVar

from imagedefs.errors import AnswerTooLargeError, ImageDefsError

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse
    from botocore.client import BaseClient
    from botocore.session import Session

    from imagedefs.budget import TimeBudget

_Result = TypeVar("_Result")

# An AWS error answer is a code, a message and a request id: a few hundred bytes (S3's SignatureDoesNotMatch, the
# longest, quotes the canonical request as text and as hex: a few KB). More is no error answer the function can use.
MAX_ERROR_ANSWER_BYTES: Final = 64 * 1024
_READ_CHUNK_BYTES: Final = 64 * 1024


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


def create_client(service_name: str, *, max_answer_bytes: int, **options: Any) -> BaseClient:
    """A client that reads at most `max_answer_bytes` of any answer body (`MAX_ERROR_ANSWER_BYTES` of an error
    answer), whatever Content-Length says and chunked or not: past that, the answer is refused with
    AnswerTooLargeError and its connection closed, so no server can make the function hold more.
    """
    with _cyclic_gc_paused():
        client = _session().create_client(service_name, **options)
    # Every answer of the client passes through its endpoint's HTTP session (botocore makes one per client).
    endpoint = client._endpoint  # type: ignore[attr-defined]  # botocore has no public seam for this
    endpoint.http_session = _BoundedAnswers(
        endpoint.http_session, client.meta.service_model.service_id, max_answer_bytes
    )
    return client


class _BoundedAnswers:
    """botocore's HTTP session, with every answer body read through a bound.

    botocore reads a body whole: inside `send` for an operation that does not stream, and in
    `convert_to_response_dict` for any error answer. Here `send` has urllib3 stream every answer, wraps the stream
    in `_BoundedBody`, and reads a non-streamed body at once through it, as botocore would have (so that a broken
    connection is still retried as before).
    """

    def __init__(self, session: Any, service: str, max_answer_bytes: int) -> None:
        self._session = session
        self._service = service
        self._max_answer_bytes = max_answer_bytes

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        read_whole = not request.stream_output
        request.stream_output = True
        try:
            response: AWSResponse = self._session.send(request)
        finally:
            request.stream_output = not read_whole
        limit = self._max_answer_bytes
        if response.status_code >= 300:  # pragma: no mutate (a 3xx body is read as an error answer: either way)
            limit = min(limit, MAX_ERROR_ANSWER_BYTES)
        refusal = AnswerTooLargeError(self._service, limit, response.status_code)
        response.raw = _BoundedBody(response.raw, limit, refusal)
        declared = str(response.headers.get("content-length", ""))
        if declared.isdigit() and int(declared) > limit:
            response.raw.close()
            raise refusal
        if read_whole:
            _ = response.content
        return response

    def close(self) -> None:
        self._session.close()


class _BoundedBody:
    """An answer's body (urllib3's response) that refuses to be read past `limit` bytes, closing its connection."""

    def __init__(self, raw: Any, limit: int, refusal: AnswerTooLargeError) -> None:
        self._raw = raw
        self._left = limit
        self.refusal = refusal

    def read(self, amt: int | None = None) -> bytes:
        if amt is None:
            return b"".join(iter(lambda: self.read(_READ_CHUNK_BYTES), b""))
        data: bytes = self._raw.read(min(amt, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            self.close()
            raise self.refusal
        return data

    def stream(self, amt: int = _READ_CHUNK_BYTES, decode_content: bool | None = None) -> Iterator[bytes]:
        """What AWSResponse.content joins; botocore's StreamingBody turns urllib3's errors into botocore's."""
        from botocore.response import StreamingBody

        # No length to check (None), as botocore's own read of a body that is not streamed.
        return StreamingBody(self, None).iter_chunks(amt)  # type: ignore[arg-type]

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        self._raw.release_conn()

    def __getattr__(self, name: str) -> Any:
        # Anything else botocore asks of urllib3's response (its socket, for a timeout change) is urllib3's.
        return getattr(self._raw, name)


def budgeted_client(
    service_name: str,
    budget: TimeBudget,
    signature_version: str | None = None,
    *,
    max_answer_bytes: int,
    **options: Any,
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
        max_answer_bytes=max_answer_bytes,
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
    except AnswerTooLargeError as exc:
        raise exc.while_doing(doing) from exc
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
