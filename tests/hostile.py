"""Hostile artifact zips, built byte by byte where zipfile would refuse to write them."""

from __future__ import annotations

import io
import struct
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


def unicode_path_field(name: str, path: bytes, *, version: int = 1, crc_of: str | None = None) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075) for an entry named `name`, saying `path`; its CRC-32 is that
    of `crc_of` (default: the name, as readers check it).
    """
    data = struct.pack("<BL", version, zlib.crc32((name if crc_of is None else crc_of).encode())) + path
    return extra_field(0x7075, data)


def extra_field(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


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

    The zip64 record gives the true directory unless `entries` is set (a lie, which the classic record's counts
    then leave to the zip64 record); `signature` may be broken.
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
    end = data[at:]
    if entries is not None:  # as a zip of more than 65,535 entries writes it: the classic counts send to zip64's
        end = end[:8] + struct.pack("<2H", 0xFFFF, 0xFFFF) + end[12:]
    return data[:at] + record + locator + end


@dataclass(frozen=True)
class Entry:
    """One zip entry as `build_zip` writes it, byte by byte; the directory always holds its true values."""

    name: str
    content: bytes
    method: int = zipfile.ZIP_DEFLATED
    # Flag bit 3: the local header leaves CRC-32 and sizes at 0, a data descriptor after the data holds them.
    descriptor: bool = False
    descriptor_signature: bool = True
    # Sizes in zip64 extra fields (local and central), and 8-byte sizes in the data descriptor.
    zip64: bool = False
    # The data as stored, when it is not `content` compressed with `method` (a deflate stream with junk after it).
    data: bytes | None = None
    # Local header fields that differ from the directory's: name (bytes), flags, method, crc, compressed, size.
    local: Mapping[str, Any] = field(default_factory=dict)
    # Data descriptor fields that differ from the directory's: crc, compressed, size.
    described: Mapping[str, Any] = field(default_factory=dict)
    # False: a local entry that the central directory does not list.
    listed: bool = True
    # Extra fields after any zip64 one, in the local header and in the directory entry.
    local_extra: bytes = b""
    central_extra: bytes = b""

    @property
    def stored_data(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.method == zipfile.ZIP_STORED:
            return self.content
        deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return deflater.compress(self.content) + deflater.flush()

    @property
    def flags(self) -> int:
        utf8 = 0x800 if not self.name.isascii() else 0  # as writers mark a UTF-8 name
        return (0x08 if self.descriptor else 0) | utf8

    def true_values(self) -> dict[str, Any]:
        return {
            "name": self.name.encode(),
            "flags": self.flags,
            "method": self.method,
            "crc": zlib.crc32(self.content),
            "compressed": len(self.stored_data),
            "size": len(self.content),
        }

    def local_record(self) -> bytes:
        """Local header, name, extra field, data and data descriptor."""
        true = self.true_values()
        values = {**true, **({"crc": 0, "compressed": 0, "size": 0} if self.descriptor else {}), **self.local}
        extra = b""
        if self.zip64:
            extra = struct.pack("<HHQQ", 1, 16, values["size"], values["compressed"])
            values["size"] = values["compressed"] = 0xFFFF_FFFF
        extra += self.local_extra
        header = struct.pack(
            "<4s5H3L2H",
            LOCAL_HEADER,
            45 if self.zip64 else 20,
            values["flags"],
            values["method"],
            0,
            0x21,
            values["crc"],
            values["compressed"],
            values["size"],
            len(values["name"]),
            len(extra),
        )
        record: bytes = header + values["name"] + extra + self.stored_data
        if self.descriptor:
            described = {**true, **self.described}
            sizes = struct.pack("<QQ" if self.zip64 else "<LL", described["compressed"], described["size"])
            signature = b"PK\x07\x08" if self.descriptor_signature else b""
            record += signature + struct.pack("<L", described["crc"]) + sizes
        return record

    def local_header_size(self) -> int:
        """Bytes before the entry's data in its local record."""
        return 30 + len(self.local.get("name", self.name.encode())) + (20 if self.zip64 else 0) + len(self.local_extra)

    def central_record(self, offset: int) -> bytes:
        true = self.true_values()
        compressed, size, extra = true["compressed"], true["size"], b""
        if self.zip64:
            extra = struct.pack("<HHQQ", 1, 16, size, compressed)
            compressed = size = 0xFFFF_FFFF
        extra += self.central_extra
        header = struct.pack(
            "<4s6H3L5H2L",
            CENTRAL_HEADER,
            0x031E,
            45 if self.zip64 else 20,
            true["flags"],
            true["method"],
            0,
            0x21,
            true["crc"],
            compressed,
            size,
            len(true["name"]),
            len(extra),
            0,
            0,
            0,
            0o644 << 16,
            offset,
        )
        name: bytes = true["name"]
        return header + name + extra


def build_zip(
    parts: Sequence[Entry | bytes],
    *,
    directory: Sequence[tuple[Entry, int]] | None = None,
    offsets_from: int = 0,
    end_entries: int | None = None,
    zip64_end: bool = False,
    comment: bytes = b"",
    after: bytes = b"",
) -> bytes:
    """A zip written byte by byte: `parts` in order (an Entry as its local record, bytes as they are: a stub, a
    gap, another zip), then the central directory, the end records, the comment and `after`.

    The directory lists `directory` (entry, offset) if given, else each listed Entry of `parts` at its offset
    less `offsets_from` (the length of a stub that the offsets do not count, as when zips are concatenated).
    """
    body = b""
    listed: list[tuple[Entry, int]] = []
    for part in parts:
        if isinstance(part, Entry):
            if part.listed:
                listed.append((part, len(body) - offsets_from))
            body += part.local_record()
        else:
            body += part
    entries = listed if directory is None else directory
    central = b"".join(entry.central_record(offset) for entry, offset in entries)
    directory_offset = len(body) - offsets_from
    count = len(entries) if end_entries is None else end_entries
    end = b""
    if zip64_end:
        zip64_at = len(body) + len(central) - offsets_from
        end += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), directory_offset)
        end += struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1)
    end += struct.pack("<4s4H2LH", END_RECORD, 0, 0, count, count, len(central), directory_offset, len(comment))
    return body + central + end + comment + after
