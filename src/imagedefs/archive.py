"""Artifact zips: find and read the one small file that matters, and write the output zip.

Pure file handling, shared by the Lambda action (zips read from S3) and the command line (zips on disk).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import PurePath
from typing import IO, Any, Final

from imagedefs.errors import ArtifactContentError
from imagedefs.image_detail import (
    IMAGE_DEFINITIONS_FILE,
    IMAGE_DETAIL_FILE,
    MAX_FILE_BYTES,
    check_file_size,
    file_location,
    parse_image_definitions,
    parse_image_detail,
)
from imagedefs.transform import InputSource, MergedDefinitions, OutputFile

MAX_ZIP_ENTRIES: Final = 10_000
# The zip directory is read whole before any file in it: bound it before reading (10,000 entries with
# names of about 60 characters fit).
MAX_DIRECTORY_BYTES: Final = 1024 * 1024
# Deflate adds a few bytes per 64 KB stored block to data it cannot compress.
MAX_COMPRESSED_BYTES: Final = MAX_FILE_BYTES + 1024
# Everything read from one artifact: its end record and comment, directory, one local header, one member.
MAX_BYTES_READ: Final = 2 * 1024 * 1024
# What ECR source actions and builds write; bzip2 and LZMA decompress without an output bound in zipfile.
READABLE_METHODS: Final = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
FILES_LISTED_IN_ERRORS: Final = 20
# A fixed timestamp makes a rerun of the same job write byte-identical zips.
ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)

_END_RECORD: Final = struct.Struct("<4s4H2LH")
_END_RECORD_SIGNATURE: Final = b"PK\x05\x06"
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE: Final = b"PK\x06\x07"
_ZIP64_END_RECORD: Final = struct.Struct("<4sQ2H2L4Q")
_ZIP64_END_RECORD_SIGNATURE: Final = b"PK\x06\x06"
_MAX_COMMENT_BYTES: Final = 0xFFFF
_SMALLEST_DIRECTORY_ENTRY_BYTES: Final = 46


def source_from_zip(artifact: str, file: IO[bytes] | io.RawIOBase, where: str) -> InputSource:
    """The imageDetail.json (or, failing that, imagedefinitions.json) at the top of an artifact zip.

    The zip is judged before it is trusted: its end record's entry count and directory size first, then
    every read through a reader that refuses to pass MAX_BYTES_READ, so no header can make it read, hold
    or inflate more than that.
    """
    bounded = _BoundedReader(file, MAX_BYTES_READ, f'Artifact "{artifact}" {where}')
    entries, directory_bytes = _directory_extent(bounded, artifact, where)
    # zipfile walks all the directory's bytes, whatever count the end record gives: judge both.
    room_for_entries = directory_bytes // _SMALLEST_DIRECTORY_ENTRY_BYTES
    if max(entries, room_for_entries) > MAX_ZIP_ENTRIES or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ArtifactContentError(
            f'Artifact "{artifact}" {where} has a zip directory of {entries} entries and {directory_bytes} bytes '
            f"(room for {room_for_entries} entries); at most {MAX_ZIP_ENTRIES} entries and "
            f"{MAX_DIRECTORY_BYTES // 1024} KB are read. An ECR source artifact holds one small file."
        )
    try:
        archive = zipfile.ZipFile(bounded)
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, NotImplementedError, RuntimeError) as exc:
        raise _not_a_zip(artifact, where, f" ({exc})" if isinstance(exc, NotImplementedError) else "") from exc
    with archive:
        infos = archive.infolist()
        if any("\0" in info.orig_filename or info.filename != info.orig_filename for info in infos):
            # zipfile cuts a name at a NUL (also one from a Unicode path extra field, in Python 3.13): other
            # tools would read another name than the one this function acts on.
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds a file name with a NUL character, or two different names for '
                "one file, which zip readers read differently; the zip is refused."
            )
        names = [info.filename for info in infos]
        for name in (IMAGE_DETAIL_FILE, IMAGE_DEFINITIONS_FILE):
            copies = [info for info in infos if info.filename == name]
            if len(copies) > 1:
                raise ArtifactContentError(
                    f'Artifact "{artifact}" {where} holds {name} {len(copies)} times; it is ambiguous which one is '
                    "meant. Zip one copy."
                )
            if copies:
                return source_from_file(artifact, name, _read_member(archive, copies[0], artifact))
    shown = ", ".join(names[:FILES_LISTED_IN_ERRORS]) or "no files"
    more = f" and {len(names) - FILES_LISTED_IN_ERRORS} more" if len(names) > FILES_LISTED_IN_ERRORS else ""
    raise ArtifactContentError(
        f'Artifact "{artifact}" has no {IMAGE_DETAIL_FILE} (nor {IMAGE_DEFINITIONS_FILE}) at the top of its zip; '
        f"it holds: {shown}{more}. Use the output artifact of an ECR source action (or of a build that writes one "
        "of those files) as this input."
    )


def source_from_file(artifact: str, file_name: str, data: bytes) -> InputSource:
    """Parse an imageDetail.json, or an imagedefinitions.json to merge, by its file name."""
    if PurePath(file_name).name == IMAGE_DEFINITIONS_FILE:
        return MergedDefinitions(artifact, parse_image_definitions(artifact, data))
    return parse_image_detail(artifact, data)


def zip_output_files(files: Sequence[OutputFile]) -> bytes:
    """A deterministic zip holding the files, in their order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # each member's compress_type below is what writestr uses
        for file in files:
            # no mutate: dropping date_time changes nothing (zipfile's default is this same timestamp); kept
            # explicit, as byte-identical reruns rely on it.
            info = zipfile.ZipInfo(file.name, date_time=ZIP_TIMESTAMP)  # pragma: no mutate
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.content)
    return buffer.getvalue()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, artifact: str) -> bytes:
    where = file_location(artifact, info.filename)
    if info.compress_type not in READABLE_METHODS:
        raise ArtifactContentError(
            f"{where}: compressed with zip method {info.compress_type}; only {' and '.join(READABLE_METHODS.values())} "
            "members are read, as ECR source actions and builds write them. Zip the file with deflate."
        )
    check_file_size(where, info.file_size)
    if info.compress_size > MAX_COMPRESSED_BYTES:
        raise ArtifactContentError(
            f"{where}: its compressed size ({info.compress_size} bytes) is larger than any file of at most "
            f"{MAX_FILE_BYTES // 1024} KB needs; the zip is refused."
        )
    try:
        with archive.open(info) as member:
            # The header may lie: never inflate more than the limit. (no mutate: zipfile itself stops at the
            # directory's file_size, bounded above, so a larger cap or none reads the same bytes; kept in depth.)
            data = member.read(MAX_FILE_BYTES + 1)  # pragma: no mutate
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError, zlib.error) as exc:
        raise ArtifactContentError(f"{where}: cannot be read from the zip ({exc}).") from exc
    check_file_size(where, len(data))  # pragma: no mutate (in depth, as above: unreachable while zipfile stops)
    return data


def _not_a_zip(artifact: str, where: str, detail: str = "") -> ArtifactContentError:
    return ArtifactContentError(
        f'Artifact "{artifact}" {where} is not a zip file this function reads{detail}. Use the output artifact of an '
        "ECR source action, or of a build that zips an imageDetail.json."
    )


def _directory_extent(file: _BoundedReader, artifact: str, where: str) -> tuple[int, int]:
    """Entry count and byte size of the zip directory, from the end record (zip64's if present).

    It looks for the end record where zipfile does: the last 22 bytes, else the last one within the
    longest comment a zip may have.
    """
    size = file.seek(0, io.SEEK_END)
    tail_start = max(0, size - _END_RECORD.size - _MAX_COMMENT_BYTES)
    file.seek(tail_start)
    # no mutate: reading to the end (None) reads the same bytes.
    tail = file.read(size - tail_start)  # pragma: no mutate
    # The last signature with a whole record after it.
    search_end = len(tail) - _END_RECORD.size + len(_END_RECORD_SIGNATURE)
    record_at = tail.rfind(_END_RECORD_SIGNATURE, 0, search_end)  # pragma: no mutate (0 or None: from the start)
    if record_at < 0:
        raise _not_a_zip(artifact, where)
    _, _, _, _, entries, directory_bytes, _, _ = _END_RECORD.unpack_from(tail, record_at)
    locator_at = record_at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == _ZIP64_LOCATOR_SIGNATURE:
        zip64_at = tail_start + locator_at - _ZIP64_END_RECORD.size
        if zip64_at < 0:
            raise _not_a_zip(artifact, where)
        file.seek(zip64_at)
        record = file.read(_ZIP64_END_RECORD.size)
        if len(record) != _ZIP64_END_RECORD.size or record[:4] != _ZIP64_END_RECORD_SIGNATURE:
            raise _not_a_zip(artifact, where)
        fields = _ZIP64_END_RECORD.unpack(record)
        entries, directory_bytes = fields[7], fields[8]
    file.seek(0)
    return entries, directory_bytes


class _BoundedReader(io.RawIOBase):
    """A seekable read-only view of a file that refuses to read more than `limit` bytes in all.

    The refusal comes before the read: zipfile asks for the directory's declared size in one read,
    which would otherwise allocate it first.
    """

    def __init__(self, file: IO[bytes] | io.RawIOBase, limit: int, what: str) -> None:
        super().__init__()
        self._file = file
        self._allowance = limit
        self._limit = limit
        self._what = what

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            position = self._file.tell()
            size = self._file.seek(0, io.SEEK_END) - position
            self._file.seek(position)
        if size > self._allowance:
            raise ArtifactContentError(
                f"{self._what}: reading it would take more than {self._limit // 1024} KB; an artifact that holds an "
                "imageDetail.json needs a few KB. The zip is refused."
            )
        chunks = []
        while size > 0:  # the file below may return less than asked (a ranged S3 reader returns one block)
            chunk = self._file.read(size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        data = b"".join(chunks)
        self._allowance -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)
