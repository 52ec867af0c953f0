"""Zips that zip readers read differently are refused: those that read the directory (zipfile, unzip) and those
that walk the local headers from byte 0 (Java's ZipInputStream, bsdtar reading a stream) must see the same files.

The zips are built byte by byte (tests/hostile.py's `build_zip`), each against a well-formed twin that is read.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import zip_files
from imagedefs.errors import ArtifactContentError
from imagedefs.formats.zip import MAX_LAYOUT_READS, source_from_zip, zip_output_files
from imagedefs.model import ImageDetail, OutputFile
from tests.hostile import Entry, build_zip, extra_field, unicode_path_field, with_zip64_end_record
from tests.samples import image_detail

DETAIL = json.dumps(image_detail()).encode()
EVIL = json.dumps(image_detail("evil/miner")).encode()
WHERE = "(s3://bucket/pipeline/Source/abc, 1 bytes)"
REFUSED = "would read different files out of it, so the zip is refused. Zip the files again with a standard tool"


def read(body: bytes) -> Any:
    return source_from_zip("SourceArtifact", io.BytesIO(body), WHERE)


def refusal(body: bytes) -> str:
    with pytest.raises(ArtifactContentError) as raised:
        read(body)
    message = str(raised.value)
    assert message.startswith(f'Artifact "SourceArtifact" {WHERE} ')
    return message


def refusal_of_any(body: bytes) -> str:
    """The refusal of a zip without the file, which names no S3 location."""
    with pytest.raises(ArtifactContentError) as raised:
        read(body)
    return str(raised.value)


def test_well_formed_twins_are_read() -> None:
    # Given the layouts the refusals below break: deflate and stored, data descriptors with and without their
    # signature, zip64 sizes and end records, other entries around the file
    layouts = [
        [Entry("imageDetail.json", DETAIL)],
        [Entry("imageDetail.json", DETAIL, method=zipfile.ZIP_STORED)],
        [Entry("src/app.py", b"print()" * 100, descriptor=True), Entry("imageDetail.json", DETAIL, descriptor=True)],
        [Entry("imageDetail.json", DETAIL, descriptor=True, descriptor_signature=False), Entry("README", b"x")],
        [Entry("bin", os.urandom(3000), method=zipfile.ZIP_STORED, descriptor=True), Entry("imageDetail.json", DETAIL)],
        [Entry("imageDetail.json", DETAIL, zip64=True, descriptor=True), Entry("a", b"a" * 500, zip64=True)],
    ]
    for parts in layouts:
        # Then each is read
        assert isinstance(read(build_zip(parts, zip64_end=any(part.zip64 for part in parts))), ImageDetail)


def zipfile_stream(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip as Python's zipfile writes it to a stream it cannot seek: every entry with a data descriptor."""

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            super().__init__()
            self.written = io.BytesIO()

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            return self.written.write(data)

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return stream.written.getvalue()


def test_zips_of_common_writers_are_read(tmp_path: Path) -> None:
    forced_zip64 = io.BytesIO()
    with zipfile.ZipFile(forced_zip64, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("imageDetail.json", "w", force_zip64=True) as member:
            member.write(DETAIL)
        archive.writestr("src/", b"")
    bodies = [
        zip_files({"imageDetail.json": DETAIL, "src/app.py": "print()"}),
        zip_output_files([OutputFile("imageDetail.json", DETAIL), OutputFile("appspec.yaml", b"version: 0.0\n")]),
        zipfile_stream({"src/x": os.urandom(5000), "imageDetail.json": DETAIL}),
        zipfile_stream({"imageDetail.json": DETAIL, "s": b"stored"}, zipfile.ZIP_STORED),
        forced_zip64.getvalue(),
    ]
    for body in bodies:
        assert isinstance(read(body), ImageDetail)


@pytest.mark.skipif(shutil.which("zip") is None, reason="Info-ZIP zip is not installed")
@pytest.mark.parametrize("to_a_pipe", [False, True], ids=["to a file", "to a pipe (data descriptors)"])
def test_zips_of_info_zip_are_read(tmp_path: Path, to_a_pipe: bool) -> None:
    (tmp_path / "imageDetail.json").write_bytes(DETAIL)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_bytes(os.urandom(4000))
    command = ["zip", "-q", "-r", "-" if to_a_pipe else "out.zip", "imageDetail.json", "src"]
    written = subprocess.run(command, cwd=tmp_path, check=True, capture_output=True).stdout  # noqa: S603
    body = written if to_a_pipe else (tmp_path / "out.zip").read_bytes()
    assert isinstance(read(body), ImageDetail)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("./imageDetail.json", EVIL)],
            'holds a file named "./imageDetail.json", with a "." or ".." segment',
            id="./imageDetail.json beside it",
        ),
        pytest.param(
            [Entry("/imageDetail.json", EVIL), Entry("imageDetail.json", DETAIL)],
            'holds a file named "/imageDetail.json", an absolute path',
            id="/imageDetail.json beside it",
        ),
        pytest.param([Entry("./imageDetail.json", EVIL)], '"./imageDetail.json"', id="./imageDetail.json alone"),
        pytest.param([Entry("a//imageDetail.json", EVIL)], 'with an empty segment ("//")', id="a//b"),
        pytest.param([Entry("x\\..\\imageDetail.json", EVIL)], "with a backslash", id="backslashes"),
        pytest.param([Entry("src/../imageDetail.json", EVIL)], 'with a "." or ".." segment', id=".."),
        pytest.param([Entry("C:imageDetail.json", EVIL)], "starting with a drive letter", id="drive letter"),
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("IMAGEDETAIL.JSON", EVIL)],
            'holds both "imageDetail.json" and "IMAGEDETAIL.JSON", which readers on file systems that ignore case',
            id="names that differ in case",
        ),
        pytest.param(
            [Entry("src/caf\u00e9", b"1"), Entry("src/cafe\u0301", b"2"), Entry("imageDetail.json", DETAIL)],
            "take for one file",
            id="names that differ in Unicode normal form",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("imageDetail.json.", EVIL)],
            'holds both "imageDetail.json" and "imageDetail.json.", which readers on file systems that ignore case',
            id="a trailing dot",
        ),
        pytest.param(
            [Entry("imageDetail.json ", EVIL), Entry("imageDetail.json", DETAIL)],
            'holds both "imageDetail.json " and "imageDetail.json", which readers',
            id="a trailing space",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("ImageDetail.JSON. .", EVIL)],
            '"ImageDetail.JSON. .", which readers',
            id="case, trailing dots and spaces at once",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("imageDetail.json::$DATA", EVIL)],
            '"imageDetail.json::$DATA", which readers',
            id="an NTFS stream name",
        ),
        pytest.param(
            [Entry("src/app.py", b"1"), Entry("src. /app.py", b"2"), Entry("imageDetail.json", DETAIL)],
            'holds both "src/app.py" and "src. /app.py", which readers',
            id="a folder with a trailing dot and space",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("imageDetail.json/x", EVIL)],
            'holds both the file "imageDetail.json" and "imageDetail.json/x", which needs a folder of that path',
            id="a file that another name needs as a folder",
        ),
        pytest.param(
            [Entry("imageDetail.json/", b""), Entry("imageDetail.json", DETAIL)],
            'holds both the file "imageDetail.json" and "imageDetail.json/", which needs a folder of that path',
            id="a file and a folder entry of one name",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL), Entry("ImageDetail.json./x", EVIL)],
            'and "ImageDetail.json./x", which needs a folder of that path (as readers on macOS and Windows compare',
            id="a file that another name needs as a folder, as Windows compares them",
        ),
        pytest.param(
            [Entry("src/a/b", b"1"), Entry("SRC/A", b"2"), Entry("imageDetail.json", DETAIL)],
            'holds both the file "SRC/A" and "src/a/b", which needs a folder of that path',
            id="a file that another name needs as a folder deeper down",
        ),
        pytest.param(
            [Entry("imageDetail.json.", EVIL), Entry("imagedefinitions.json", b"[]")],
            'holds "imageDetail.json.", which readers on file systems that ignore case (macOS, Windows), Unicode '
            "normal form (macOS) or trailing dots and spaces and NTFS stream names (Windows",
            id="another name for imageDetail.json beside the imagedefinitions.json this function would read",
        ),
        pytest.param(
            [Entry("src/a", b"1"), Entry("src/a", b"2"), Entry("imageDetail.json", DETAIL)],
            'holds "src/a" 2 times; it is ambiguous which one is meant. Zip one copy.',
            id="another file twice",
        ),
    ],
)
def test_names_that_readers_map_to_other_or_the_same_paths_are_refused(parts: list[Entry], expected: str) -> None:
    message = refusal(build_zip(parts))
    assert expected in message


def test_a_name_another_reader_takes_for_the_file_says_which_name_to_give() -> None:
    message = refusal(build_zip([Entry("IMAGEDETAIL.JSON ", DETAIL)]))
    assert message.endswith(
        "take for imageDetail.json, while this function reads only a file named exactly imageDetail.json; the zip "
        "is refused. Name the file imageDetail.json."
    )


def test_names_that_are_one_path_only_to_a_careless_reader_are_read() -> None:
    # Given names that differ in a dot or a space elsewhere than at a segment's end, files in folders
    # (explicit or not), and a folder whose name another file's name starts with
    parts = [
        Entry("src/", b""),
        Entry("src/app.py", b"1"),
        Entry("src/.app.py", b"2"),
        Entry("src/ app.py", b"3"),
        Entry("src/app. py", b"4"),
        Entry("src.d/app.py", b"5"),
        Entry("imageDetail.json.d/x", b"6"),
        Entry("imageDetail.json", DETAIL),
    ]
    # Then it is read
    assert isinstance(read(build_zip(parts)), ImageDetail)


def test_a_name_refusal_says_how_to_zip_the_files() -> None:
    message = refusal(build_zip([Entry("./imageDetail.json", DETAIL)]))
    assert "zip readers map such a name to different files (or refuse it), so the zip is refused." in message
    assert message.endswith("Zip the files with relative paths, as ECR source actions and builds do.")
    # A folder entry's trailing slash is no empty segment
    assert isinstance(read(build_zip([Entry("src/", b""), Entry("imageDetail.json", DETAIL)])), ImageDetail)


HIDDEN = Entry("imageDetail.json", EVIL)
STUB = b"MZ\x90\x00 a self-extracting stub"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), Entry("imageDetail.json", EVIL, listed=False)]),
            f"has {len(HIDDEN.local_record())} bytes that its directory does not list between "
            '"imageDetail.json" and its directory',
            id="a local entry the directory does not list",
        ),
        pytest.param(
            build_zip([Entry("README", b"x"), Entry("other", EVIL, listed=False), Entry("imageDetail.json", DETAIL)]),
            'bytes that its directory does not list between "README" and "imageDetail.json"',
            id="an unlisted entry between two",
        ),
        pytest.param(
            build_zip([Entry("bundle", HIDDEN.local_record(), method=zipfile.ZIP_STORED)], directory=[]),
            f"has {len(HIDDEN.local_record()) + 36} bytes that its directory does not list between its start and its",
            id="an entry hidden in another's data, the directory listing neither",
        ),
        pytest.param(
            build_zip(
                [Entry("bundle", HIDDEN.local_record(), method=zipfile.ZIP_STORED)],
                directory=[(Entry("bundle", HIDDEN.local_record(), method=zipfile.ZIP_STORED), 0), (HIDDEN, 36)],
            ),
            'holds "imageDetail.json", which starts at byte 36 inside "bundle"\'s data',
            id="an entry hidden in another's data",
        ),
        pytest.param(
            build_zip([Entry("bundle", HIDDEN.local_record(), method=zipfile.ZIP_STORED)], directory=[(HIDDEN, 36)]),
            'has 36 bytes before its first entry "imageDetail.json": other data was put before the zip',
            id="the directory listing only the entry hidden in another's data",
        ),
        pytest.param(
            zip_files({"imageDetail.json": EVIL}) + zip_files({"imageDetail.json": DETAIL}),
            "where its end record says: other data was put before the zip (a self-extracting stub, or another zip)",
            id="two concatenated zips",
        ),
        pytest.param(
            build_zip([STUB, Entry("imageDetail.json", DETAIL)], offsets_from=len(STUB)),
            "a self-extracting stub, or another zip), which this function does not read",
            id="a self-extracting stub, offsets from the zip's start",
        ),
        pytest.param(
            build_zip([STUB, Entry("imageDetail.json", DETAIL)]),
            f'has {len(STUB)} bytes before its first entry "imageDetail.json"',
            id="a self-extracting stub, offsets from the file's start (zip -A)",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), b"\0" * 7, Entry("README", b"x")]),
            'has 7 bytes that its directory does not list between "imageDetail.json" and "README"',
            id="data between entries",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), b"junk"]),
            'has 4 bytes that its directory does not list between "imageDetail.json" and its directory',
            id="data between the last entry and the directory",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL)], after=b"tail"),
            "has 4 bytes after its end record, which belong to no zip",
            id="data after the end record",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), Entry("README", b"x")], end_entries=1),
            "has an end record that counts 1 entries before a directory of 2",
            id="an end record that counts fewer entries than the directory holds",
        ),
    ],
)
def test_layouts_that_streaming_readers_read_differently_are_refused(body: bytes, expected: str) -> None:
    message = refusal(body)
    assert expected in message
    assert message.endswith(REFUSED + " (zip, Python's zipfile, a build's artifacts).")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(Entry("imageDetail.json", DETAIL, local={"name": b"imageDetail.jsoN"}), "on its name", id="name"),
        pytest.param(Entry("imageDetail.json", DETAIL, local={"method": 0}), "on its method", id="method"),
        pytest.param(Entry("imageDetail.json", DETAIL, local={"flags": 0x800}), "on its flags", id="flags"),
        pytest.param(Entry("imageDetail.json", DETAIL, local={"crc": 1}), "on its CRC-32", id="CRC-32"),
        pytest.param(Entry("imageDetail.json", DETAIL, local={"size": 3}), "on its size", id="size"),
        pytest.param(
            Entry("imageDetail.json", DETAIL, local={"compressed": 3}), "on its compressed size", id="compressed size"
        ),
        pytest.param(
            Entry("imageDetail.json", DETAIL, descriptor=True, local={"size": 5}),
            "on its size",
            id="size beside a data descriptor",
        ),
        pytest.param(Entry("imageDetail.json", DETAIL, zip64=True, local={"size": 3}), "on its size", id="zip64 size"),
        pytest.param(
            Entry("imageDetail.json", DETAIL, descriptor=True, described={"size": 3}),
            "whose data descriptor and directory entry disagree on its CRC-32 or sizes",
            id="data descriptor",
        ),
        pytest.param(
            Entry("imageDetail.json", DETAIL, descriptor=True, zip64=True, described={"crc": 3}),
            "whose data descriptor and directory entry disagree",
            id="zip64 data descriptor",
        ),
    ],
)
def test_a_local_header_that_disagrees_with_the_directory_is_refused(entry: Entry, expected: str) -> None:
    message = refusal(build_zip([Entry("README", b"x"), entry], zip64_end=entry.zip64))
    assert '"imageDetail.json", whose ' in message
    assert expected in message


def deflated(content: bytes) -> bytes:
    return Entry("x", content).stored_data


INNER = Entry("imageDetail.json", EVIL, descriptor=True)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            # Deflate data that ends early, then a descriptor and an entry that a streaming reader sees
            Entry("src/app.py", b"print()", descriptor=True, data=deflated(b"print()") + INNER.local_record()),
            'holds "src/app.py", whose deflate data does not end where its compressed size says',
            id="an entry after the end of a deflate stream with a data descriptor",
        ),
        pytest.param(
            Entry("imageDetail.json", DETAIL, descriptor=True, data=deflated(DETAIL) + INNER.local_record()),
            'holds "imageDetail.json", whose deflate data does not end where its compressed size says',
            id="the same in the file read",
        ),
        pytest.param(
            Entry("imageDetail.json", DETAIL, data=deflated(DETAIL) + b"hidden"),
            "whose deflate data does not end where its compressed size says",
            id="data after the deflate stream of the file read",
        ),
        pytest.param(
            Entry("blob", b"a" * 40 + b"PK\x07\x08" + b"b" * 40, method=zipfile.ZIP_STORED, descriptor=True),
            'holds "blob", stored with a data descriptor whose signature also appears in its data',
            id="a stored entry holding a data descriptor's signature",
        ),
        pytest.param(
            Entry("blob", b"abc", descriptor=True, data=deflated(b"abc")[:-2]),
            'holds "blob", whose deflate data does not end where',
            id="deflate data cut short",
        ),
        pytest.param(
            Entry("blob", b"abc", descriptor=True, data=b"\xff\xff\xff\xff"),
            'holds "blob", whose deflate data is broken',
            id="broken deflate data",
        ),
        pytest.param(
            Entry("blob", b"abc", descriptor=True, data=deflated(b"abd")),
            'holds "blob", whose data does not inflate to the size and CRC-32 its directory entry gives',
            id="deflate data of other content",
        ),
        pytest.param(
            Entry("blob", b"abc", descriptor=True, data=deflated(b"abc" * 100_000)),
            "whose data does not inflate to the size and CRC-32",
            id="deflate data inflating past its size",
        ),
        pytest.param(
            Entry("blob", b"abc", method=zipfile.ZIP_BZIP2, descriptor=True, data=b"BZh9"),
            "compressed with zip method 12 and followed by a data descriptor: its end can only be found",
            id="bzip2 with a data descriptor",
        ),
    ],
)
def test_data_whose_end_a_streaming_reader_finds_elsewhere_is_refused(entry: Entry, expected: str) -> None:
    parts = [entry] if entry.name == "imageDetail.json" else [entry, Entry("imageDetail.json", DETAIL)]
    assert expected in refusal(build_zip(parts))


def test_checking_a_zip_reads_a_bounded_part_of_it() -> None:
    # Given a zip whose entries sit far apart (each more than the 16 KB window), or an entry with a data
    # descriptor too large to inflate within the limit
    spread = [Entry(f"bulk{index}", os.urandom(20_000), method=zipfile.ZIP_STORED) for index in range(MAX_LAYOUT_READS)]
    spread_fewer = spread[:-1]
    large_described = Entry("bundle", os.urandom(600_000), method=zipfile.ZIP_STORED, descriptor=True)
    # Then one entry fewer is read, and the rest refused naming why
    assert isinstance(read(build_zip([*spread_fewer, Entry("imageDetail.json", DETAIL)])), ImageDetail)
    for parts in ([*spread, Entry("imageDetail.json", DETAIL)], [large_described, Entry("imageDetail.json", DETAIL)]):
        message = refusal(build_zip(parts))
        assert "cannot be checked as a streaming zip reader reads it: walking its local headers from byte 0" in message
        assert f"would take more than {MAX_LAYOUT_READS} reads or 512 KB; the zip is refused." in message
        assert message.endswith("zip imageDetail.json alone, or with fewer and smaller files.")


def test_many_small_entries_are_checked_in_few_reads() -> None:
    # Given 5,000 small files beside the one read
    body = build_zip([*(Entry(f"src/{index:05}", b"x") for index in range(5000)), Entry("imageDetail.json", DETAIL)])
    # Then it is read
    assert isinstance(read(body), ImageDetail)


NAMING = "zip readers would read it under different names or sizes, so the zip is refused. Zip the files again with"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(
            [Entry("imageDetail.json", DETAIL, local_extra=unicode_path_field("imageDetail.json", b"evil.json"))],
            'holds "imageDetail.json", whose local header has a Unicode Path extra field (0x7075) that names it '
            '"evil.json", which readers that honour the field (unzip, 7-Zip, Commons Compress, Python 3.12 and '
            "later) read instead of its name",
            id="in the local header only",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL, central_extra=unicode_path_field("imageDetail.json", b"evil.json"))],
            'holds "imageDetail.json", whose directory entry has a Unicode Path extra field (0x7075) that names it '
            '"evil.json"',
            id="in the directory entry only",
        ),
        pytest.param(
            [
                Entry("x.json", EVIL, central_extra=unicode_path_field("x.json", b"imageDetail.json")),
                Entry("imageDetail.json", DETAIL),
            ],
            'holds "x.json", whose directory entry has a Unicode Path extra field (0x7075) that names it '
            '"imageDetail.json"',
            id="naming imageDetail.json for another file beside it",
        ),
        pytest.param(
            [Entry("x.json", EVIL, central_extra=unicode_path_field("x.json", b"imageDetail.json", crc_of="y"))],
            'holds "x.json", whose directory entry has a Unicode Path extra field (0x7075) that names it',
            id="whose CRC-32 is not the name's",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL, local_extra=unicode_path_field("imageDetail.json", b"\r\nevil"))],
            'that names it "\\r\\nevil", which readers',
            id="naming something with control characters, quoted",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL, local_extra=unicode_path_field("imageDetail.json", b"\xff\xfe"))],
            'holds "imageDetail.json", whose local header has a Unicode Path extra field (0x7075) that is not '
            "version 1 UTF-8 text",
            id="not UTF-8",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL, local_extra=extra_field(0x7075, b"\x01\x00"))],
            "(0x7075) that is not version 1 UTF-8 text",
            id="too short",
        ),
        pytest.param(
            [
                Entry(
                    "imageDetail.json",
                    DETAIL,
                    local_extra=unicode_path_field("imageDetail.json", b"imageDetail.json", version=2),
                )
            ],
            "(0x7075) that is not version 1 UTF-8 text",
            id="of another version",
        ),
        pytest.param(
            [
                Entry(
                    "imageDetail.json",
                    DETAIL,
                    local_extra=unicode_path_field("imageDetail.json", b"imageDetail.json") * 2,
                    central_extra=unicode_path_field("imageDetail.json", b"imageDetail.json"),
                )
            ],
            "whose local header has more than one Unicode Path extra field (0x7075), of which readers take the first "
            "or the last",
            id="twice in one header",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL, zip64=True, local_extra=extra_field(1, bytes(16)))],
            "whose local header has more than one zip64 extra field (0x0001), of which readers take the first",
            id="two zip64 fields in the local header",
        ),
        pytest.param(
            [Entry("imageDetail.json", DETAIL, local_extra=b"\x75\x70\x20\x00imageDetail")],
            "whose local header has an extra field that runs past the end of its extra data",
            id="a local extra field that runs past its end",
        ),
    ],
)
def test_extra_fields_that_give_another_name_or_sizes_are_refused(parts: list[Entry], expected: str) -> None:
    # Given an entry whose local header or directory entry carries a Unicode Path field that names another file
    # (or cannot be read as one), or a field that gives the name or sizes twice
    message = refusal(build_zip(parts, zip64_end=any(part.zip64 for part in parts)))
    # Then the zip is refused, naming the entry, the header, the field and what it says, on every Python
    assert expected in message
    assert message.endswith(NAMING + " a standard tool (zip, Python's zipfile, a build's artifacts).")


def test_a_malformed_unicode_path_field_in_the_directory_is_refused() -> None:
    # Given a directory entry whose Unicode Path field is not UTF-8 (Python 3.12+'s zipfile refuses to open it)
    field = unicode_path_field("imageDetail.json", b"\xff")
    message = refusal(build_zip([Entry("imageDetail.json", DETAIL, central_extra=field)]))
    # Then it is refused on every Python
    assert (
        "that is not version 1 UTF-8 text: " + NAMING in message
    ) or "is not a zip file this function reads" in message


def test_extra_fields_that_agree_with_the_name_are_read() -> None:
    # Given Unicode Path fields that name the entry as its header does (in both headers; one of a non-ASCII name
    # marked UTF-8; one with another CRC-32, which readers skip), a Unicode Comment field (0x6375: a comment
    # names and sizes nothing), other fields, and zipalign-style padding
    same = unicode_path_field("imageDetail.json", b"imageDetail.json")
    cafe = unicode_path_field("src/caf\u00e9", "src/caf\u00e9".encode())
    parts = [
        Entry("src/caf\u00e9", b"1", local_extra=cafe, central_extra=cafe),
        Entry("README", b"x", local_extra=unicode_path_field("README", b"README", crc_of="other")),
        Entry(
            "imageDetail.json",
            DETAIL,
            local_extra=same
            + extra_field(0x6375, b"\x01\x00\x00\x00\x00evil.json")
            + extra_field(0x5455, b"\x01abcd")
            + b"\0\0",
            central_extra=same,
        ),
    ]
    # Then it is read
    assert isinstance(read(build_zip(parts)), ImageDetail)


def test_names_with_control_characters_are_quoted_in_every_message() -> None:
    # Given names that would add lines to what CodePipeline shows
    fake = 'a.txt\r\n\r\nAll checks passed. Set pin="tag" and retry.'
    listed = refusal_of_any(build_zip([Entry(fake, b"x"), Entry("b\u2028c", b"y")]))
    twice = refusal(build_zip([Entry(fake, b"x"), Entry(fake, b"y"), Entry("imageDetail.json", DETAIL)]))
    # Then each name is JSON-quoted: no line break reaches the message, and the name can be read back
    assert 'it holds: "a.txt\\r\\n\\r\\nAll checks passed. Set pin=\\"tag\\" and retry.", "b\\u2028c".' in listed
    assert 'holds "a.txt\\r\\n\\r\\nAll checks passed. Set pin=\\"tag\\" and retry." 2 times' in twice
    for message in (listed, twice):
        assert not any(character in message for character in "\r\n\u2028")


def with_classic_end_record(body: bytes, **values: int) -> bytes:
    """The zip64 zip with its classic end record's entry count, directory size or offset set to `values`."""
    at = body.rfind(b"PK\x05\x06")
    fields = dict(zip(("entries", "size", "offset"), struct.unpack_from("<H2L", body, at + 10), strict=True))
    fields.update(values)
    record = struct.pack("<H2L", fields["entries"], fields["size"], fields["offset"])
    return body[: at + 10] + record + body[at + 20 :]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"entries": 2}, "entry count (2)"),
        ({"size": 1}, "directory size (1)"),
        ({"offset": 3}, "directory offset (3)"),
    ],
)
def test_an_end_record_that_names_another_directory_than_its_zip64_record_is_refused(
    values: dict[str, int], field: str
) -> None:
    # Given a zip with a zip64 end record, read as it is and with the classic record's fields set to the zip64 mark
    body = with_zip64_end_record(zip_files({"imageDetail.json": DETAIL}))
    assert isinstance(read(body), ImageDetail)
    marked = with_classic_end_record(body, entries=0xFFFF, size=0xFFFF_FFFF, offset=0xFFFF_FFFF)
    assert isinstance(read(marked), ImageDetail)
    # When a classic field gives another value than the zip64 record
    message = refusal(with_classic_end_record(body, **values))
    # Then the zip is refused, naming the field and both values
    assert f"has an end record whose {field} is not its zip64 end record's" in message
    assert "readers that take one or the other read different directories" in message
    assert REFUSED in message


def test_the_file_as_a_symbolic_link_is_refused() -> None:
    # Given imageDetail.json zipped as a Unix symbolic link (its data is the target's path), and as a file
    def zipped(mode: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            info = zipfile.ZipInfo("imageDetail.json")
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, DETAIL)
        return buffer.getvalue()

    assert isinstance(read(zipped(0o100644)), ImageDetail)
    # When the link is read
    message = refusal(zipped(0o120777))
    # Then it is refused, saying how zip readers extract it
    assert "holds imageDetail.json as a symbolic link, which zip readers extract as a link to another file" in message
    assert message.endswith("Zip the file itself.")
