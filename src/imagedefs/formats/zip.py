"""Artifact zips: find and read the one small file that matters, and write the output zip.

Pure file handling, shared by the Lambda action (zips read from S3) and the command line (zips on disk).
"""

from __future__ import annotations

import io
import json
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Final

from imagedefs.errors import ArtifactContentError, quoted
from imagedefs.formats.image_files import (
    IMAGE_DEFINITIONS_FILE,
    IMAGE_DETAIL_FILE,
    MAX_FILE_BYTES,
    check_file_size,
    file_location,
    image_file_to_read,
    source_from_file,
)
from imagedefs.model import InputSource, OutputFile

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
# The part of a zip before its directory is read as a streaming reader reads it, through a window of 16 KB:
# local headers that sit close together cost one read (10,000 empty files take 24), every large entry one more.
LAYOUT_WINDOW_BYTES: Final = 16 * 1024
MAX_LAYOUT_READS: Final = 32
MAX_LAYOUT_BYTES: Final = 512 * 1024
# A fixed timestamp makes a rerun of the same job write byte-identical zips.
ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)

_END_RECORD: Final = struct.Struct("<4s4H2LH")
_END_RECORD_SIGNATURE: Final = b"PK\x05\x06"
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE: Final = b"PK\x06\x07"
_ZIP64_END_RECORD: Final = struct.Struct("<4sQ2H2L4Q")
_ZIP64_END_RECORD_SIGNATURE: Final = b"PK\x06\x06"
_MAX_COMMENT_BYTES: Final = 0xFFFF
_LOCAL_HEADER: Final = struct.Struct("<4s5H3L2H")
_LOCAL_HEADER_SIGNATURE: Final = b"PK\x03\x04"
_DATA_DESCRIPTOR_SIGNATURE: Final = b"PK\x07\x08"
_DATA_DESCRIPTOR_FLAG: Final = 0x08
_UTF8_NAME_FLAG: Final = 0x800
_ZIP64_EXTRA: Final = 0x0001
_UNICODE_PATH_EXTRA: Final = 0x7075
# The extra fields that change the name or sizes a reader uses for an entry. (A Unicode Comment field, 0x6375,
# changes only its comment, which no reader uses to find or size a file.)
_NAMING_EXTRAS: Final = {
    _ZIP64_EXTRA: "zip64 extra field (0x0001)",
    _UNICODE_PATH_EXTRA: "Unicode Path extra field (0x7075)",
}
_ZIP64_MARK: Final = 0xFFFF_FFFF
# The "version made by" host whose external attributes hold a Unix file mode.
_UNIX_SYSTEM: Final = 3
_DRIVE_PREFIX: Final = re.compile(r"[A-Za-z]:", re.ASCII)
_INFLATE_STEP_BYTES: Final = 64 * 1024
_MEMBER_NAMES: Final = (IMAGE_DETAIL_FILE, IMAGE_DEFINITIONS_FILE)
_SMALLEST_DIRECTORY_ENTRY_BYTES: Final = 46
# Who takes two different zip names for one file.
_ONE_PATH_READERS: Final = (
    "readers on file systems that ignore case (macOS, Windows), Unicode normal form (macOS) or trailing dots and "
    'spaces and NTFS stream names (Windows: "a.json. " and "a.json::$DATA" are "a.json")'
)


def source_from_zip(
    artifact: str, file: IO[bytes] | io.RawIOBase, where: str, zip_path: str | None = None
) -> InputSource:
    """The imageDetail.json (or, failing that, imagedefinitions.json) at the top of an artifact zip, by the rule
    a folder is read by too (`image_file_to_read`). `zip_path`, the zip as the command line's user named it, is
    named in messages about the file read from it.

    The zip is judged before it is trusted: its end record's entry count and directory size first, then
    every read through a reader that refuses to pass MAX_BYTES_READ, so no header can make it read, hold
    or inflate more than that. It is read only if every zip reader reads the same files out of it: those
    that read its directory (zipfile, unzip) and those that walk its local headers from byte 0 (Java's
    ZipInputStream, bsdtar reading a stream).
    """
    bounded = _BoundedReader(file, MAX_BYTES_READ, f'Artifact "{artifact}" {where}')
    end = _end_record(bounded, artifact, where)
    # zipfile walks all the directory's bytes, whatever count the end record gives: judge both.
    room_for_entries = end.directory_bytes // _SMALLEST_DIRECTORY_ENTRY_BYTES
    if max(end.entries, room_for_entries) > MAX_ZIP_ENTRIES or end.directory_bytes > MAX_DIRECTORY_BYTES:
        raise ArtifactContentError(
            f'Artifact "{artifact}" {where} has a zip directory of {end.entries} entries and {end.directory_bytes} '
            f"bytes (room for {room_for_entries} entries); at most {MAX_ZIP_ENTRIES} entries and "
            f"{MAX_DIRECTORY_BYTES // 1024} KB are read. An ECR source artifact holds one small file."
        )
    try:
        archive = zipfile.ZipFile(bounded)
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, NotImplementedError, RuntimeError) as exc:
        raise _not_a_zip(artifact, where, f" ({exc})" if isinstance(exc, NotImplementedError) else "") from exc
    with archive:
        infos = archive.infolist()
        for info in infos:
            # Before the check below: Python 3.12+ takes a Unicode Path field's name as the file name, 3.11 does not.
            _check_extra(info.extra, info.orig_filename, "directory entry", artifact, where)
        if any("\0" in info.orig_filename or info.filename != info.orig_filename for info in infos):
            # zipfile cuts a name at a NUL (and Python 3.12+ takes a Unicode Path field's name, checked above):
            # other tools would read another name than the one this function acts on.
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds a file name with a NUL character, or two different names for '
                "one file, which zip readers read differently; the zip is refused."
            )
        _check_names(infos, artifact, where)
        member_name, note = image_file_to_read(artifact, archive.NameToInfo) or ("", None)
        member = archive.NameToInfo.get(member_name)
        if member and member.create_system == _UNIX_SYSTEM and stat.S_ISLNK(member.external_attr >> 16):
            # unzip and tar extract a link to another file; read as text it would be the link's target path.
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds {member.filename} as a symbolic link, which zip readers '
                "extract as a link to another file; the zip is refused. Zip the file itself."
            )
        data_at = _check_layout(bounded, archive, end, member, artifact, where)
        if member:
            member_where = file_location(artifact, f"{member_name} in {zip_path}" if zip_path else member_name)
            data = _read_member(archive, member, member_where)
            # Its data is checked as that of the others with a data descriptor, after the checks of its method
            # and sizes; deflate data also without one, which costs nothing more than reading it again.
            if member.compress_type == zipfile.ZIP_DEFLATED or member.flag_bits & _DATA_DESCRIPTOR_FLAG:
                bounded.seek(data_at)
                _check_data_end(member, bounded.read(member.compress_size), partial(_ambiguous, artifact, where))
            return source_from_file(artifact, member_name, data, where=member_where, note=note)
        names = [info.filename for info in infos]
    shown = quoted(names[:FILES_LISTED_IN_ERRORS]) or "no files"
    more = f" and {len(names) - FILES_LISTED_IN_ERRORS} more" if len(names) > FILES_LISTED_IN_ERRORS else ""
    raise ArtifactContentError(
        f'Artifact "{artifact}" has no {IMAGE_DETAIL_FILE} (nor {IMAGE_DEFINITIONS_FILE}) at the top of its zip; '
        f"it holds: {shown}{more}. Use the output artifact of an ECR source action (or of a build that writes one "
        "of those files) as this input."
    )


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


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
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


def _check_names(infos: Sequence[zipfile.ZipInfo], artifact: str, where: str) -> None:
    """Refuse names that zip readers map to different paths, and names that some reader takes for one path."""
    for info in infos:
        problem = _name_problem(info.filename)
        if problem:
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds a file named {json.dumps(info.filename)}, {problem}: zip readers '
                "map such a name to different files (or refuse it), so the zip is refused. Zip the files with "
                "relative paths, as ECR source actions and builds do."
            )
    copies = Counter(info.filename for info in infos)
    for name, count in copies.items():
        if count > 1:
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds {json.dumps(name)} {count} times; it is ambiguous which one is '
                "meant. Zip one copy."
            )
    # One path to a reader on such a file system; a folder entry (its name ends in "/") is checked against files below.
    one_path: dict[tuple[tuple[str, ...], bool], str] = {}
    for name in copies:
        other = one_path.setdefault((_one_path(name), name.endswith("/")), name)
        if other != name:
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds both {json.dumps(other)} and {json.dumps(name)}, which '
                f"{_ONE_PATH_READERS} take for one file; it is ambiguous which one is meant, so the zip is refused. "
                "Zip one of them."
            )
    folders = {path[:depth]: name for (path, _), name in one_path.items() for depth in range(1, len(path))}
    folders.update({path: name for (path, is_folder), name in one_path.items() if is_folder})
    for (path, is_folder), name in one_path.items():
        if not is_folder and path in folders:
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds both the file {json.dumps(name)} and '
                f"{json.dumps(folders[path])}, which needs a folder of that path (as readers on macOS and Windows "
                "compare names): no path can be both, so readers extract one of them and fail on or drop the other; "
                "the zip is refused. Zip one of them."
            )
    for member_name in _MEMBER_NAMES:
        name = one_path.get((_one_path(member_name), False), member_name)
        if name != member_name:
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds {json.dumps(name)}, which {_ONE_PATH_READERS} take for '
                f"{member_name}, while this function reads only a file named exactly {member_name}; the zip is "
                f"refused. Name the file {member_name}."
            )


def _one_path(name: str) -> tuple[str, ...]:
    """The path that a reader on macOS or Windows takes a zip name for: case and Unicode normal form ignored,
    and each segment as Windows opens it, without trailing dots and spaces or an NTFS stream name after a colon.
    """
    text = unicodedata.normalize("NFC", name.removesuffix("/")).casefold()
    return tuple(segment.partition(":")[0].rstrip(". ") for segment in text.split("/"))


def _name_problem(name: str) -> str | None:
    """Why readers would map this zip name to different paths, or None for a plain relative path."""
    if "\\" in name:
        return "with a backslash, which some readers take for a folder separator"
    if name.startswith("/"):
        return "an absolute path, which some readers extract as it is and others relative to the folder"
    if _DRIVE_PREFIX.match(name):
        return "starting with a drive letter, which some readers drop"
    segments = name.removesuffix("/").split("/")
    if "." in segments or ".." in segments:
        return 'with a "." or ".." segment, which some readers resolve and others refuse'
    if "" in segments:
        return 'with an empty segment ("//"), which some readers collapse'
    return None


def _check_layout(
    file: _BoundedReader,
    archive: zipfile.ZipFile,
    end: _EndRecord,
    member: zipfile.ZipInfo | None,
    artifact: str,
    where: str,
) -> int:
    """Refuse a zip that a reader walking its local headers from byte 0 would read differently; the offset of
    the member's data (0 without a member).

    The entries must tile the object from byte 0 to the directory: each one's local header agrees with its
    directory entry, and its data (and data descriptor) ends where the next entry starts. A streaming reader
    finds the end of an entry with a data descriptor by inflating it (or, stored, by looking for the
    descriptor's signature), so the data of those is checked too. All of it is read through a bounded window.
    """

    refuse = partial(_ambiguous, artifact, where)
    if len(archive.infolist()) != end.entries:
        raise refuse(
            f"has an end record that counts {end.entries} entries before a directory of {len(archive.infolist())}"
        )
    if archive.start_dir != end.directory_offset:
        raise refuse(
            f"has its directory at byte {archive.start_dir}, not at byte {end.directory_offset} where its end record "
            "says: other data was put before the zip (a self-extracting stub, or another zip), which this function "
            "does not read"
        )
    reader = _LayoutReader(file, archive.start_dir, artifact, where)
    member_data_at = 0
    position = 0
    previous: zipfile.ZipInfo | None = None
    for info in sorted(archive.infolist(), key=lambda info: info.header_offset):
        name = json.dumps(info.filename)
        if info.header_offset < position:
            raise refuse(f"holds {name}, which starts at byte {info.header_offset} inside {_entry(previous)}'s data")
        if info.header_offset > position:
            gap = info.header_offset - position
            if previous is None:
                raise refuse(
                    f"has {gap} bytes before its first entry {name}: other data was put before the zip (a "
                    "self-extracting stub, or another zip), which this function does not read"
                )
            raise refuse(f"has {gap} bytes that its directory does not list between {_entry(previous)} and {name}")
        header = reader.read(info.header_offset, _LOCAL_HEADER.size, name)
        fields = _LOCAL_HEADER.unpack(header)
        (signature, _, flags, method, _, _, crc, compressed, uncompressed, name_bytes, extra_bytes) = fields
        if signature != _LOCAL_HEADER_SIGNATURE:
            raise refuse(f"has no local header at byte {info.header_offset}, where its directory places {name}")
        local_name = reader.read(info.header_offset + _LOCAL_HEADER.size, name_bytes, name)
        extra = reader.read(info.header_offset + _LOCAL_HEADER.size + name_bytes, extra_bytes, name)
        _check_extra(extra, info.orig_filename, "local header", artifact, where)
        zip64 = _zip64_sizes(extra)
        if zip64 is not None:
            uncompressed = zip64[0] if uncompressed == _ZIP64_MARK else uncompressed
            compressed = zip64[1] if compressed == _ZIP64_MARK else compressed
        raw_name = info.orig_filename.encode("utf-8" if info.flag_bits & _UTF8_NAME_FLAG else "cp437")
        local = {"name": local_name, "flags": flags, "method": method}
        central: dict[str, object] = {"name": raw_name, "flags": info.flag_bits, "method": info.compress_type}
        sizes = {"CRC-32": (crc, info.CRC), "compressed size": (compressed, info.compress_size)}
        sizes["size"] = (uncompressed, info.file_size)
        described_later = bool(flags & _DATA_DESCRIPTOR_FLAG)
        for field, (in_local, in_central) in sizes.items():
            # With a data descriptor, the local header may leave the values at 0 (they follow the data).
            if in_local != in_central and not (described_later and in_local == 0):
                local[field], central[field] = in_local, in_central
        differing = [field for field in local if local[field] != central[field]]
        if differing:
            raise refuse(f"holds {name}, whose local header and directory entry disagree on its {', '.join(differing)}")
        data_at = info.header_offset + _LOCAL_HEADER.size + name_bytes + extra_bytes
        if info is member:
            member_data_at = data_at
        position = data_at + info.compress_size
        if position > archive.start_dir:
            raise refuse(f"holds {name}, whose data runs into its directory")
        if described_later:
            if info is not member:  # the member is checked as it is read, after its method and sizes
                _check_data_end(info, reader.read(data_at, info.compress_size, name), refuse)
            position = _descriptor_end(info, reader, position, zip64 is not None, refuse)
        previous = info
    if position != archive.start_dir:
        gap = archive.start_dir - position
        raise refuse(f"has {gap} bytes that its directory does not list between {_entry(previous)} and its directory")
    return member_data_at


def _entry(info: zipfile.ZipInfo | None) -> str:
    return json.dumps(info.filename) if info else "its start"


def _check_extra(extra: bytes, name: str, header: str, artifact: str, where: str) -> None:
    """Refuse a header whose extra fields would give some reader another name or other sizes than its own.

    A Unicode Path field must name the entry as its name field does (whatever its CRC-32: a reader that skips
    that check reads the field's name too), and no field that changes the name or sizes may appear twice.
    """
    fields = _extra_fields(extra)
    if fields is None:
        problem = "an extra field that runs past the end of its extra data"
    else:
        kinds = Counter(kind for kind, _ in fields)
        twice = [label for kind, label in _NAMING_EXTRAS.items() if kinds[kind] > 1]
        paths = [_unicode_path(data) for kind, data in fields if kind == _UNICODE_PATH_EXTRA]
        if twice:
            problem = f"more than one {twice[0]}, of which readers take the first or the last"
        elif any(path is None for path in paths):
            problem = f"a {_NAMING_EXTRAS[_UNICODE_PATH_EXTRA]} that is not version 1 UTF-8 text"
        elif paths and paths[0] != name:
            problem = (
                f"a {_NAMING_EXTRAS[_UNICODE_PATH_EXTRA]} that names it {json.dumps(paths[0])}, which readers that "
                "honour the field (unzip, 7-Zip, Commons Compress, Python 3.12 and later) read instead of its name"
            )
        else:
            return
    raise ArtifactContentError(
        f'Artifact "{artifact}" {where} holds {json.dumps(name)}, whose {header} has {problem}: zip readers would '
        "read it under different names or sizes, so the zip is refused. Zip the files again with a standard tool "
        "(zip, Python's zipfile, a build's artifacts)."
    )


def _extra_fields(extra: bytes) -> list[tuple[int, bytes]] | None:
    """The (kind, data) of each extra field, or None when one runs past the end; fewer than 4 bytes left over
    are padding, as zipfile reads them.
    """
    fields = []
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if at + 4 + length > len(extra):
            return None
        fields.append((kind, extra[at + 4 : at + 4 + length]))
        at += 4 + length
    return fields


def _unicode_path(data: bytes) -> str | None:
    """The name in a Unicode Path extra field (version 1, the CRC-32 of the header's name, UTF-8), or None."""
    if len(data) < 5 or data[0] != 1:
        return None
    try:
        return data[5:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _zip64_sizes(extra: bytes) -> tuple[int, int] | None:
    """(size, compressed size) from a local header's zip64 extra field, or None without one."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == _ZIP64_EXTRA and length >= 16:
            size, compressed = struct.unpack_from("<QQ", extra, at + 4)
            return size, compressed
        if kind == _ZIP64_EXTRA:
            return _ZIP64_MARK, _ZIP64_MARK  # too short to hold both sizes: no value can match the directory's
        at += 4 + length
    return None


def _descriptor_end(
    info: zipfile.ZipInfo, reader: _LayoutReader, at: int, zip64: bool, refuse: Callable[[str], Exception]
) -> int:
    """Where the data descriptor after an entry's data ends; it must hold the directory's CRC-32 and sizes."""
    name = json.dumps(info.filename)
    size_layout = "<QQ" if zip64 else "<LL"
    length = 4 + struct.calcsize(size_layout)
    room = reader.limit - at
    signed = room >= 4 and reader.read(at, 4, name) == _DATA_DESCRIPTOR_SIGNATURE
    start = at + 4 if signed else at
    if reader.limit - start < length:
        raise refuse(f"holds {name}, whose data descriptor is missing")
    descriptor = reader.read(start, length, name)
    crc = struct.unpack_from("<L", descriptor)[0]
    compressed, size = struct.unpack_from(size_layout, descriptor, 4)
    if (crc, compressed, size) != (info.CRC, info.compress_size, info.file_size):
        raise refuse(f"holds {name}, whose data descriptor and directory entry disagree on its CRC-32 or sizes")
    return start + length


def _check_data_end(info: zipfile.ZipInfo, data: bytes, refuse: Callable[[str], Exception]) -> None:
    """Refuse data whose end a streaming reader would find elsewhere than its compressed size says.

    Deflate data must end exactly there, and inflate to the size and CRC-32 its directory entry gives;
    stored data followed by a data descriptor must not hold the descriptor's signature.
    """
    name = json.dumps(info.filename)
    if info.compress_type == zipfile.ZIP_STORED:
        if _DATA_DESCRIPTOR_SIGNATURE in data:
            raise refuse(f"holds {name}, stored with a data descriptor whose signature also appears in its data")
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise refuse(
            f"holds {name}, compressed with zip method {info.compress_type} and followed by a data descriptor: its end "
            "can only be found by decompressing it, which this function does only for deflate"
        )
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending, produced, crc = data, 0, 0
    try:
        while not inflater.eof and produced <= info.file_size:
            # in steps, so that a bomb is stopped as soon as it passes the size its directory entry gives
            out = inflater.decompress(pending, _INFLATE_STEP_BYTES)
            produced, crc = produced + len(out), zlib.crc32(out, crc)
            pending = inflater.unconsumed_tail
            if not (out or pending):  # all input taken, nothing more to give: the data is cut short
                break
    except zlib.error as exc:
        raise refuse(f"holds {name}, whose deflate data is broken ({exc})") from exc
    inflated_otherwise = (produced, crc) != (info.file_size, info.CRC)
    if produced <= info.file_size and (not inflater.eof or inflater.unused_data or pending):
        raise refuse(f"holds {name}, whose deflate data does not end where its compressed size says")
    if inflated_otherwise:
        raise refuse(f"holds {name}, whose data does not inflate to the size and CRC-32 its directory entry gives")


def _ambiguous(artifact: str, where: str, why: str) -> ArtifactContentError:
    return ArtifactContentError(
        f'Artifact "{artifact}" {where} {why}. Zip readers that read its directory (Python\'s zipfile, unzip) and '
        "those that walk its local headers from byte 0 (Java's ZipInputStream, bsdtar reading a stream) would read "
        "different files out of it, so the zip is refused. Zip the files again with a standard tool (zip, Python's "
        "zipfile, a build's artifacts)."
    )


def _not_a_zip(artifact: str, where: str, detail: str = "") -> ArtifactContentError:
    return ArtifactContentError(
        f'Artifact "{artifact}" {where} is not a zip file this function reads{detail}. Use the output artifact of an '
        "ECR source action, or of a build that zips an imageDetail.json."
    )


@dataclass(frozen=True)
class _EndRecord:
    """What the end record (zip64's when present) says about the zip directory, and where it sits."""

    entries: int
    directory_bytes: int
    directory_offset: int
    # Where the directory must end: at the zip64 end record when there is one, else at the end record.
    directory_end: int


def _end_record(file: _BoundedReader, artifact: str, where: str) -> _EndRecord:
    """The end record's entry count and directory extent (zip64's if present).

    It looks for the end record where zipfile does: the last 22 bytes, else the last one within the
    longest comment a zip may have. Its comment must end the object: bytes after it belong to no zip.
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
    _, _, _, _, entries, directory_bytes, directory_offset, comment_bytes = _END_RECORD.unpack_from(tail, record_at)
    trailing = len(tail) - (record_at + _END_RECORD.size + comment_bytes)
    if trailing:
        raise _ambiguous(
            artifact,
            where,
            f"has {abs(trailing)} bytes {'after its end record' if trailing > 0 else 'missing from its comment'}, "
            "which belong to no zip",
        )
    directory_end = tail_start + record_at
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
        classic = {"entry count": entries, "directory size": directory_bytes, "directory offset": directory_offset}
        entries, directory_bytes, directory_offset = fields[7], fields[8], fields[9]
        zip64 = {"entry count": entries, "directory size": directory_bytes, "directory offset": directory_offset}
        for field, value in classic.items():
            # A classic field is either the mark that sends readers to the zip64 record, or the same value.
            if value not in (zip64[field], _ZIP64_MARK if field != "entry count" else 0xFFFF):
                raise _ambiguous(
                    artifact,
                    where,
                    f"has an end record whose {field} ({value}) is not its zip64 end record's ({zip64[field]}), so "
                    "readers that take one or the other read different directories",
                )
        directory_end = zip64_at
    file.seek(0)
    return _EndRecord(entries, directory_bytes, directory_offset, directory_end)


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


class _LayoutReader:
    """Reads the part of a zip before its directory through a window, within MAX_LAYOUT_READS reads and
    MAX_LAYOUT_BYTES: local headers that sit close together cost one read.
    """

    def __init__(self, file: _BoundedReader, limit: int, artifact: str, where: str) -> None:
        self._file = file
        self.limit = limit
        self._artifact = artifact
        self._where = where
        self._window_start = 0
        self._window = b""
        self._reads = 0
        self._bytes = 0

    def read(self, at: int, size: int, what: str) -> bytes:
        if at + size > self.limit:
            raise _ambiguous(
                self._artifact, self._where, f"holds {what}, whose local header or data runs into its directory"
            )
        offset = at - self._window_start
        if offset >= 0 and offset + size <= len(self._window):
            return self._window[offset : offset + size]
        length = min(max(size, LAYOUT_WINDOW_BYTES), self.limit - at)
        self._reads += 1
        self._bytes += length
        if self._reads > MAX_LAYOUT_READS or self._bytes > MAX_LAYOUT_BYTES:
            raise ArtifactContentError(
                f'Artifact "{self._artifact}" {self._where} cannot be checked as a streaming zip reader reads it: '
                "walking its local headers from byte 0, and inflating each entry that has a data descriptor (whose "
                f"end only its data tells), would take more than {MAX_LAYOUT_READS} reads or "
                f"{MAX_LAYOUT_BYTES // 1024} KB; the zip is refused. An ECR source artifact holds one small file: "
                "zip imageDetail.json alone, or with fewer and smaller files."
            )
        self._file.seek(at)
        self._window_start, self._window = at, self._file.read(length)
        return self._window[:size]
