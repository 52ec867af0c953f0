"""The image files: ECR's imageDetail.json or an imagedefinitions.json to merge, read from an input artifact; and
the imagedefinitions.json or imageDetail.json written for a rolling or blue/green ECS deploy."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import PurePath
from typing import Any, Final

from imagedefs.errors import ArtifactContentError, ConfigurationError, quoted
from imagedefs.json_text import JsonTextError, parse_json
from imagedefs.model import (
    ChosenImage,
    ContainerImage,
    ImageDefinition,
    ImageDetail,
    InputSource,
    MergedDefinitions,
    OutputFile,
)
from imagedefs.references import (
    DIGEST_PATTERN,
    ECR_HOST_PATTERN,
    TAG_PATTERN,
    ImageReference,
    is_valid_container_name,
    parse_reference,
)

IMAGE_DETAIL_FILE: Final = "imageDetail.json"
IMAGE_DEFINITIONS_FILE: Final = "imagedefinitions.json"
# ECS reads at most 100 KB of imagedefinitions.json; no legitimate input file is larger.
MAX_FILE_BYTES: Final = 100 * 1024
# The fields the ECR source action writes besides ImageURI. A file with none of them names an image chosen
# upstream (blue/green builds and this function's "imagedetail" format write {"ImageURI": ...} alone).
ECR_SOURCE_FIELDS: Final = (
    "ImageSizeInBytes",
    "ImageDigest",
    "Version",
    "ImagePushedAt",
    "RegistryId",
    "RepositoryName",
    "ImageTags",
)


def parse_image_detail(
    artifact: str, data: bytes, where: str | None = None, note: str | None = None
) -> ImageDetail | ChosenImage:
    """Validate every field of imageDetail.json that the planning relies on; `where` names the file in messages
    (default: the artifact's imageDetail.json), `note` is what the summary says of how the file was chosen."""
    where = where or file_location(artifact, IMAGE_DETAIL_FILE)
    document = _load_json(where, data)
    if not isinstance(document, dict):
        raise ArtifactContentError(f"{where}: the file must hold a JSON object, as the ECR source action writes it.")
    image_uri = _string_field(where, document, "ImageURI")
    if not any(field in document for field in ECR_SOURCE_FIELDS):
        return _chosen_image(where, artifact, image_uri, note)
    reference = parse_reference(image_uri)
    if reference is None or not reference.explicit_registry or reference.digest is None or reference.tag is not None:
        raise ArtifactContentError(
            f'{where}: field "ImageURI" is {json.dumps(image_uri)}, which is not an image in digest form '
            "<registry>/<repository>@sha256:<64 hex digits> as the ECR source action writes it (the file has ECR "
            'source fields). Use the output artifact of an ECR source action, or write {"ImageURI": ...} alone.'
        )
    digest = _string_field(where, document, "ImageDigest")
    if DIGEST_PATTERN.fullmatch(digest) is None:
        raise ArtifactContentError(
            f'{where}: field "ImageDigest" is {json.dumps(digest)}; it must be "sha256:" followed by 64 lowercase '
            "hex digits."
        )
    if digest != reference.digest:
        raise ArtifactContentError(
            f'{where}: field "ImageDigest" ({digest}) differs from the digest in "ImageURI" ({reference.digest}); '
            "the file does not describe one image. Rerun the ECR source action."
        )
    repository_name = _string_field(where, document, "RepositoryName")
    if repository_name != reference.repository:
        raise ArtifactContentError(
            f'{where}: field "RepositoryName" ({json.dumps(repository_name)}) is not the repository of "ImageURI" '
            f"({reference.repository}); the file does not describe one image. Rerun the ECR source action."
        )
    _check_registry_id(where, document, reference)
    tags = document.get("ImageTags")
    if not isinstance(tags, list):
        state = "is missing" if "ImageTags" not in document else f"must be a list of tags, not {_shown_value(tags)}"
        raise ArtifactContentError(f'{where}: field "ImageTags" {state} (a list of tags; it may be empty).')
    for tag in tags:
        if not isinstance(tag, str) or TAG_PATTERN.fullmatch(tag) is None:
            raise ArtifactContentError(
                f'{where}: field "ImageTags" holds {json.dumps(tag)}, which is not a valid Docker tag '
                "(letters, digits, _, . and -, at most 128 characters, not starting with . or -)."
            )
    return ImageDetail(
        artifact=artifact,
        image_uri=image_uri,
        reference=reference,
        digest=digest,
        tags=tuple(tags),
        repository_name=repository_name,
        note=note,
    )


def _chosen_image(where: str, artifact: str, image_uri: str, note: str | None) -> ChosenImage:
    reference = parse_reference(image_uri)
    if reference is None or (reference.tag is None and reference.digest is None):
        raise ArtifactContentError(
            f'{where}: field "ImageURI" is {json.dumps(image_uri)}, which is not an image reference with a tag or a '
            "digest: <registry>/<repository>:<tag>, <registry>/<repository>@sha256:<64 hex digits>, or both."
        )
    return ChosenImage(artifact=artifact, image_uri=image_uri, reference=reference, where=where, note=note)


def _check_registry_id(where: str, document: dict[str, Any], reference: ImageReference) -> None:
    if "RegistryId" not in document:
        return
    registry_id = _string_field(where, document, "RegistryId")
    ecr_host = ECR_HOST_PATTERN.fullmatch(reference.registry)
    if ecr_host is not None and ecr_host["account"] != registry_id:
        raise ArtifactContentError(
            f'{where}: field "RegistryId" ({json.dumps(registry_id)}) is not the account of the registry in '
            f'"ImageURI" ({reference.registry}); the file does not describe one image. Rerun the ECR source action.'
        )


def parse_image_definitions(artifact: str, data: bytes, where: str | None = None) -> tuple[ImageDefinition, ...]:
    """Validate an imagedefinitions.json written by an earlier action, to merge it as is."""
    where = where or file_location(artifact, IMAGE_DEFINITIONS_FILE)
    document = _load_json(where, data)
    if not isinstance(document, list) or not document:
        raise ArtifactContentError(
            f'{where}: the file must hold a non-empty JSON array of {{"name": ..., "imageUri": ...}} objects.'
        )
    definitions: list[ImageDefinition] = []
    entry_of_name: dict[str, int] = {}
    for index, entry in enumerate(document):
        entry_where = f"{where}, entry {index}"
        if not isinstance(entry, dict):
            raise ArtifactContentError(f'{entry_where}: must be an object {{"name": ..., "imageUri": ...}}.')
        name = _string_field(entry_where, entry, "name")
        if not is_valid_container_name(name):
            raise ArtifactContentError(
                f'{entry_where}: field "name" is {json.dumps(name)}, which is not a valid ECS container name '
                "(1-255 letters, digits, hyphens and underscores)."
            )
        image_uri = _string_field(entry_where, entry, "imageUri")
        reference = parse_reference(image_uri)
        if reference is None:
            raise ArtifactContentError(
                f'{entry_where}: field "imageUri" is {json.dumps(image_uri)}, which is not a valid image reference '
                "<registry>/<repository>[:<tag>][@sha256:<digest>]."
            )
        if name in entry_of_name:
            raise ArtifactContentError(
                f'{entry_where}: container "{name}" is also entry {entry_of_name[name]}; the file is ambiguous. '
                "Give each container one entry."
            )
        entry_of_name[name] = index
        definitions.append(ImageDefinition(name=name, image_uri=image_uri, reference=reference))
    return tuple(definitions)


def source_from_file(
    artifact: str, file_name: str, data: bytes, *, where: str | None = None, note: str | None = None
) -> InputSource:
    """Parse an imageDetail.json, or an imagedefinitions.json to merge, by its file name; `where` names the file
    in messages (default: the artifact and the file name), `note` is what the summary says of its choice."""
    if PurePath(file_name).name == IMAGE_DEFINITIONS_FILE:
        return MergedDefinitions(artifact, parse_image_definitions(artifact, data, where), where)
    return parse_image_detail(artifact, data, where, note)


def image_file_to_read(artifact: str, names: Collection[str]) -> tuple[str, str | None] | None:
    """The one rule for an artifact zip and a folder: which image file is read (imageDetail.json, else
    imagedefinitions.json), and the summary's note when the artifact holds both; None when it holds neither.
    """
    if IMAGE_DETAIL_FILE not in names:
        return (IMAGE_DEFINITIONS_FILE, None) if IMAGE_DEFINITIONS_FILE in names else None
    both = IMAGE_DEFINITIONS_FILE in names
    note = (
        f'artifact "{artifact}" holds both {IMAGE_DETAIL_FILE} and {IMAGE_DEFINITIONS_FILE}: {IMAGE_DETAIL_FILE} read, '
        f"{IMAGE_DEFINITIONS_FILE} ignored"
    )
    return IMAGE_DETAIL_FILE, note if both else None


def check_file_size(where: str, size: int) -> None:
    """Refuse a file over the limit; `where` names the artifact and file as the messages do."""
    if size > MAX_FILE_BYTES:
        raise ArtifactContentError(
            f"{where}: the file is larger than {MAX_FILE_BYTES // 1024} KB; an ECR source writes a few hundred bytes."
        )


def file_location(artifact: str, file_name: str) -> str:
    return f'Artifact "{artifact}", file {file_name}'


def _load_json(where: str, data: bytes) -> Any:
    check_file_size(where, len(data))
    try:
        # A UTF-8 byte order mark (some Windows tools write one) is allowed; any other encoding is not.
        text = data.decode("utf-8-sig")  # pragma: no mutate (codec names are case-insensitive)
    except UnicodeDecodeError as exc:
        raise ArtifactContentError(f"{where}: the file is not UTF-8 text (byte {exc.start} is invalid).") from exc
    try:
        return parse_json(text)
    except JsonTextError as exc:
        raise ArtifactContentError(f"{where}: the file is {exc}.") from exc


def _string_field(where: str, document: dict[str, Any], field: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        state = "is missing" if field not in document else f"must be a non-empty string, not {_shown_value(value)}"
        raise ArtifactContentError(f'{where}: field "{field}" {state}.')
    return value


def _shown_value(value: object) -> str:
    # Not json_text.json_kind: these messages have always shown Python's type and the value (`not str "latest"`),
    # and the refactor that brought json_kind changes no message.
    if value is None:
        return "null"
    return f"{type(value).__name__} {json.dumps(value)[:80]}"


def image_file(
    output_format: str, artifact: str, images: Sequence[ContainerImage], file_name: str, outputs_option: str
) -> OutputFile:
    """The one file of format "imagedefinitions" (every container) or "imagedetail" (exactly one image)."""
    document: object
    if output_format == "imagedetail":
        if len(images) != 1:
            raise ConfigurationError(
                f'Output artifact "{artifact}" would get {len(images)} containers '
                f"({quoted(image.name for image in images)}), "
                'but format "imagedetail" (ECS blue/green) holds exactly one image. Give each output artifact one '
                f"container with {outputs_option}."
            )
        document = {"ImageURI": images[0].image_uri}
    else:
        document = [{"name": image.name, "imageUri": image.image_uri} for image in images]
    content = json.dumps(document, indent=2).encode() + b"\n"
    if len(content) > MAX_FILE_BYTES:
        raise ArtifactContentError(
            f'Output artifact "{artifact}": {file_name} would be {len(content)} bytes, over the '
            f"{MAX_FILE_BYTES // 1024} KB that ECS accepts. Split the containers across output artifacts with "
            f"{outputs_option}."
        )
    return OutputFile(file_name, content)
