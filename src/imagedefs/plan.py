"""The one job flow and its planning, pure: the configuration and the inputs' image files in, every output file,
the summary and the variables out. The function (action.py) and the command line (cli.py) both run `plan_job`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol

from imagedefs.config import ActionConfig, EcsService, Settings
from imagedefs.errors import ArtifactContentError, ConfigurationError, capitalized, quoted
from imagedefs.formats.image_files import IMAGE_DEFINITIONS_FILE, IMAGE_DETAIL_FILE, file_location, image_file
from imagedefs.model import (
    ChosenImage,
    ContainerImage,
    ImageDefinition,
    ImageDetail,
    InputSource,
    LiveService,
    MergedDefinitions,
    OutputArtifact,
    Plan,
)
from imagedefs.references import ImageReference, is_valid_container_name, parse_reference

if TYPE_CHECKING:
    from imagedefs.formats.codedeploy import BlueGreenService


class PlanNotes(Protocol):
    """What the flow notices but does not refuse, told as it happens (the function logs it; the command line not)."""

    def inputs_ignored(self, artifacts: list[str]) -> None:
        """Input artifacts that `containers` does not name, before any input is read."""

    def definitions_left_out(self, artifact: str, containers: list[str]) -> None:
        """Entries of a merged imagedefinitions.json that `containers` does not pick, once the inputs are read."""


class _Silent:
    def inputs_ignored(self, artifacts: list[str]) -> None:
        pass

    def definitions_left_out(self, artifact: str, containers: list[str]) -> None:
        pass


SILENT: Final[PlanNotes] = _Silent()

# Under pin "digest" with "verify": the digest ECR gives for an image named by tag only (its URI), None when the
# image is not in ECR; the ECR gate's (image_gate.TagDigests), so planning itself reads nothing.
DigestResolver = Callable[[str], "str | None"]


def plan_job(
    config: ActionConfig,
    settings: Settings,
    inputs: Sequence[str],
    outputs: Sequence[str],
    read_source: Callable[[str], InputSource],
    blue_green_service: Callable[[ActionConfig], BlueGreenService],
    notes: PlanNotes = SILENT,
    live_service: Callable[[EcsService], LiveService] | None = None,
    digest_resolver: DigestResolver | None = None,
) -> Plan:
    """Select the inputs, read them, fetch the blue/green service if the format needs it (or the service a rolling
    job names, to check its containers against), and plan every output; raise before anything is written.

    `live_service` reads ECS; the command line, which reads no ECS, never names a service for a rolling job.
    """
    selected, ignored = select_inputs(inputs, config)
    if ignored:
        notes.inputs_ignored(ignored)
    sources = [read_source(name) for name in selected]
    for source in sources:
        if isinstance(source, MergedDefinitions) and (left_out := unpicked_definitions(source, config)):
            notes.definitions_left_out(source.artifact, left_out)
    service = blue_green_service(config) if config.output_format == "codedeploy" else None
    live = None
    if config.output_format == "imagedefinitions" and config.service is not None:
        assert live_service is not None, "a rolling job that names a service reads it"
        live = live_service(config.service)
    return build_plan(sources, outputs, config, settings, service, live, digest_resolver)


def select_inputs(input_artifacts: Sequence[str], config: ActionConfig) -> tuple[list[str], list[str]]:
    """The input artifacts to read, and those that `containers` leaves out."""
    if not input_artifacts and not config.images:  # with "images", every container may be given directly
        raise ConfigurationError(
            "The action has no input artifact. Add the output artifact of each ECR source action as an input "
            f"artifact of this Invoke action, or give each container's image in {config.wording.options.images}, "
            f"for example {config.wording.examples.images}."
        )
    if config.containers is None:
        return list(input_artifacts), []
    unknown = [name for name in config.containers if name not in input_artifacts]
    if unknown:
        raise ConfigurationError(
            f"{config.wording.options.containers} names {quoted(unknown)}, which is not an input artifact of this "
            "action. "
            + (
                f"Its input artifacts are {quoted(input_artifacts)}."
                if input_artifacts
                else "It has no input artifact."
            )
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
    service: BlueGreenService | None = None,
    live_service: LiveService | None = None,
    digest_resolver: DigestResolver | None = None,
) -> Plan:
    """Decide every container's image and every output file; raise before anything is written.

    `service` is what format "codedeploy" renders its files from; `live_service`, the service a rolling job's
    containers must all be containers of; `digest_resolver` gives, under pin "digest", the digest of an image
    named by tag only (None: such an image fails the job).
    """
    # An image outside the allow-list is never looked up in ECR: its missing digest fails the job instead.
    resolver = None if digest_resolver is None else _within_allow_list(digest_resolver, settings)
    images: list[ContainerImage] = []
    for source in sources:
        if isinstance(source, ImageDetail):
            images.extend(_images_from_detail(source, config))
        elif isinstance(source, ChosenImage):
            images.extend(_images_chosen_upstream(source, config, resolver))
        else:
            images.extend(_images_from_definitions(source, config, resolver))
    for image in images:
        if image.name in config.images:
            raise ConfigurationError(
                f'Container "{image.name}" gets an image from both artifact "{image.artifact}" and '
                f"{config.wording.options.images}: give each container its image in one place (name the "
                f"artifact's containers with {config.wording.options.containers}, for example "
                f"{config.wording.examples.containers})."
            )
    images.extend(_images_given_directly(config, resolver))
    _check_unique_names(images, config)
    for image in images:
        _check_registry_allowed(image, settings)
    assignment = _assign_outputs(output_artifacts, [image.name for image in images], config)
    by_name = {image.name: image for image in images}
    notes: tuple[str, ...] = ()
    if live_service is not None:
        written = [by_name[name] for name in dict.fromkeys(name for names in assignment.values() for name in names)]
        notes = (_checked_against(live_service, written, config),)
    outputs = tuple(
        _render(artifact, [by_name[name] for name in names], config, service) for artifact, names in assignment.items()
    )
    return Plan(images=tuple(images), outputs=outputs, notes=notes)


def unpicked_definitions(source: MergedDefinitions, config: ActionConfig) -> list[str]:
    """The entries of a merged imagedefinitions.json that `containers` leaves out (for the log)."""
    picked = _names_for(source.artifact, config)
    return [] if picked is None else [entry.name for entry in source.definitions if entry.name not in picked]


def _images_from_detail(detail: ImageDetail, config: ActionConfig) -> list[ContainerImage]:
    if config.tag_pattern is not None:
        tag = config.tag_pattern.first_match(detail.tags)
        if tag is None:
            raise ArtifactContentError(
                f'Artifact "{detail.artifact}": no tag of image {detail.image_uri} fully matches the tag pattern '
                f"{json.dumps(config.tag_pattern.text)} ({config.tag_pattern.source}); its tags are "
                f"{quoted(detail.tags) or 'none'}. Push the image with a matching tag, or change the pattern."
            )
    else:
        tag = detail.tags[0] if detail.tags else None
    by_digest = config.pin == "digest" or tag is None
    image_uri = detail.image_uri if by_digest else f"{detail.reference.name}:{tag}"
    untagged = "image has no tag: pinned by digest" if tag is None and config.pin != "digest" else None
    note = "; ".join(filter(None, (untagged, detail.note))) or None
    return [
        ContainerImage(
            name, image_uri, detail.artifact, detail.reference.registry, tag=tag, digest=detail.digest, note=note
        )
        for name in _container_names(detail.artifact, detail.reference, config)
    ]


def _images_chosen_upstream(
    chosen: ChosenImage, config: ActionConfig, resolver: DigestResolver | None
) -> list[ContainerImage]:
    """An image named upstream ({"ImageURI": ...} alone): used as it is (the tag pattern does not apply), but
    pinned by digest when the job pins by digest, which promises that no tag is written."""
    reference = chosen.reference
    where = chosen.where or file_location(chosen.artifact, IMAGE_DETAIL_FILE)
    image_uri, digest, resolved = chosen.image_uri, reference.digest, None
    if config.pin == "digest":
        image_uri, digest, resolved = _digest_form(reference, chosen.image_uri, where, config, resolver)
    used = "used as it is" if image_uri == chosen.image_uri else "pinned by digest, its tag left out"
    return [
        ContainerImage(
            name,
            image_uri,
            chosen.artifact,
            reference.registry,
            tag=reference.tag,
            digest=digest,
            note="; ".join(filter(None, (f"image chosen upstream: {used}", resolved, chosen.note))),
        )
        for name in _container_names(chosen.artifact, reference, config)
    ]


def _digest_form(
    reference: ImageReference, image_uri: str, where: str, config: ActionConfig, resolver: DigestResolver | None
) -> tuple[str, str, str | None]:
    """`<repository>@sha256:...`, its digest, and the summary's note on it, for an image an artifact names as it is,
    under `pin: "digest"`: no tag is ever written, so an image without a digest fails the job unless the deploy
    gate's "verify" (`resolver`) resolves the digest its tag names in ECR."""
    digest, note = _digest_of(reference, image_uri, resolver)
    if digest is None:
        verify_hint = _verify_hint(config, resolver)
        alternatives = f", pin by tag{verify_hint}" if verify_hint else ", or pin by tag"
        raise ArtifactContentError(
            f"{where}: image {image_uri} has a tag but no digest, and the job pins by digest "
            f"({config.wording.options.pin}, or else {config.wording.settings.default_pin}), which promises that no "
            f"tag is written{_unresolved(reference, config, resolver)}. Write the image's digest into "
            "the file (<repository>@sha256:<64 hex digits>, as the ECR source action and `docker inspect "
            f"--format '{{{{index .RepoDigests 0}}}}'` give it){alternatives}."
        )
    return f"{reference.name}@{digest}", digest, note


def _digest_of(
    reference: ImageReference, image_uri: str, resolver: DigestResolver | None
) -> tuple[str | None, str | None]:
    """The image's digest (its own, else the one `resolver` gives for its tag) and the summary's note on it."""
    if reference.digest is not None or resolver is None:
        return reference.digest, None
    resolved = resolver(image_uri)
    return resolved, None if resolved is None else f'digest of tag "{reference.tag or "latest"}" resolved in ECR'


def _within_allow_list(resolver: DigestResolver, settings: Settings) -> DigestResolver:
    def resolve(image_uri: str) -> str | None:
        reference = parse_reference(image_uri)
        return resolver(image_uri) if reference and settings.registry_allowed(reference.registry) else None

    return resolve


def _unresolved(reference: ImageReference, config: ActionConfig, resolver: DigestResolver | None) -> str:
    """Why "verify" left the digest out: the image is not in an allowed ECR registry (a resolver answers None only
    then)."""
    if resolver is None:
        return ""
    return (
        f", and {config.wording.options.verify} can resolve the digest of a tag only for an image in a private ECR "
        f"registry (<account>.dkr.ecr.<region>.amazonaws.com) that {config.wording.settings.allowed_registries} "
        f"allows, which registry {reference.registry} is not: nothing can resolve it"
    )


def _verify_hint(config: ActionConfig, resolver: DigestResolver | None) -> str:
    verify = config.wording.examples.verify
    if resolver is not None or verify is None:
        return ""
    return f", or set {verify} for the function to resolve the tag's digest in ECR (images in ECR only)"


def _images_from_definitions(
    source: MergedDefinitions, config: ActionConfig, resolver: DigestResolver | None
) -> list[ContainerImage]:
    """The merged file's entries that `containers` picks (each must exist), or all of them without it."""
    picked = _names_for(source.artifact, config)
    entries = {entry.name: entry for entry in source.definitions}
    where = source.where or file_location(source.artifact, IMAGE_DEFINITIONS_FILE)
    if picked is not None:
        absent = [name for name in picked if name not in entries]
        if absent:
            raise ConfigurationError(
                f"{config.wording.options.containers} picks container(s) {quoted(absent)} from "
                f"{where}, which has no such entry. Its entries are {quoted(entries)}."
            )
    return [
        _image_from_definition(source.artifact, entries[name], f'{where}, container "{name}"', config, resolver)
        for name in picked or entries
    ]


def _images_given_directly(config: ActionConfig, resolver: DigestResolver | None) -> list[ContainerImage]:
    """The images "images" names: pin applies as to an artifact's image (tag and digest as given; the tag
    pattern, which chooses among an image's tags, does not)."""
    images: list[ContainerImage] = []
    for name, given in config.images.items():
        reference = given.reference
        where = f'{config.wording.options.images} for container "{name}"'
        note = None
        digest = reference.digest
        if reference.digest is not None and (config.pin == "digest" or reference.tag is None):
            image_uri = f"{reference.name}@{reference.digest}"
            note = "image has no tag: pinned by digest" if reference.tag is None and config.pin != "digest" else None
        elif config.pin == "digest":
            digest, note = _digest_of(reference, given.image_uri, resolver)
            if digest is None:
                raise ConfigurationError(
                    f"{capitalized(where)} is {given.image_uri}, which has a tag but no digest, and the job pins by "
                    f"digest ({config.wording.options.pin}){_unresolved(reference, config, resolver)}. Give the "
                    "digest, which ECRBuildAndPublish's #{Namespace.ECRImageDigestId} or the ECR source action's "
                    f"#{{Namespace.ImageDigest}} holds, for example {config.wording.examples.images}"
                    f"{_verify_hint(config, resolver)}."
                )
            image_uri = f"{reference.name}@{digest}"
        else:
            image_uri = f"{reference.name}:{reference.tag}"
        images.append(
            ContainerImage(
                name,
                image_uri,
                artifact="",
                registry=reference.registry,
                tag=reference.tag,
                digest=digest,
                note=note,
                given_in=where,
            )
        )
    return images


def _names_for(artifact: str, config: ActionConfig) -> tuple[str, ...] | None:
    return None if config.containers is None else config.containers[artifact]


def _container_names(artifact: str, reference: ImageReference, config: ActionConfig) -> tuple[str, ...]:
    """The containers `containers` names for the artifact, or the last segment of the image's repository."""
    named = _names_for(artifact, config)
    if named is not None:
        return named
    # no mutate: rsplit's maxsplit only saves work; the last segment is the same with any of them.
    name = reference.repository.rsplit("/", 1)[-1]  # pragma: no mutate
    if not is_valid_container_name(name):
        raise ConfigurationError(
            f'Artifact "{artifact}": the container name taken from repository "{reference.repository}" '
            f'is "{name}", which is not a valid ECS container name (letters, digits, hyphens and underscores). '
            f"Name the container with {config.wording.options.containers}, for example "
            f"{config.wording.examples.containers}."
        )
    return (name,)


def _image_from_definition(
    artifact: str, definition: ImageDefinition, where: str, config: ActionConfig, resolver: DigestResolver | None
) -> ContainerImage:
    """A merged entry, as it is; under `pin: "digest"` in digest form."""
    reference = definition.reference
    image_uri, digest, resolved = definition.image_uri, reference.digest, None
    if config.pin == "digest":
        image_uri, digest, resolved = _digest_form(reference, image_uri, where, config, resolver)
    return ContainerImage(
        definition.name,
        image_uri,
        artifact,
        registry=reference.registry,
        tag=reference.tag,
        digest=digest,
        note=resolved,
    )


def _check_unique_names(images: Sequence[ContainerImage], config: ActionConfig) -> None:
    first_source: dict[str, str] = {}
    # ECS compares container names exactly, but names that differ only in case are one container's name
    # mistyped far more often than two containers (whose hostnames, as links give them, would collide).
    by_lowercase: dict[str, str] = {}
    for image in images:
        spelled = by_lowercase.setdefault(image.name.lower(), image.name)
        if spelled != image.name:
            raise ConfigurationError(
                f'Containers "{spelled}" and "{image.name}" differ only in case: name each container exactly as '
                "the task definition does (ECS compares names exactly), and only once."
            )
        if image.name in first_source:
            raise ConfigurationError(
                f'Container "{image.name}" would get an image from both artifact "{first_source[image.name]}" and '
                f'artifact "{image.artifact}". Give each artifact its own containers with '
                f"{config.wording.options.containers}, for example {config.wording.examples.containers}."
            )
        first_source[image.name] = image.artifact


def _check_registry_allowed(image: ContainerImage, settings: Settings) -> None:
    if not settings.registry_allowed(image.registry):
        allowed = ", ".join(rule.text for rule in settings.allowed_registries)
        where = f'Artifact "{image.artifact}"' if image.given_in is None else capitalized(image.given_in)
        message = (
            f'{where}: image {image.image_uri} for container "{image.name}" comes from registry {image.registry}, '
            f"which is not allowed (allowed: {allowed}). Use an image from an allowed registry, or add the registry "
            f"to {settings.wording.settings.allowed_registries}."
        )
        # An image given in UserParameters is the configuration's; one read from an artifact is its content's.
        raise ArtifactContentError(message) if image.given_in is None else ConfigurationError(message)


def _checked_against(service: LiveService, written: Sequence[ContainerImage], config: ActionConfig) -> str:
    """Refuse a container the service's current task definition lacks (the ECS deploy action would fail on it
    after it started); the summary's note when all are there."""
    absent = [image for image in written if image.name not in service.containers]
    if absent:
        # The option that named each absent container: "images", or "containers" (else the repository's name did).
        options = dict.fromkeys(
            config.wording.options.images if image.given_in is not None else config.wording.options.containers
            for image in absent
        )
        raise ConfigurationError(
            f"The job writes container(s) {quoted(image.name for image in absent)} into the image definitions, "
            f"which {service.described_as} does not have: the ECS deploy action, which makes the new revision from "
            f'that task definition, would fail with "The AWS ECS container {absent[0].name} does not exist". Its '
            f"containers are {quoted(service.containers)}: name those with {' or '.join(options)}, or set "
            f"{config.wording.options.service} to the service this pipeline deploys."
        )
    return service.summary_note()


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
    option = config.wording.options.outputs
    unknown = [name for name in config.outputs if name not in output_artifacts]
    if unknown:
        raise ConfigurationError(
            f"{option} names {quoted(unknown)}, which is not an output artifact of this action. "
            f"Its output artifacts are {quoted(output_artifacts)}."
        )
    missing = [name for name in output_artifacts if name not in config.outputs]
    if missing:
        raise ConfigurationError(
            f"{option} does not say which containers go to output artifact(s) {quoted(missing)}. "
            f"List every output artifact of the action in it."
        )
    for artifact, names in config.outputs.items():
        absent = [name for name in names if name not in containers]
        if absent:
            raise ConfigurationError(
                f'{option} puts container(s) {quoted(absent)} into output artifact "{artifact}", '
                f"but the job has no such container. Its containers are {quoted(containers)}."
            )
    return dict(config.outputs)


def _render(
    artifact: str, images: Sequence[ContainerImage], config: ActionConfig, service: BlueGreenService | None
) -> OutputArtifact:
    containers = tuple(image.name for image in images)
    if config.output_format == "codedeploy":
        assert service is not None, 'format "codedeploy" is rendered from the service'
        # Imported here: only a blue/green job loads the task definition and appspec module.
        from imagedefs.formats.codedeploy import codedeploy_files

        files = codedeploy_files(
            service,
            images,
            containers_option=config.wording.options.containers,
            overrides=config.overrides,
            overrides_option=config.wording.options.overrides,
            hooks=config.hooks,
        )
        return OutputArtifact(artifact, files, containers)
    file = image_file(config.output_format, artifact, images, config.file_name, config.wording.options.outputs)
    return OutputArtifact(artifact, (file,), containers)
