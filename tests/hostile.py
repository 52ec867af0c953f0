"""Hostile artifact zips, built byte by byte where zipfile would refuse to write them."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile

from devtools.local_aws import zip_files

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
    patched = bytearray(data)
    for signature, offset in ((LOCAL_HEADER, 22), (CENTRAL_HEADER, 24)):
        at = patched.find(signature)
        while at >= 0:
            struct.pack_into("<L", patched, at + offset, size)
            at = patched.find(signature, at + 4)
    return bytes(patched)


def with_method_number(data: bytes, method: int) -> bytes:
    """The zip with every member's compression method field set to `method` (deflate64, PPMd, ...)."""
    patched = bytearray(data)
    for signature, offset in ((LOCAL_HEADER, 8), (CENTRAL_HEADER, 10)):
        at = patched.find(signature)
        while at >= 0:
            struct.pack_into("<H", patched, at + offset, method)
            at = patched.find(signature, at + 4)
    return bytes(patched)


def with_end_record(data: bytes, entries: int, directory_bytes: int) -> bytes:
    """The zip with its end record claiming `entries` entries and a directory of `directory_bytes` bytes."""
    patched = bytearray(data)
    at = patched.rfind(END_RECORD)
    struct.pack_into("<HHL", patched, at + 8, min(entries, 0xFFFF), min(entries, 0xFFFF), directory_bytes)
    return bytes(patched)


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
