"""The domain types: the images inputs describe, the images chosen for containers, and the plan of every output.

Plain values, made by the formats (reading) and the planning, and read by the writers: no module here imports
another module of the package except for image references.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from imagedefs.references import ImageReference

# CodePipeline's limit for all output variables of one action together.
MAX_OUTPUT_VARIABLES_BYTES: Final = 122_880
IMAGE_URI_SUFFIX: Final = "_imageUri"
TAG_SUFFIX: Final = "_tag"
DIGEST_SUFFIX: Final = "_digest"


@dataclass(frozen=True)
class ImageDetail:
    """An image pushed to ECR, as described by the ECR source action's imageDetail.json."""

    artifact: str
    image_uri: str
    reference: ImageReference
    digest: str
    tags: tuple[str, ...]
    repository_name: str
    # What the summary says of how the artifact's file was chosen (an artifact holding both image files).
    note: str | None = None


@dataclass(frozen=True)
class ChosenImage:
    """An image chosen upstream: an imageDetail.json holding only {"ImageURI": ...}, used as it is."""

    artifact: str
    image_uri: str
    reference: ImageReference
    # How messages name the file it was read from (None: the artifact's imageDetail.json); the summary's note.
    where: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ImageDefinition:
    """One entry of imagedefinitions.json: an ECS container and the image it runs."""

    name: str
    image_uri: str
    reference: ImageReference


@dataclass(frozen=True)
class MergedDefinitions:
    """An input artifact holding an imagedefinitions.json: its entries (those `containers` picks) are merged."""

    artifact: str
    definitions: tuple[ImageDefinition, ...]
    # How messages name the file it was read from (None: the artifact's imagedefinitions.json).
    where: str | None = None


InputSource = ImageDetail | ChosenImage | MergedDefinitions


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
    # The option that gave the image directly (UserParameters "images"); None for an image from an artifact.
    given_in: str | None = None


@dataclass(frozen=True)
class OutputFile:
    """One file inside an output artifact's zip."""

    name: str
    content: bytes


@dataclass(frozen=True)
class OutputArtifact:
    """What one output artifact's zip holds, and the containers whose images it carries."""

    artifact: str
    files: tuple[OutputFile, ...]
    containers: tuple[str, ...]


@dataclass(frozen=True)
class LiveService:
    """The ECS service a rolling job's imagedefinitions.json is for, as ECS describes it now: the ECS deploy action
    makes the new revision from its current task definition, so only that one's containers can take an image."""

    service: str  # <cluster>/<service>, whether the job named it so or by its ARN
    task_definition: str  # the current task definition's ARN
    described_as: str  # for messages: 'the task definition <its ARN> of ECS service "prod/shop"'
    containers: tuple[str, ...]
    # deploymentConfiguration.strategy when it is not a rolling update (BLUE_GREEN, LINEAR, CANARY), else None.
    native_strategy: str | None = None

    def summary_note(self) -> str:
        """What the summary says of the check: the service, its task definition's family:revision, the strategy."""
        checked = f'containers checked against ECS service "{self.service}" (task definition '
        checked += f"{self.task_definition.rpartition('/')[2]})"
        if self.native_strategy is None:
            return checked
        return f"{checked}, which ECS deploys with its {self.native_strategy} strategy"


@dataclass(frozen=True)
class Plan:
    """Everything the job writes and reports, decided before anything is written."""

    images: tuple[ContainerImage, ...]
    outputs: tuple[OutputArtifact, ...]
    # What the job checked, for the summary after the images (the live service's containers).
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        lines = [
            f"{image.name} → {image.image_uri}" + (f" ({image.note})" if image.note else "") for image in self.images
        ]
        return "; ".join([*lines, *self.notes])

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
