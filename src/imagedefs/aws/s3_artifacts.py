"""Pipeline artifacts in S3: read one small file out of an input zip, write the output zip.

Input artifacts are read with ranged GETs, so that a large artifact costs only its zip
directory and the one member read, never a download of the whole object.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from imagedefs.aws.session import budgeted_client, call_classified, error_code, http_status, is_connection_failure
from imagedefs.budget import TimeBudget
from imagedefs.errors import (
    ArtifactAccessDeniedError,
    ArtifactContentError,
    ImageDefsError,
    InvalidJobError,
    ServiceUnavailableError,
)
from imagedefs.formats.zip import MAX_BYTES_READ, MAX_LAYOUT_READS, source_from_zip, zip_output_files
from imagedefs.job import ArtifactCredentials, S3Location
from imagedefs.model import InputSource, OutputArtifact
from imagedefs.observability import MAX_ERROR_CODE_CHARS, logger, server_text

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READ_BLOCK_BYTES: Final = 64 * 1024
# S3's longest object key, in UTF-8 bytes (S3 answers KeyTooLongError past it).
MAX_S3_KEY_BYTES: Final = 1024
# zipfile reads an artifact in a handful of pieces (end record, directory, one local header, one member), and the
# layout check at most MAX_LAYOUT_READS windows, each fetched once: S3 answers every range whole, so more GETs than
# this are an S3 that answers in slivers.
MAX_GETS_PER_ARTIFACT: Final = MAX_LAYOUT_READS + 16
# Every byte S3 sends for one artifact, kept or not: what the zip reader may read, plus the rounding up of each GET
# to a block. More is an S3 whose answers overlap what it sent before.
MAX_RECEIVED_BYTES: Final = MAX_BYTES_READ + MAX_GETS_PER_ARTIFACT * READ_BLOCK_BYTES
_CONTENT_RANGE: Final = re.compile(r"bytes (?P<start>[0-9]{1,15})-[0-9]{1,15}/(?P<size>[0-9]{1,15})", re.ASCII)

_ACCESS_DENIED_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
        "KMS.NotFoundException",
        "KMS.KMSInvalidStateException",
    }
)
_MISSING_CODES: Final = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


class ArtifactStore:
    """Reads input artifacts and writes output artifacts with the job's artifact credentials.

    With a budget, every S3 call runs under its hard deadline; errors are classified here, where they
    come from, so that a network failure can never pass for bad content further up.
    """

    def __init__(self, client: S3Client, kms_key_id: str | None = None, budget: TimeBudget | None = None) -> None:
        self._client = client
        self._kms_key_id = kms_key_id
        self._budget = budget

    def read_source(self, artifact: str, location: S3Location) -> InputSource:
        """The imageDetail.json (or, failing that, imagedefinitions.json) inside an input artifact's zip."""
        doing = f'reading input artifact "{artifact}" ({location})'
        reader = _RangedObjectReader(self._client, location, lambda call: self._call(doing, call))
        return source_from_zip(artifact, reader, where=f"({location}, {reader.size} bytes)")

    def write_outputs(self, outputs: Sequence[tuple[S3Location, OutputArtifact]]) -> None:
        """Upload each output artifact's zip, encrypted with the pipeline's KMS key when it has one.

        Every zip is built and every location checked before the first upload, so that only an upload itself
        can fail. The artifact credentials cannot be relied on to delete (CodePipeline documents them only
        for reading and writing artifacts), so an upload that fails after another one says which outputs were
        already written: CodePipeline does not use them, as the action fails, and a rerun overwrites them.
        """
        uploads = [(location, output.artifact, zip_output_files(output.files)) for location, output in outputs]
        for location, artifact, _ in uploads:
            _check_output_location(location, f'writing output artifact "{artifact}" ({location})')
        written: list[tuple[str, S3Location]] = []
        for location, artifact, body in uploads:
            try:
                self._put(location, artifact, body)
            except ImageDefsError as error:
                if not written:
                    raise
                logger.warning(
                    "Output artifacts were written before an upload failed; CodePipeline will not use them",
                    extra={"written_outputs": {name: str(where) for name, where in written}, "failed_output": artifact},
                )
                raise type(error)(f"{error} {_already_written(written)}") from error
            written.append((artifact, location))

    def _put(self, location: S3Location, artifact: str, body: bytes) -> None:
        encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._kms_key_id} if self._kms_key_id else {}
        )
        self._call(
            f'writing output artifact "{artifact}" ({location})',
            lambda: self._client.put_object(
                Bucket=location.bucket, Key=location.key, Body=body, ContentType="application/zip", **encryption
            ),
        )

    def _call(self, doing: str, call: Callable[[], _Result]) -> _Result:
        return call_classified(doing, call, self._budget, translate_s3_error)


_Result = TypeVar("_Result")
_Call = Callable[[Callable[[], _Result]], _Result]


class _RangedObjectReader(io.RawIOBase):
    """A seekable, read-only view of an S3 object that fetches only the byte ranges read.

    It holds each byte once, whatever S3 answers: of an answer it keeps only the bytes from the position asked for
    up to the next block it already has, and it refuses an artifact that takes more than MAX_GETS_PER_ARTIFACT GETs
    or MAX_RECEIVED_BYTES bytes received.
    """

    def __init__(self, client: S3Client, location: S3Location, call: _Call[tuple[int, bytes, int]]) -> None:
        super().__init__()
        self._client = client
        self._call = call
        self._location = location
        self._position = 0
        self._blocks: list[tuple[int, bytes]] = []
        self._gets = 0
        self._received = 0
        # The zip directory sits at the end: fetch the tail first, which is the whole of a small object.
        self.size = 0  # pragma: no mutate (set from the first answer before anything reads it)
        start, data, self.size = self._call(lambda: self._get(f"bytes=-{READ_BLOCK_BYTES}", READ_BLOCK_BYTES))
        self._blocks.append((start, data))

    def _get(self, byte_range: str, length: int) -> tuple[int, bytes, int]:
        """(first byte's offset, the bytes, object size) of one ranged GET."""
        if self._gets >= MAX_GETS_PER_ARTIFACT:
            raise ServiceUnavailableError(
                f"S3 answered the reads of {self._location} in slivers: {self._gets} ranged GETs did not give the few "
                f"pieces of a zip the function reads (at most {MAX_GETS_PER_ARTIFACT} GETs per artifact). Retry the "
                "action, and report it if it stays so."
            )
        self._gets += 1
        try:
            response = self._client.get_object(Bucket=self._location.bucket, Key=self._location.key, Range=byte_range)
        except Exception as exc:
            if error_code(exc) == "InvalidRange":  # an empty object has no byte to return
                return 0, b"", 0  # pragma: no mutate (with a size of 0, nothing of this block is ever read)
            raise
        with contextlib.closing(response["Body"]) as body:
            # never more than asked, whatever the server sends (no mutate: a larger cap or none is refused the
            # same way below; the cap only bounds memory)
            data = body.read(length + 1)  # pragma: no mutate
        self._received += len(data)
        if len(data) > length:
            raise ServiceUnavailableError(
                f"S3 sent more than the {length} bytes asked for ({byte_range}) reading {self._location}; retry the "
                "action."
            )
        if self._received > MAX_RECEIVED_BYTES:
            raise ServiceUnavailableError(
                f"S3 sent {self._received} bytes reading {self._location}, more than the {MAX_RECEIVED_BYTES // 1024} "
                "KB that reading an artifact zip takes: its answers overlap what it sent before. Retry the action, "
                "and report it if it stays so."
            )
        content_range = response.get("ContentRange")
        if not content_range:  # the whole object, as S3 answers a range that covers it
            return 0, data, len(data)
        parsed = _CONTENT_RANGE.fullmatch(content_range)
        if parsed is None:
            shown = server_text(content_range, 80)
            raise ServiceUnavailableError(
                f"S3 answered {byte_range} of {self._location} with Content-Range {shown!r}, which is not "
                "a byte range; retry the action."
            )
        return int(parsed["start"]), data, int(parsed["size"])

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self._position)
        if wanted <= 0:
            return 0
        start, data = self._block_at(self._position) or self._fetch(wanted)
        chunk = data[self._position - start : self._position - start + wanted]
        view[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def _fetch(self, wanted: int) -> tuple[int, bytes]:
        """A new block from the position on, up to the next block held: no byte is fetched or kept twice."""
        position = self._position
        next_held = min((start for start, _ in self._blocks if start > position), default=self.size)
        length = min(next_held - position, max(wanted, READ_BLOCK_BYTES))
        byte_range = f"bytes={position}-{position + length - 1}"
        start, data, _ = self._call(lambda: self._get(byte_range, length))
        if not start <= position < start + len(data):
            raise ServiceUnavailableError(
                f"S3 returned no bytes at offset {position} of {self._location}; retry the action."
            )
        # What the answer holds before the position is dropped: S3 answers the range asked, so that is nothing.
        block = (position, data[position - start : position - start + length])
        self._blocks.append(block)
        return block

    def _block_at(self, position: int) -> tuple[int, bytes] | None:
        return next(((start, data) for start, data in self._blocks if start <= position < start + len(data)), None)


def translate_s3_error(exc: BaseException, doing: str) -> ImageDefsError | None:
    """The job failure for an S3 or network error, or None when the error is not one of those."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = http_status(exc)
        shown = server_text(code, MAX_ERROR_CODE_CHARS)
        if code in _ACCESS_DENIED_CODES or code.startswith("KMS.") or status == 403:
            return ArtifactAccessDeniedError(
                f"Access denied {doing}: {shown}. The artifact credentials CodePipeline passed to the function "
                "could not do it: check that the pipeline's service role may use the artifact bucket and, for an "
                "encrypted pipeline, the KMS key (key policy and kms:Decrypt/kms:GenerateDataKey)."
            )
        if code in _MISSING_CODES or status == 404:
            return ArtifactContentError(
                f"Failed {doing}: the object does not exist ({shown}). The artifact may have expired or been deleted; "
                "rerun the pipeline from its source."
            )
        if status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable"}:
            return ServiceUnavailableError(
                f"S3 kept failing {doing} ({shown}, HTTP {status}) after retries. Retry the action."
            )
        return None
    if is_connection_failure(exc):
        return ServiceUnavailableError(
            f"Could not reach S3 {doing}: {type(exc).__name__} after retries. Retry the action."
        )
    if isinstance(exc, BotoCoreError):  # raised before sending: the request itself is wrong, and stays wrong
        return InvalidJobError(
            f"Could not send the request {doing}: {server_text(exc, 500)} ({type(exc).__name__}). The job's artifact "
            "location is not one S3 accepts; a retry cannot help: check the pipeline's artifact store."
        )
    return None


def _check_output_location(location: S3Location, doing: str) -> None:
    """What S3 or botocore would refuse in an upload, refused before any upload: botocore's own bucket name check
    and S3's key length.
    """
    from botocore.exceptions import ParamValidationError
    from botocore.handlers import validate_bucket_name

    try:
        validate_bucket_name({"Bucket": location.bucket})
    except ParamValidationError as exc:
        raise translate_s3_error(exc, doing) or exc from exc
    if len(location.key.encode("utf-8")) > MAX_S3_KEY_BYTES:
        raise InvalidJobError(
            f"Cannot upload {doing.removeprefix('writing ')}: its object key is longer than S3's "
            f"{MAX_S3_KEY_BYTES} bytes. The job's artifact location is not one S3 accepts; check the pipeline's "
            "artifact store."
        )


def _already_written(written: Sequence[tuple[str, S3Location]]) -> str:
    listed = ", ".join(f'"{artifact}" ({location})' for artifact, location in written)
    return (
        f"Already written before this failure: output artifact(s) {listed}. CodePipeline does not use the outputs of "
        "a failed action; rerunning the action overwrites them."
    )


def artifact_s3_client(credentials: ArtifactCredentials, budget: TimeBudget) -> S3Client:
    """An S3 client signed with the job's artifact credentials, bound to the job's budget (`budgeted_client`)."""
    client = budgeted_client(
        "s3",
        budget,
        signature_version="s3v4",
        # A ranged GET asks for at most what the zip reader may read; an error answer is bounded tighter.
        max_answer_bytes=MAX_BYTES_READ,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )
    return cast("S3Client", client)  # pragma: no mutate (cast does nothing at run time)
