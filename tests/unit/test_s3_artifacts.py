"""Reading one file out of an artifact zip in S3 without downloading the whole object; writing the output zip."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from devtools.local_aws import zip_files
from imagedefs.aws.s3_artifacts import ArtifactStore, _RangedObjectReader, artifact_s3_client, translate_s3_error
from imagedefs.budget import TimeBudget
from imagedefs.errors import (
    ArtifactAccessDeniedError,
    ArtifactContentError,
    InvalidJobError,
    ServiceUnavailableError,
)
from imagedefs.formats.zip import _BoundedReader, zip_output_files
from imagedefs.job import ArtifactCredentials, S3Location
from imagedefs.model import ImageDetail, MergedDefinitions, OutputArtifact, OutputFile
from tests.hostile import (
    Entry,
    build_zip,
    duplicate_members,
    renamed,
    with_end_record,
    with_zip64_end_record,
    zip_with_method,
)
from tests.samples import image_detail

LOCATION = S3Location("bucket", "pipeline/Source/abc")


class InMemoryS3:
    """Serves one object with S3's ranged GET semantics, counting the bytes it sends."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.bytes_served = 0
        self.puts: list[dict[str, Any]] = []

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        size = len(self.body)
        if size == 0:  # S3 has no byte to return: 416 InvalidRange
            raise ClientError({"Error": {"Code": "InvalidRange"}}, "GetObject")
        spec = Range.removeprefix("bytes=")
        if spec.startswith("-"):
            start, end = max(0, size - int(spec[1:])), size - 1
        else:
            first, last = spec.split("-")
            start, end = int(first), min(int(last), size - 1)
        data = self.body[start : end + 1]
        self.bytes_served += len(data)
        return {"Body": io.BytesIO(data), "ContentRange": f"bytes {start}-{end}/{size}"}

    def put_object(self, **request: Any) -> dict[str, Any]:
        self.puts.append(request)
        return {}


def read(body: bytes) -> tuple[Any, InMemoryS3]:
    s3 = InMemoryS3(body)
    return ArtifactStore(s3).read_source("SourceArtifact", LOCATION), s3  # type: ignore[arg-type]


def test_a_small_artifact_is_read_in_one_request() -> None:
    body = zip_files({"imageDetail.json": image_detail()})
    source, s3 = read(body)
    assert isinstance(source, ImageDetail)
    assert s3.bytes_served == len(body)


def test_a_large_artifact_costs_only_its_directory_and_one_member() -> None:
    # Given a 30 MB artifact with imageDetail.json next to incompressible bulk
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bundle.bin", os.urandom(30 * 1024 * 1024))
        archive.writestr("imageDetail.json", json.dumps(image_detail()))
    # When it is read
    source, s3 = read(buffer.getvalue())
    # Then the file is found and at most 256 KiB were fetched
    assert isinstance(source, ImageDetail)
    assert s3.bytes_served <= 256 * 1024


def test_imagedefinitions_json_is_read_when_there_is_no_imagedetail_json() -> None:
    source, _ = read(zip_files({"imagedefinitions.json": [{"name": "web", "imageUri": "ghcr.io/a/web:1"}]}))
    assert isinstance(source, MergedDefinitions)
    assert source.artifact == "SourceArtifact"
    assert [(entry.name, entry.image_uri) for entry in source.definitions] == [("web", "ghcr.io/a/web:1")]


def test_a_zip_without_the_file_lists_what_it_holds() -> None:
    names = {f"src/file{i}.py": "x" for i in range(25)}
    with pytest.raises(ArtifactContentError, match=r'it holds: "src/file0.py", .*"src/file19.py" and 5 more\.'):
        read(zip_files(names))


@pytest.mark.parametrize(
    ("names", "listed"),
    [
        (
            [f"f{i:02}" for i in range(20)],
            'it holds: "f00", "f01", "f02", ' + ", ".join(f'"f{i:02}"' for i in range(3, 20)) + ".",
        ),
        ([], "it holds: no files."),
    ],
)
def test_a_zip_of_up_to_20_files_lists_them_all_and_says_what_to_use(names: list[str], listed: str) -> None:
    # Given a zip of 20 other files, or an empty zip (its end record alone, at byte 0)
    with pytest.raises(ArtifactContentError) as raised:
        read(zip_files(dict.fromkeys(names, "x")))
    message = str(raised.value)
    # Then each is listed, with nothing "more", and the message says which artifact belongs there
    assert message.startswith('Artifact "SourceArtifact" has no imageDetail.json (nor imagedefinitions.json) at the')
    assert listed in message
    assert "Use the output artifact of an ECR source action (or of a build that writes one" in message
    assert message.endswith("as this input.")


def test_ambiguous_zips_are_refused_saying_why() -> None:
    content = json.dumps(image_detail()).encode()
    with pytest.raises(ArtifactContentError) as twice:
        read(duplicate_members("imageDetail.json", content, content))
    assert 'holds "imageDetail.json" 2 times' in str(twice.value)
    assert str(twice.value).endswith("Zip one copy.")
    nul = renamed(zip_files({"imageDetail.jsonX": content}), b"imageDetail.jsonX", b"imageDetail.json\0")
    with pytest.raises(ArtifactContentError) as cut:
        read(nul)
    assert "holds a file name with a NUL character" in str(cut.value)
    assert str(cut.value).endswith("which zip readers read differently; the zip is refused.")


def test_s3_bytes_that_do_not_cover_the_offset_asked_are_a_system_failure() -> None:
    class ShiftedS3(InMemoryS3):
        """Answers a mid-object range with the bytes of another one."""

        def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
            if Range.startswith("bytes=-"):
                return super().get_object(Bucket, Key, Range)
            return super().get_object(Bucket, Key, "bytes=-10")

    reader = _RangedObjectReader(ShiftedS3(b"x" * 200_000), LOCATION, lambda call: call())  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailableError, match=r"^S3 returned no bytes at offset 0 of s3://bucket/.*; retry"):
        reader.read(10)


@pytest.mark.parametrize("body", [b"", b"plain text", b"PK\x03\x04 truncated"])
def test_something_that_is_not_a_zip_says_so(body: bytes) -> None:
    with pytest.raises(ArtifactContentError) as raised:
        read(body)
    assert f'Artifact "SourceArtifact" ({LOCATION}, {len(body)} bytes) is not a zip file' in str(raised.value)
    assert "this function reads. Use the output artifact of an ECR source action" in str(raised.value)
    assert "Use the output artifact of an ECR source action" in str(raised.value)


def test_a_member_whose_header_lies_about_its_size_is_not_inflated() -> None:
    # A zip bomb: the header claims 10 bytes, the data inflates to 50 MB.
    honest = io.BytesIO()
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imageDetail.json", b" " * (50 * 1024 * 1024))
    body = bytearray(honest.getvalue())
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = body.find(signature)
        body[at + size_offset : at + size_offset + 4] = (10).to_bytes(4, "little")
    # Reading stops at the declared size, so the check of the data fails instead of memory filling up.
    with pytest.raises(ArtifactContentError, match=r"imageDetail\.json: cannot be read from the zip \(Bad CRC-32"):
        read(bytes(body))


def test_too_many_entries_are_refused() -> None:
    with pytest.raises(
        ArtifactContentError, match=r"has a zip directory of 10001 entries and .* at most 10000 entries"
    ):
        read(zip_files({f"f{i}": "" for i in range(10_001)}))


def test_an_end_record_claiming_10000_entries_passes_the_bound_but_not_the_count_of_the_directory() -> None:
    # Given a one-file zip whose end record claims 10,000 entries (the most read), its directory size true
    body = zip_files({"imageDetail.json": image_detail()})
    directory_bytes = int.from_bytes(body[body.rfind(b"PK\x05\x06") + 12 :][:4], "little")
    # Then it passes the bound on entries, and is refused as readers that trust the count read other files
    with pytest.raises(ArtifactContentError) as raised:
        read(with_end_record(body, entries=10_000, directory_bytes=directory_bytes))
    assert "has an end record that counts 10000 entries before a directory of 1." in str(raised.value)


def test_a_zip_whose_directory_cannot_be_read_is_refused_naming_where_it_is() -> None:
    # Given a zip whose end record points at a directory that is not there
    body = with_end_record(zip_files({"imageDetail.json": image_detail()}), entries=1, directory_bytes=30)
    with pytest.raises(ArtifactContentError) as raised:
        read(body)
    # Then the artifact, its S3 location and size are named, and what to use instead
    assert str(raised.value).startswith(
        f'Artifact "SourceArtifact" ({LOCATION}, {len(body)} bytes) is not a zip file this function reads. Use '
    )


def test_output_zips_are_byte_identical_across_runs_and_encrypted_when_asked() -> None:
    files = (OutputFile("taskdef.json", b"{}"), OutputFile("appspec.yaml", b"version: 0.0\n"))
    assert zip_output_files(files) == zip_output_files(files)
    s3 = InMemoryS3(b"")
    output = OutputArtifact("Out", (OutputFile("imagedefinitions.json", b"[]\n"),), ("web",))
    ArtifactStore(s3, kms_key_id="arn:aws:kms:us-west-2:123456789012:key/k").write_outputs([(LOCATION, output)])  # type: ignore[arg-type]
    put = s3.puts[0]
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", "arn:aws:kms:us-west-2:123456789012:key/k")
    assert (put["Bucket"], put["Key"], put["ContentType"]) == ("bucket", "pipeline/Source/abc", "application/zip")
    with zipfile.ZipFile(io.BytesIO(put["Body"])) as archive:
        assert archive.read("imagedefinitions.json") == b"[]\n"
        # One deflated file, readable by everyone, dated as zip's epoch whenever the job runs
        (info,) = archive.infolist()
        assert (info.compress_type, info.external_attr >> 16, info.date_time) == (
            zipfile.ZIP_DEFLATED,
            0o644,
            (1980, 1, 1, 0, 0, 0),
        )


@pytest.mark.parametrize("content_range", ["bytes */123", "bytes 0-5", "bytes x-y/9", "garbage", "bytes -1-2/3"])
def test_a_content_range_that_is_no_byte_range_is_a_system_failure(content_range: str) -> None:
    class OddS3(InMemoryS3):
        def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
            return {**super().get_object(Bucket, Key, Range), "ContentRange": content_range}

    with pytest.raises(ServiceUnavailableError, match="which is not a byte range"):
        ArtifactStore(OddS3(zip_files({"imageDetail.json": image_detail()}))).read_source("Src", LOCATION)  # type: ignore[arg-type]


def test_an_s3_client_refuses_to_sign_a_request_once_the_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    # A call abandoned at the deadline must not retry: nothing is signed (and logged), nothing sent (no socket here)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    client = artifact_s3_client(ArtifactCredentials("AKID", "secret", "token"), TimeBudget.from_remaining_millis(0))
    with pytest.raises(ServiceUnavailableError, match="ran out of time before sending a request to S3"):
        client.get_object(Bucket="bucket", Key="key")


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("code", "status", "failure", "said"),
    [
        ("Forbidden", 403, ArtifactAccessDeniedError, "Access denied reading it: Forbidden. The artifact credentials"),
        ("AccessDenied", 400, ArtifactAccessDeniedError, "for an encrypted pipeline, the KMS key (key policy and kms:"),
        ("KMS.SomethingNew", 400, ArtifactAccessDeniedError, "Access denied reading it: KMS.SomethingNew"),
        ("ExpiredToken", 400, ArtifactAccessDeniedError, "Access denied reading it: ExpiredToken"),
        ("NotThere", 404, ArtifactContentError, "Failed reading it: the object does not exist (NotThere)"),
        ("NoSuchBucket", 400, ArtifactContentError, "rerun the pipeline from its source."),
        ("NoSuchKey", 400, ArtifactContentError, "the object does not exist (NoSuchKey)"),
        ("InternalError", 500, ServiceUnavailableError, "S3 kept failing reading it (InternalError, HTTP 500)"),
        ("Odd", 503, ServiceUnavailableError, "(Odd, HTTP 503) after retries"),
        *[
            (code, 400, ServiceUnavailableError, f"({code}, HTTP 400) after retries. Retry the action")
            for code in ("SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable")
        ],
    ],
)
def test_s3_errors_are_judged_by_their_code_or_else_their_http_status(
    code: str, status: int, failure: type[Exception], said: str
) -> None:
    # Given an S3 error, some with a code this function does not know
    # When it is translated; Then the failure type follows the code, or else the HTTP status
    translated = translate_s3_error(client_error(code, status), "reading it")
    assert type(translated) is failure
    assert said in str(translated)
    if said.endswith("."):  # the advice that closes the message
        assert str(translated).endswith(said)


@pytest.mark.parametrize(("code", "status"), [("BadDigest", 400), ("InvalidArgument", 499), ("Moved", 301)])
def test_an_s3_error_of_no_known_kind_is_left_to_the_unexpected_error_path(code: str, status: int) -> None:
    assert translate_s3_error(client_error(code, status), "reading it") is None
    assert translate_s3_error(ValueError("not S3"), "reading it") is None


def test_an_s3_error_without_response_metadata_is_judged_by_its_code() -> None:
    # Given errors as botocore builds them from a body without HTTP metadata
    def bare(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code}}, "GetObject")

    # Then the code decides, and an unknown code is no S3 failure of a known kind
    assert isinstance(translate_s3_error(bare("AccessDenied"), "reading it"), ArtifactAccessDeniedError)
    assert isinstance(translate_s3_error(bare("NoSuchKey"), "reading it"), ArtifactContentError)
    assert translate_s3_error(bare("BadDigest"), "reading it") is None


def test_network_failures_are_system_unavailable_and_bad_requests_are_job_failures() -> None:
    unreachable = translate_s3_error(EndpointConnectionError(endpoint_url="https://s3.example"), "reading it")
    assert isinstance(unreachable, ServiceUnavailableError)
    assert "Could not reach S3 reading it: EndpointConnectionError" in str(unreachable)
    unsendable = translate_s3_error(ParamValidationError(report="Invalid bucket name\n  twice"), "reading it")
    assert isinstance(unsendable, InvalidJobError)
    assert "Could not send the request reading it: Parameter validation failed: Invalid bucket name twice" in str(
        unsendable
    )
    assert "(ParamValidationError). The job's artifact location is not one S3 accepts" in str(unsendable)
    assert "check the pipeline's artifact store" in str(unsendable)


def test_a_request_that_cannot_be_sent_is_quoted_in_its_first_500_characters() -> None:
    unsendable = translate_s3_error(ParamValidationError(report="x" * 600), "reading it")
    assert f"Parameter validation failed: {'x' * 471} (ParamValidationError)" in str(unsendable)


class RefusingS3(InMemoryS3):
    """Answers every request with one error."""

    def __init__(self, error: Exception) -> None:
        super().__init__(b"")
        self.error = error

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        raise self.error

    def put_object(self, **request: Any) -> dict[str, Any]:
        raise self.error


def test_s3_failures_name_the_artifact_being_read_or_written() -> None:
    # Given S3 that denies everything
    store = ArtifactStore(RefusingS3(client_error("AccessDenied", 403)))  # type: ignore[arg-type]
    output = OutputArtifact("Out", (OutputFile("imagedefinitions.json", b"[]\n"),), ("web",))
    # Then reading and writing fail as access denied, naming the artifact and its S3 location
    with pytest.raises(ArtifactAccessDeniedError, match=r'^Access denied reading input artifact "Src" \(s3://bucket/'):
        store.read_source("Src", LOCATION)
    with pytest.raises(ArtifactAccessDeniedError, match=r'^Access denied writing output artifact "Out" \(s3://bucket/'):
        store.write_outputs([(LOCATION, output)])


def test_errors_that_are_no_s3_failure_pass_through_unchanged() -> None:
    # A job failure raised inside keeps its type and message; an unknown error stays unknown (reported as such)
    content_error = ArtifactContentError("bad content")
    with pytest.raises(ArtifactContentError, match=r"^bad content$"):
        ArtifactStore(RefusingS3(content_error)).read_source("Src", LOCATION)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        ArtifactStore(RefusingS3(KeyError("Body"))).read_source("Src", LOCATION)  # type: ignore[arg-type]


def test_the_readers_are_seekable_raw_files_whose_limit_holds_through_readinto_too() -> None:
    # Given an S3 object read through the bounded reader, as buffered I/O would use it (readinto)
    body = zip_files({"imageDetail.json": image_detail()})
    ranged = _RangedObjectReader(InMemoryS3(body), LOCATION, lambda call: call())  # type: ignore[arg-type]
    bounded = _BoundedReader(ranged, 100, 'Artifact "Src"')
    assert ranged.readable() and ranged.seekable() and bounded.readable() and bounded.seekable()
    buffer = bytearray(60)
    # Then it reads what is there, and refuses to pass its limit
    assert bounded.readinto(buffer) == 60
    assert bytes(buffer) == body[:60]
    with pytest.raises(ArtifactContentError, match=r'^Artifact "Src": reading it would take more than'):
        bounded.readinto(bytearray(41))


def image_detail_of_size(size: int) -> bytes:
    """The sample imageDetail.json, padded with spaces to exactly `size` bytes."""
    text = json.dumps(image_detail()).encode()
    return text[:-1] + b" " * (size - len(text)) + b"}"


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_member_of_exactly_100_kb_is_read_whole(method: int) -> None:
    # Given an imageDetail.json of exactly 100 KB, stored or deflated
    body = zip_with_method("imageDetail.json", image_detail_of_size(102_400), method)
    # Then it is read and parsed whole
    source, _ = read(body)
    assert isinstance(source, ImageDetail)
    assert source.tags == ("latest",)


def deflated_in_stored_blocks(content: bytes, compressed_size: int) -> bytes:
    """Deflate data of `content` in stored blocks, padded with empty ones to `compressed_size` bytes."""
    blocks = [content[at : at + 0xFFFF] for at in range(0, len(content), 0xFFFF)]
    padding, odd = divmod(compressed_size - len(content) - 5 * len(blocks), 5)
    assert odd == 0
    data = b"\x00\x00\x00\xff\xff" * padding
    for index, block in enumerate(blocks):
        final = index == len(blocks) - 1
        data += bytes([final]) + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
    return data


def test_a_compressed_size_may_be_at_most_1_kb_over_100_kb() -> None:
    # Given a deflated 100 KB member of 103,424 compressed bytes (what deflate may need), or one more
    content = image_detail_of_size(102_399)
    body = build_zip([Entry("imageDetail.json", content, data=deflated_in_stored_blocks(content, 103_424))])
    assert isinstance(read(body)[0], ImageDetail)
    larger_content = image_detail_of_size(102_400)
    larger = deflated_in_stored_blocks(larger_content, 103_425)
    with pytest.raises(ArtifactContentError) as raised:
        read(build_zip([Entry("imageDetail.json", larger_content, data=larger)]))
    # Then the larger one is refused before it is read, naming the file and the size
    assert str(raised.value).startswith('Artifact "SourceArtifact", file imageDetail.json: its compressed size (103425')
    assert "larger than any file of at most 100 KB needs" in str(raised.value)


def test_a_file_over_100_kb_is_refused_naming_it() -> None:
    with pytest.raises(ArtifactContentError) as raised:
        read(zip_with_method("imageDetail.json", image_detail_of_size(102_401), zipfile.ZIP_DEFLATED))
    assert str(raised.value).startswith('Artifact "SourceArtifact", file imageDetail.json: the file is larger than 100')


def test_a_member_compressed_with_another_method_says_how_to_zip_it() -> None:
    with pytest.raises(ArtifactContentError) as raised:
        read(zip_with_method("imageDetail.json", json.dumps(image_detail()).encode(), zipfile.ZIP_BZIP2))
    message = str(raised.value)
    assert message.startswith('Artifact "SourceArtifact", file imageDetail.json: compressed with zip method 12;')
    assert "only stored and deflate members are read" in message
    assert "Zip the file with deflate" in message


def test_reading_at_the_end_of_an_object_returns_nothing_and_asks_s3_for_nothing() -> None:
    s3 = InMemoryS3(b"x" * 10)
    reader = _RangedObjectReader(s3, LOCATION, lambda call: call())  # type: ignore[arg-type]
    served = s3.bytes_served
    reader.seek(0, io.SEEK_END)
    assert reader.read(5) == b""
    assert s3.bytes_served == served


class RangeRecordingS3(InMemoryS3):
    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.ranges: list[str] = []

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.ranges.append(Range)
        return super().get_object(Bucket, Key, Range)


def test_a_member_far_from_the_end_is_fetched_in_exact_blocks() -> None:
    # Given a 2 MB artifact whose imageDetail.json (100 KB, stored) comes first, before incompressible bulk
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imageDetail.json", image_detail_of_size(102_400))
        archive.writestr("bundle.bin", os.urandom(2 * 1024 * 1024))
    s3 = RangeRecordingS3(buffer.getvalue())
    # When it is read
    source = ArtifactStore(s3).read_source("Src", LOCATION)  # type: ignore[arg-type]
    # Then the tail comes first, then the rest of where zipfile looks for the end record (22 bytes and the
    # longest comment) up to the tail already held, then the member in 64 KB blocks from its start, each range exact
    # and no byte asked for twice
    assert isinstance(source, ImageDetail)
    size = len(s3.body)
    # (the next entry's local header is read first, to check the zip's layout as a streaming reader reads it)
    next_header = 30 + len("imageDetail.json") + 102_400
    assert s3.ranges == [
        "bytes=-65536",
        f"bytes={size - 65557}-{size - 65537}",
        "bytes=0-65535",
        f"bytes={next_header}-{next_header + 65535}",
        f"bytes=65536-{next_header - 1}",
    ]


def test_a_build_artifact_of_many_large_files_is_read_within_the_gets_an_artifact_may_take() -> None:
    # Given a build's output artifact: imagedefinitions.json beside 24 files of 80 KB, each local header in its own
    # S3 block
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imagedefinitions.json", json.dumps([{"name": "web", "imageUri": "nginx:1.27"}]))
        for index in range(24):
            archive.writestr(f"dist/part-{index}.bin", os.urandom(80 * 1024))
    s3 = RangeRecordingS3(buffer.getvalue())
    # When it is read
    source = ArtifactStore(s3).read_source("Src", LOCATION)  # type: ignore[arg-type]
    # Then the zip's layout check reads every local header, and the reader allows it the GETs that takes
    assert isinstance(source, MergedDefinitions)
    assert [definition.name for definition in source.definitions] == ["web"]
    assert len(s3.ranges) > 24


def test_the_last_byte_of_an_object_can_be_read_alone() -> None:
    reader = _RangedObjectReader(InMemoryS3(b"0123456789"), LOCATION, lambda call: call())  # type: ignore[arg-type]
    reader.seek(-1, io.SEEK_END)
    assert reader.read(1) == b"9"
    assert reader.read(1) == b""


def test_a_zip64_end_record_is_read_and_judged_like_the_plain_one() -> None:
    # Given a small zip with a zip64 end record, as a large zip has one
    body = zip_files({"imageDetail.json": image_detail()})
    # Then it is read
    assert isinstance(read(with_zip64_end_record(body))[0], ImageDetail)
    # And the zip64 record's entry count is the one judged
    with pytest.raises(ArtifactContentError, match=r"has a zip directory of 20000 entries and \d+ bytes"):
        read(with_zip64_end_record(body, entries=20_000))
    # And a zip64 record that is not there is no zip this function reads
    broken = with_zip64_end_record(body, signature=b"PK\x06\x08")
    with pytest.raises(ArtifactContentError) as raised:
        read(broken)
    assert str(raised.value).startswith(f'Artifact "SourceArtifact" ({LOCATION}, {len(broken)} bytes) is not a zip')


def test_a_bounded_reader_reads_up_to_its_limit_exactly_and_refuses_a_byte_more() -> None:
    reader = _BoundedReader(io.BytesIO(b"x" * 5000), 2048, 'Artifact "Src"')
    assert reader.read(2048) == b"x" * 2048
    with pytest.raises(ArtifactContentError) as raised:
        reader.read(1)
    assert str(raised.value).startswith('Artifact "Src": reading it would take more than 2 KB')
    assert "an artifact that holds an imageDetail.json needs a few KB" in str(raised.value)


def test_the_artifact_client_signs_with_the_jobs_credentials_within_the_budgets_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a job with 60 s of work left
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    budget = TimeBudget(seconds=60.0, reserve=10.0, started=0.0, clock=lambda: 0.0)
    # When its S3 client is made
    client = artifact_s3_client(ArtifactCredentials("AKIDJOB", "job-secret", "job-token"), budget)
    # Then it signs (SigV4) with the job's artifact credentials, and its timeouts and attempts are the budget's
    config: Any = client.meta.config
    limits = budget.limits()
    assert config.signature_version == "s3v4"
    assert (config.connect_timeout, config.read_timeout) == (limits.connect_timeout, limits.read_timeout)
    assert config.retries == {"mode": "standard", "total_max_attempts": limits.total_max_attempts}
    credentials = client._request_signer._credentials  # type: ignore[attr-defined]
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("AKIDJOB", "job-secret", "job-token")


def test_no_s3_call_starts_once_the_stores_budget_is_spent() -> None:
    s3 = InMemoryS3(zip_files({"imageDetail.json": image_detail()}))
    spent = TimeBudget(seconds=0.0, reserve=1.0, started=0.0, clock=lambda: 0.0)
    with pytest.raises(ServiceUnavailableError, match=r'ran out of time before reading input artifact "Src" \(s3://'):
        ArtifactStore(s3, budget=spent).read_source("Src", LOCATION)  # type: ignore[arg-type]
    assert s3.bytes_served == 0


class AnsweringS3(InMemoryS3):
    """Answers every ranged GET with `body` and `content_range` as given, whatever was asked."""

    def __init__(self, body: bytes, content_range: str | None) -> None:
        super().__init__(body)
        self.content_range = content_range

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        answer: dict[str, Any] = {"Body": io.BytesIO(self.body)}
        if self.content_range is not None:
            answer["ContentRange"] = self.content_range
        return answer


def test_an_answer_without_content_range_is_the_whole_object_from_its_start() -> None:
    s3: Any = AnsweringS3(zip_files({"imageDetail.json": image_detail()}), None)
    assert isinstance(ArtifactStore(s3).read_source("Src", LOCATION), ImageDetail)


def test_an_answer_longer_than_asked_is_a_system_failure() -> None:
    with pytest.raises(ServiceUnavailableError) as raised:
        ArtifactStore(AnsweringS3(b"x" * 70_000, None)).read_source("Src", LOCATION)  # type: ignore[arg-type]
    assert str(raised.value).startswith("S3 sent more than the 65536 bytes asked for (bytes=-65536) reading s3://")
    assert str(raised.value).endswith("; retry the action.")


def test_a_content_range_that_is_no_byte_range_is_quoted_in_its_first_80_characters() -> None:
    odd = "z" * 200
    with pytest.raises(ServiceUnavailableError) as raised:
        ArtifactStore(AnsweringS3(b"x" * 10, odd)).read_source("Src", LOCATION)  # type: ignore[arg-type]
    assert f"with Content-Range {'z' * 80!r}, which is not a byte range" in str(raised.value)


def test_a_bounded_reader_returns_what_is_there_and_reads_across_s3_blocks() -> None:
    # Given a short file, and a 200 KB S3 object read through 64 KB blocks
    assert _BoundedReader(io.BytesIO(b"x" * 10), 2048, "A").read(100) == b"x" * 10
    assert _BoundedReader(io.BytesIO(b"x" * 10), 2048, "A").read(0) == b""
    body = bytes(range(256)) * 800
    ranged = _RangedObjectReader(InMemoryS3(body), LOCATION, lambda call: call())  # type: ignore[arg-type]
    bounded = _BoundedReader(ranged, 1024 * 1024, "A")
    assert bounded.read(10) == body[:10]
    # When a read starts 9 bytes before the end of the block fetched, then 1 byte from the next
    bounded.seek(65536 - 9)
    # Then both parts come back
    assert bounded.read(10) == body[65536 - 9 : 65536 + 1]


def test_zip64_records_at_the_edges_of_the_object() -> None:
    # An empty zip with a zip64 end record: the zip64 record starts at byte 0
    with pytest.raises(ArtifactContentError, match="it holds: no files"):
        read(with_zip64_end_record(zip_files({})))
    # A locator with no room before it for the zip64 record it points to
    body = b"PK\x06\x07" + bytes(16) + zip_files({})
    with pytest.raises(ArtifactContentError) as raised:
        read(body)
    assert str(raised.value).startswith(f'Artifact "SourceArtifact" ({LOCATION}, {len(body)} bytes) is not a zip file')


def test_a_zip64_directory_is_judged_by_its_size_not_its_offset() -> None:
    # Given a zip64 zip whose directory starts after 1.2 MB of other data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bulk.bin", os.urandom(1_200_000))
        archive.writestr("imageDetail.json", json.dumps(image_detail()))
    # Then it is read: its directory is small
    assert isinstance(read(with_zip64_end_record(buffer.getvalue()))[0], ImageDetail)


def test_an_end_record_signature_in_the_last_bytes_is_refused_as_no_zip_not_an_unexpected_error() -> None:
    # Given a zip whose comment ends in an end record's signature, with no room for a record after it
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imageDetail.json", json.dumps(image_detail()))
        archive.comment = b"build 7 PK\x05\x06"
    # Then it is refused as zipfile refuses it, with the function's message
    with pytest.raises(ArtifactContentError, match="is not a zip file this function reads"):
        read(buffer.getvalue())


class OverlappingS3(InMemoryS3):
    """Answers each range with as many bytes as asked, but starting `lead` bytes before the start asked for."""

    def __init__(self, body: bytes, lead: int | None = None) -> None:
        super().__init__(body)
        self.lead = lead
        self.gets = 0

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.gets += 1
        if Range.startswith("bytes=-"):
            return super().get_object(Bucket, Key, Range)
        first, last = (int(end) for end in Range.removeprefix("bytes=").split("-"))
        lead = min(first, last - first if self.lead is None else self.lead)  # None: all but one byte is old
        return super().get_object(Bucket, Key, f"bytes={first - lead}-{last - lead}")


def test_answers_that_overlap_what_was_asked_are_read_and_each_byte_is_kept_once() -> None:
    # Given an S3 whose every answer starts 1,000 bytes before the range asked (the bytes asked for included)
    body = bytes(range(256)) * 2000
    reader = _RangedObjectReader(OverlappingS3(body, lead=1000), LOCATION, lambda call: call())  # type: ignore[arg-type]
    # When 300 KB are read from the start
    data = _BoundedReader(reader, 1024 * 1024, "A").read(300_000)
    # Then they are the object's bytes, and the reader holds no byte twice
    assert data == body[:300_000]
    assert sum(len(block) for _, block in reader._blocks) <= len(body)


def test_an_s3_that_answers_in_slivers_is_refused_after_48_gets() -> None:
    # Given an S3 whose every answer overlaps the bytes sent before, all but one new byte
    s3 = OverlappingS3(bytes(range(256)) * 2000)
    reader = _RangedObjectReader(s3, LOCATION, lambda call: call())  # type: ignore[arg-type]
    reader.seek(100_000)
    # When a member far from the tail is read
    with pytest.raises(ServiceUnavailableError) as raised:
        _BoundedReader(reader, 1024 * 1024, "A").read(1000)
    # Then the 49th GET is never sent, and the message says why
    assert s3.gets == 48
    assert str(raised.value) == (
        "S3 answered the reads of s3://bucket/pipeline/Source/abc in slivers: 48 ranged GETs did not give the few "
        "pieces of a zip the function reads (at most 48 GETs per artifact). Retry the action, and report it if it "
        "stays so."
    )


def test_an_s3_whose_large_answers_overlap_is_refused_past_5_mb_received() -> None:
    # Given an S3 whose every answer is as long as asked but overlaps the bytes before, all but one new byte
    s3 = OverlappingS3(os.urandom(4 * 1024 * 1024))
    reader = _RangedObjectReader(s3, LOCATION, lambda call: call())  # type: ignore[arg-type]
    reader.seek(1024 * 1024)
    # When 1 MB is read from the middle (a zip directory, say)
    with pytest.raises(ServiceUnavailableError) as raised:
        _BoundedReader(reader, 2 * 1024 * 1024, "A").read(1024 * 1024)
    # Then reading stops at the first answer past 5 MB received in all, well before 48 GETs
    assert s3.gets == 6
    assert str(raised.value).startswith("S3 sent 5308406 bytes reading s3://bucket/pipeline/Source/abc, more than ")
    assert str(raised.value).endswith(
        "the 5120 KB that reading an artifact zip takes: its answers overlap what it sent before. Retry the action, "
        "and report it if it stays so."
    )
