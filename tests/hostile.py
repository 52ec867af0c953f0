"""Hostile artifact zips, built byte by byte where zipfile would refuse to write them."""

from __future__ import annotations

import io
import struct
import uuid
import warnings
import zipfile
import zlib
from typing import Any

from devtools.local_aws import LocalAws, load_event, zip_files
from tests.samples import with_user_parameters

LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"
END_RECORD = b"PK\x05\x06"


def zip_with_method(name: str, content: bytes, method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def with_declared_size(data: bytes, size: int) -> bytes:
    """The zip with every member's uncompressed size, in local and central headers, set to `size` (a lie)."""
    return _with_header_field(data, "<L", {LOCAL_HEADER: 22, CENTRAL_HEADER: 24}, size)


def with_declared_compressed_size(data: bytes, size: int) -> bytes:
    """The zip with every member's compressed size, in local and central headers, set to `size` (a lie)."""
    return _with_header_field(data, "<L", {LOCAL_HEADER: 18, CENTRAL_HEADER: 20}, size)


def with_method_number(data: bytes, method: int) -> bytes:
    """The zip with every member's compression method field set to `method` (deflate64, PPMd, ...)."""
    return _with_header_field(data, "<H", {LOCAL_HEADER: 8, CENTRAL_HEADER: 10}, method)


def _with_header_field(data: bytes, layout: str, offsets: dict[bytes, int], value: int) -> bytes:
    patched = bytearray(data)
    for signature, offset in offsets.items():
        at = patched.find(signature)
        while at >= 0:
            struct.pack_into(layout, patched, at + offset, value)
            at = patched.find(signature, at + 4)
    return bytes(patched)


def with_end_record(data: bytes, entries: int, directory_bytes: int) -> bytes:
    """The zip with its end record claiming `entries` entries and a directory of `directory_bytes` bytes."""
    patched = bytearray(data)
    at = patched.rfind(END_RECORD)
    struct.pack_into("<HHL", patched, at + 8, min(entries, 0xFFFF), min(entries, 0xFFFF), directory_bytes)
    return bytes(patched)


def with_version_needed(data: bytes, version: int) -> bytes:
    """The zip with its directory entries asking for zip format version `version` (64: 6.4) to extract."""
    return _with_header_field(data, "<H", {CENTRAL_HEADER: 6}, version)


def with_unicode_path(real_name: str, unicode_path: bytes, content: bytes) -> bytes:
    """A member named `real_name` whose Info-ZIP Unicode Path extra field (0x7075) says `unicode_path`."""
    field = b"\x01" + struct.pack("<L", zlib.crc32(real_name.encode())) + unicode_path
    info = zipfile.ZipInfo(real_name)
    info.extra = struct.pack("<HH", 0x7075, len(field)) + field
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, content)
    return buffer.getvalue()


def many_entries(count: int, name_length: int = 8) -> bytes:
    return zip_files({f"{index:0{name_length}d}": b"" for index in range(count)})


def renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    """The zip with a member name replaced in its headers (same length: a NUL inside, say)."""
    assert len(old) == len(new)
    return data.replace(old, new)


def duplicate_members(name: str, first: bytes, second: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile only warns of a duplicate name, which is the point here
        archive.writestr(name, first)
        archive.writestr(zipfile.ZipInfo(name), second)
    return buffer.getvalue()


def job_reading(aws: LocalAws, body: bytes, user_parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fresh single-source job (new id, new object key) whose input artifact is `body`."""
    event = with_user_parameters(load_event("single-ecr-source.json"), user_parameters)
    job = event["CodePipeline.job"]
    job["id"] = str(uuid.uuid4())
    aws.seed(event, artifacts={})
    location = job["data"]["inputArtifacts"][0]["location"]["s3Location"]
    location["objectKey"] = f"hostile/{uuid.uuid4()}"
    aws.put(location["bucketName"], location["objectKey"], body)
    return event


def with_zip64_end_record(data: bytes, entries: int | None = None, signature: bytes = b"PK\x06\x06") -> bytes:
    """The zip with a zip64 end record and locator before its end record, as large zips have them.

    The zip64 record gives the true directory unless `entries` is set (a lie); `signature` may be broken.
    """
    at = data.rfind(END_RECORD)
    _, _, _, _, count, directory_bytes, directory_offset, _ = struct.unpack_from("<4s4H2LH", data, at)
    record = struct.pack(
        "<4sQ2H2L4Q",
        signature,
        44,
        45,
        45,
        0,
        0,
        count,
        count if entries is None else entries,
        directory_bytes,
        directory_offset,
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    return data[:at] + record + locator + data[at:]
