"""Artifact zips: find and read the one small file that matters, and write the output zip.

Pure file handling, shared by the Lambda action (zips read from S3) and the command line (zips on disk).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath
from typing import IO, Final

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
from imagedefs.transform import InputSource, MergedDefinitions

MAX_ZIP_ENTRIES: Final = 10_000
FILES_LISTED_IN_ERRORS: Final = 20
# A fixed timestamp makes a rerun of the same job write byte-identical zips.
ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)


def source_from_zip(artifact: str, file: IO[bytes] | io.RawIOBase, where: str) -> InputSource:
    """The imageDetail.json (or, failing that, imagedefinitions.json) at the top of an artifact zip."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArtifactContentError(
            f'Artifact "{artifact}" {where} is not a zip file. Use the output artifact of an ECR source action, '
            "or of a build that zips an imageDetail.json."
        ) from exc
    with archive:
        names = archive.namelist()
        if len(names) > MAX_ZIP_ENTRIES:
            raise ArtifactContentError(
                f'Artifact "{artifact}" {where} holds {len(names)} files; at most {MAX_ZIP_ENTRIES} are read.'
            )
        for name in (IMAGE_DETAIL_FILE, IMAGE_DEFINITIONS_FILE):
            if name in names:
                return source_from_file(artifact, name, _read_member(archive, artifact, name))
    shown = ", ".join(names[:FILES_LISTED_IN_ERRORS]) or "no files"
    more = f" and {len(names) - FILES_LISTED_IN_ERRORS} more" if len(names) > FILES_LISTED_IN_ERRORS else ""
    raise ArtifactContentError(
        f'Artifact "{artifact}" has no {IMAGE_DETAIL_FILE} (nor {IMAGE_DEFINITIONS_FILE}) at the top of its zip; '
        f"it holds: {shown}{more}. Use the output artifact of an ECR source action as this input, or name the "
        'right input artifacts with UserParameters "containers".'
    )


def source_from_file(artifact: str, file_name: str, data: bytes) -> InputSource:
    """Parse an imageDetail.json, or an imagedefinitions.json to merge, by its file name."""
    if PurePath(file_name).name == IMAGE_DEFINITIONS_FILE:
        return MergedDefinitions(artifact, parse_image_definitions(artifact, data))
    return parse_image_detail(artifact, data)


def zip_single_file(file_name: str, content: bytes) -> bytes:
    """A deterministic zip holding one file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(file_name, date_time=ZIP_TIMESTAMP)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, content)
    return buffer.getvalue()


def _read_member(archive: zipfile.ZipFile, artifact: str, name: str) -> bytes:
    where = file_location(artifact, name)
    info = archive.getinfo(name)
    check_file_size(where, info.file_size)
    try:
        with archive.open(info) as member:
            # The header may lie: never decompress more than the limit.
            data = member.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise ArtifactContentError(f"{where}: cannot be read from the zip ({exc}).") from exc
    check_file_size(where, len(data))
    return data
