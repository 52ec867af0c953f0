"""The pure heart of the action: image details in, output files, summary and variables out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from imagedefs.config import ActionConfig, Settings
from imagedefs.errors import ArtifactContentError, ConfigurationError, quoted
from imagedefs.image_detail import MAX_FILE_BYTES, ImageDefinition, ImageDetail
from imagedefs.references import is_valid_container_name, parse_reference

# CodePipeline's limit for all output variables of one action together.
MAX_OUTPUT_VARIABLES_BYTES: Final = 122_880
IMAGE_URI_SUFFIX: Final = "_imageUri"
TAG_SUFFIX: Final = "_tag"
DIGEST_SUFFIX: Final = "_digest"


@dataclass(frozen=True)
class MergedDefinitions:
    """An input artifact holding an imagedefinitions.json, merged into the output as is."""

    artifact: str
    definitions: tuple[ImageDefinition, ...]


InputSource = ImageDetail | MergedDefinitions


@dataclass(frozen=True)
class ContainerImage:
    """The image chosen for one container, and why."""

    name: str
    image_uri: str
    artifact: str
    registry: str
    tag: str | None = None
    digest: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class OutputFile:
    """The one file written into one output artifact's zip."""

    artifact: str
    file_name: str
    content: bytes
    containers: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Everything the job writes and reports, decided before anything is written."""

    images: tuple[ContainerImage, ...]
    outputs: tuple[OutputFile, ...]

    def summary(self) -> str:
        lines = [
            f"{image.name} → {image.image_uri}" + (f" ({image.note})" if image.note else "") for image in self.images
        ]
        return "; ".join(lines)

    def output_variables(self) -> dict[str, str]:
        """Each container's image URI, tag and digest, for later actions (`#{Namespace.web_imageUri}`).

        Empty when all of them together would pass CodePipeline's limit for one action: the deploy
        needs only the file, so the job still succeeds.
        """
        variables: dict[str, str] = {}
        for image in self.images:
            variables[image.name + IMAGE_URI_SUFFIX] = image.image_uri
            if image.tag is not None:
                variables[image.name + TAG_SUFFIX] = image.tag
            if image.digest is not None:
                variables[image.name + DIGEST_SUFFIX] = image.digest
        size = sum(len(key.encode()) + len(value.encode()) for key, value in variables.items())
        return variables if size <= MAX_OUTPUT_VARIABLES_BYTES else {}


def select_inputs(input_artifacts: Sequence[str], config: ActionConfig) -> tuple[list[str], list[str]]:
    """The input artifacts to read, and those that `containers` leaves out."""
    if not input_artifacts:
        raise ConfigurationError(
            "The action has no input artifact. Add the output artifact of each ECR source action as an input "
            "artifact of this Invoke action."
        )
    if config.containers is None:
        return list(input_artifacts), []
    unknown = [name for name in config.containers if name not in input_artifacts]
    if unknown:
        raise ConfigurationError(
            f'UserParameters "containers" names {quoted(unknown)}, which is not an input artifact of this action. '
            f"Its input artifacts are {quoted(input_artifacts)}."
        )
    return (
        [name for name in input_artifacts if name in config.containers],
        [name for name in input_artifacts if name not in config.containers],
    )


def build_plan(
    sources: Sequence[InputSource],
    output_artifacts: Sequence[str],
    config: ActionConfig,
    settings: Settings,
) -> Plan:
    """Decide every container's image and every output file; raise before anything is written."""
    images: list[ContainerImage] = []
    for source in sources:
        if isinstance(source, ImageDetail):
            images.append(_image_from_detail(source, config))
        else:
            images.extend(_image_from_definition(source.artifact, definition) for definition in source.definitions)
    _check_unique_names(images)
    for image in images:
        _check_registry_allowed(image, settings)
    assignment = _assign_outputs(output_artifacts, [image.name for image in images], config)
    by_name = {image.name: image for image in images}
    outputs = tuple(
        _render(artifact, [by_name[name] for name in names], config) for artifact, names in assignment.items()
    )
    return Plan(images=tuple(images), outputs=outputs)


def _image_from_detail(detail: ImageDetail, config: ActionConfig) -> ContainerImage:
    name = _container_name(detail, config)
    repository, registry = detail.reference.name, detail.reference.registry
    if config.tag_pattern is not None:
        pattern = config.tag_pattern
        tag = next((tag for tag in detail.tags if pattern.fullmatch(tag)), None)
        if tag is None:
            raise ArtifactContentError(
                f'Artifact "{detail.artifact}": no tag of image {detail.image_uri} fully matches the tag pattern '
                f"{json.dumps(pattern.pattern)}; its tags are {quoted(detail.tags) or 'none'}. Push the image with a "
                'matching tag, or change "tag" in UserParameters (or the function\'s DefaultTagPattern).'
            )
    else:
        tag = detail.tags[0] if detail.tags else None
    if config.pin == "digest":
        return ContainerImage(name, detail.image_uri, detail.artifact, registry, tag=tag, digest=detail.digest)
    if tag is None:
        return ContainerImage(
            name,
            detail.image_uri,
            detail.artifact,
            registry,
            digest=detail.digest,
            note="image has no tag: pinned by digest",
        )
    return ContainerImage(name, f"{repository}:{tag}", detail.artifact, registry, tag=tag, digest=detail.digest)


def _container_name(detail: ImageDetail, config: ActionConfig) -> str:
    if config.containers is not None:
        return config.containers[detail.artifact]
    name = detail.repository_name.rsplit("/", 1)[-1]
    if not is_valid_container_name(name):
        raise ConfigurationError(
            f'Artifact "{detail.artifact}": the container name taken from repository "{detail.repository_name}" '
            f'is "{name}", which is not a valid ECS container name (letters, digits, hyphens and underscores). '
            f'Name the container with UserParameters "containers", for example '
            f'{{"containers": {{"{detail.artifact}": "web"}}}}.'
        )
    return name


def _image_from_definition(artifact: str, definition: ImageDefinition) -> ContainerImage:
    reference = parse_reference(definition.image_uri)
    return ContainerImage(
        definition.name,
        definition.image_uri,
        artifact,
        registry=reference.registry if reference else definition.image_uri,
        tag=reference.tag if reference else None,
        digest=reference.digest if reference else None,
    )


def _check_unique_names(images: Sequence[ContainerImage]) -> None:
    first_source: dict[str, str] = {}
    for image in images:
        if image.name in first_source:
            raise ConfigurationError(
                f'Container "{image.name}" would get an image from both artifact "{first_source[image.name]}" and '
                f'artifact "{image.artifact}". Give each artifact its own container with UserParameters '
                '"containers", for example {"containers": {"WebImage": "web", "ApiImage": "api"}}.'
            )
        first_source[image.name] = image.artifact


def _check_registry_allowed(image: ContainerImage, settings: Settings) -> None:
    if not settings.registry_allowed(image.registry):
        allowed = ", ".join(rule.text for rule in settings.allowed_registries)
        raise ArtifactContentError(
            f'Artifact "{image.artifact}": image {image.image_uri} for container "{image.name}" comes from registry '
            f"{image.registry}, which this function does not allow (allowed: {allowed}). Use an image from an allowed "
            "registry, or ask whoever deployed the function to add the registry to its AllowedRegistries parameter."
        )


def _assign_outputs(
    output_artifacts: Sequence[str], containers: Sequence[str], config: ActionConfig
) -> dict[str, tuple[str, ...]]:
    if not output_artifacts:
        raise ConfigurationError(
            "The action has no output artifact, so there is nowhere to write the image definitions. Add an output "
            "artifact to this Invoke action and use it as the input of the ECS deploy action."
        )
    if config.outputs is None:
        return {artifact: tuple(containers) for artifact in output_artifacts}
    unknown = [name for name in config.outputs if name not in output_artifacts]
    if unknown:
        raise ConfigurationError(
            f'UserParameters "outputs" names {quoted(unknown)}, which is not an output artifact of this action. '
            f"Its output artifacts are {quoted(output_artifacts)}."
        )
    missing = [name for name in output_artifacts if name not in config.outputs]
    if missing:
        raise ConfigurationError(
            f'UserParameters "outputs" does not say which containers go to output artifact(s) {quoted(missing)}. '
            'List every output artifact of the action in "outputs".'
        )
    for artifact, names in config.outputs.items():
        absent = [name for name in names if name not in containers]
        if absent:
            raise ConfigurationError(
                f'UserParameters "outputs" puts container(s) {quoted(absent)} into output artifact "{artifact}", '
                f"but the job has no such container. Its containers are {quoted(containers)}."
            )
    return dict(config.outputs)


def _render(artifact: str, images: Sequence[ContainerImage], config: ActionConfig) -> OutputFile:
    document: object
    if config.output_format == "imagedetail":
        if len(images) != 1:
            raise ConfigurationError(
                f'Output artifact "{artifact}" would get {len(images)} containers '
                f"({quoted(image.name for image in images)}), "
                'but format "imagedetail" (ECS blue/green) holds exactly one image. Give each output artifact one '
                'container with UserParameters "outputs".'
            )
        document = {"ImageURI": images[0].image_uri}
    else:
        document = [{"name": image.name, "imageUri": image.image_uri} for image in images]
    content = json.dumps(document, indent=2).encode() + b"\n"
    if len(content) > MAX_FILE_BYTES:
        raise ArtifactContentError(
            f'Output artifact "{artifact}": {config.file_name} would be {len(content)} bytes, over the '
            f"{MAX_FILE_BYTES // 1024} KB that ECS accepts. Split the containers across output artifacts with "
            'UserParameters "outputs".'
        )
    return OutputFile(artifact, config.file_name, content, tuple(image.name for image in images))
