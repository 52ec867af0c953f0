"""`imagedefs`: the action's rewrite on files, outside CodePipeline (a CodeBuild step, GitHub Actions, a shell).

Reads imageDetail.json files, imagedefinitions.json files, artifact zips or folders holding one; takes a flag
for every UserParameters key that needs no AWS call; writes the output file (with `--format codedeploy`,
taskdef.json and appspec.yaml from a task definition file given with --taskdef), or standard output. Every read
is bounded, no special file is replaced and no input overwritten. Exit codes: 0 success, 1 bad content, 2 usage
or configuration error, or the output could not be written. It never imports boto3.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import os
import re
import secrets
import select
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Final, Literal

from imagedefs import __version__
from imagedefs.config import (
    ENV_ALLOWED_REGISTRIES,
    ENV_ASSUMABLE_ROLES,
    ENV_DEFAULT_HOOKS,
    ENV_DEFAULT_PIN,
    ENV_DEFAULT_TAG_PATTERN,
    ENV_ECR_REPOSITORIES,
    ENV_ECS_SERVICES,
    ENV_FAIL_ON_SEVERITY,
    ENV_VERIFY_IMAGES,
    FORMATS,
    PINS,
    ActionConfig,
    OptionExamples,
    OptionNames,
    SettingNames,
    Settings,
    Wording,
    config_from_mapping,
)
from imagedefs.errors import ArtifactContentError, ConfigurationError, ImageDefsError, quoted
from imagedefs.formats.codedeploy import MAX_PORT, BlueGreenService, is_port, service_from_task_definition_file
from imagedefs.formats.image_files import (
    IMAGE_DEFINITIONS_FILE,
    IMAGE_DETAIL_FILE,
    MAX_FILE_BYTES,
    file_location,
    image_file_to_read,
    source_from_file,
)
from imagedefs.formats.zip import FILES_LISTED_IN_ERRORS, source_from_zip
from imagedefs.json_text import JsonTextError, is_unicode_text, parse_json
from imagedefs.model import InputSource, OutputArtifact
from imagedefs.plan import plan_job

EXIT_OK: Final = 0
EXIT_BAD_CONTENT: Final = 1
EXIT_USAGE: Final = 2
# Read at most this much of a --taskdef file (ECS allows 64 KB; describe-task-definition's output adds a little).
MAX_TASKDEF_FILE_BYTES: Final = 1024 * 1024
# A zip that is no regular file (a pipe, <(...)) cannot be read by seeking: it is read whole, up to this much.
MAX_PIPED_ZIP_BYTES: Final = 8 * 1024 * 1024
# A pipe or FIFO that sends (or, given as --output, takes) nothing for PIPE_IDLE_SECONDS, or is still at it after
# PIPE_SECONDS, is given up on: the command never waits forever on a FIFO nobody serves.
PIPE_IDLE_SECONDS: Final = 3.0
PIPE_SECONDS: Final = 15.0
# How often opening a FIFO for writing is tried again while nobody has opened it for reading.
_REOPEN_SECONDS: Final = 0.05
READ_CHUNK_BYTES: Final = 64 * 1024
OUTPUT_ARTIFACT: Final = "output"
# CodePipeline's artifact names (botocore's codepipeline model, ArtifactName): --outputs makes a folder of each.
_ARTIFACT_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,100}", re.ASCII)
# Messages name the flags typed here, not UserParameters keys or stack parameters.
CLI_WORDING: Final = Wording(
    options=OptionNames(
        containers="--container",
        pin="--pin",
        tag="--tag",
        format="--format",
        file="--file",
        outputs="--outputs",
        service="--taskdef",
        images="--image",
        overrides="--override",
        hooks="--hook",
        # The command line reads nothing from AWS: neither key has a flag, and their stack floors do not apply.
        verify="the ECR lookup of the function",
        fail_on_severity="the scan findings gate of the function",
        role="the cross-account role of the function",
    ),
    examples=OptionExamples(
        containers="--container WebImage=web --container ApiImage=api,worker",
        outputs="""--outputs '{"WebDefinitions": ["web"], "ApiDefinitions": ["api"]}'""",
        service="--format codedeploy --taskdef current-taskdef.json",
        images="--image web=123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web@sha256:<64 hex digits>",
        verify=None,
    ),
    settings=SettingNames(
        default_pin=f"the environment variable {ENV_DEFAULT_PIN}",
        default_tag_pattern=f"the environment variable {ENV_DEFAULT_TAG_PATTERN}",
        allowed_registries=f"--allowed-registries (or the environment variable {ENV_ALLOWED_REGISTRIES})",
        # The command line reads no ECS service; its one message about the variable names it bare, as it always has.
        ecs_services=ENV_ECS_SERVICES,
        default_hooks=f"the environment variable {ENV_DEFAULT_HOOKS}",
        verify_images=f"the environment variable {ENV_VERIFY_IMAGES}",
        fail_on_severity=f"the environment variable {ENV_FAIL_ON_SEVERITY}",
        ecr_repositories=f"the environment variable {ENV_ECR_REPOSITORIES}",
        assumable_roles=f"the environment variable {ENV_ASSUMABLE_ROLES}",
    ),
)


_FUNCTION_ONLY_VARIABLES: Final = (ENV_VERIFY_IMAGES, ENV_FAIL_ON_SEVERITY, ENV_ECR_REPOSITORIES, ENV_ASSUMABLE_ROLES)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not arguments.inputs and not arguments.image and arguments.images is None:
        parser.error("give an input [ARTIFACT=]PATH, or each container's image with --image CONTAINER=REFERENCE")
    reader = _InputReader()
    try:
        _check_arguments_are_text(arguments)
        _check_codedeploy_flags(arguments)
        inputs = _named_inputs(arguments.inputs)
        wording = _wording(arguments)
        settings = Settings.from_environment(
            {
                # The ECR gate's stack settings are the function's: the command line reads nothing from AWS.
                **{name: value for name, value in os.environ.items() if name not in _FUNCTION_ONLY_VARIABLES},
                **({ENV_ALLOWED_REGISTRIES: arguments.allowed_registries} if arguments.allowed_registries else {}),
            },
            wording,
        )
        config = config_from_mapping(_configuration(arguments), settings)
        plan = plan_job(
            config,
            settings,
            list(inputs),
            _output_artifacts(config),
            lambda name: reader.source(name, inputs[name]),
            lambda _: _blue_green_service(arguments, reader),
        )
        destinations = _destinations(arguments.output, plan.outputs, by_artifact=config.outputs is not None)
    except ImageDefsError as error:
        return _fail(str(error), EXIT_USAGE if isinstance(error, ConfigurationError) else EXIT_BAD_CONTENT)
    try:
        _write(destinations, reader.files_read)
    except _WriteError as error:
        return _fail(f"Cannot write {error.destination}: {error.reason}.", EXIT_USAGE)
    # With a file on standard output (- or /dev/stdout), the summary goes where messages go.
    to_stdout = any(_is_standard_output(destination) for destination in destinations)
    print(f"Wrote {', '.join(map(str, destinations))}: {plan.summary()}", file=sys.stderr if to_stdout else sys.stdout)
    return EXIT_OK


def _is_standard_output(destination: _Destination) -> bool:
    if destination.path is None:
        return True
    if sys.stdout is None:  # started with standard output closed (`>&-`)
        return False
    try:
        written, standard_output = destination.path.stat(), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):  # gone, or a standard output with no descriptor (a test's capture)
        return False
    return (written.st_dev, written.st_ino) == (standard_output.st_dev, standard_output.st_ino)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagedefs",
        description="Turn ECR imageDetail.json files into the imagedefinitions.json of an ECS deploy.",
        epilog="Exit codes: 0 written, 1 bad input content, 2 usage or configuration error, or the output could not "
        "be written.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="[ARTIFACT=]PATH",
        help=f"an {IMAGE_DETAIL_FILE}, an {IMAGE_DEFINITIONS_FILE} to merge, an artifact zip, or a folder holding one. "
        "ARTIFACT names it (as in --containers); default: the zip's or folder's name, or the file's folder name",
    )
    parser.add_argument(
        "--containers",
        metavar="JSON",
        help='{"ARTIFACT": "container" or ["container", ...], ...}, as in UserParameters',
    )
    parser.add_argument(
        "--container",
        action="append",
        default=[],
        metavar="ARTIFACT=NAME[,NAME...]",
        help="the container(s) that get the image of ARTIFACT (or the entries picked from its imagedefinitions.json)",
    )
    parser.add_argument(
        "--images",
        metavar="JSON",
        help='{"container": "REFERENCE" or {"repository", "digest" or "tag", "registry"}, ...}, as UserParameters '
        '"images" gives it (a "registry" is needed: the command line knows no account or region)',
    )
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="CONTAINER=REFERENCE",
        help="the image of CONTAINER, a full reference (registry/repository:tag or @sha256:...), one entry of "
        "--images; with an image for every container, no input is needed",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="CONTAINER.KEY[.NAME]=VALUE",
        help='with --format codedeploy: one entry of UserParameters "overrides": CONTAINER.environment.NAME=VALUE, '
        "CONTAINER.dockerLabels.KEY=VALUE, CONTAINER.command='[\"arg\", ...]' (JSON), task.cpu=VALUE or "
        "task.memory=VALUE",
    )
    parser.add_argument(
        "--hook",
        action="append",
        default=[],
        metavar="EVENT=FUNCTION",
        help="with --format codedeploy: an AppSpec lifecycle hook (BeforeInstall, AfterInstall, AfterAllowTestTraffic, "
        "BeforeAllowTraffic, AfterAllowTraffic) and the Lambda function name or ARN it runs",
    )
    parser.add_argument("--pin", choices=PINS, help="tag: repository:tag; digest: repository@sha256:...")
    parser.add_argument("--tag", metavar="REGEX", help="use the first tag that fully matches REGEX")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="imagedefinitions (ECS), imagedetail (blue/green, one image), or codedeploy (blue/green: taskdef.json "
        "and appspec.yaml from --taskdef)",
    )
    parser.add_argument("--file", metavar="NAME", help="output file name (default by format)")
    parser.add_argument(
        "--outputs",
        metavar="JSON",
        help='{"OUTPUT": ["container", ...], ...}, as in UserParameters: each OUTPUT is a folder in the --output '
        "folder, holding the file for its containers",
    )
    parser.add_argument(
        "--output",
        metavar="PATH",
        help="the file to write, - for standard output, or a folder to write NAME in (default: ./NAME); with "
        "--format codedeploy or --outputs, the folder (default: .). An existing FIFO, terminal or /dev/null is "
        "written into, never replaced; an input is never overwritten",
    )
    parser.add_argument(
        "--taskdef",
        metavar="FILE",
        help="with --format codedeploy: the service's current task definition, as `aws ecs describe-task-definition "
        "--include TAGS` prints it or the bare task definition",
    )
    parser.add_argument(
        "--lb-container",
        metavar="NAME",
        help="with --format codedeploy: the container the load balancer sends traffic to (default: the task "
        "definition's one container that maps a port)",
    )
    parser.add_argument(
        "--lb-port",
        metavar="PORT",
        type=_port,
        help="with --format codedeploy: that container's port (default: the one port it maps)",
    )
    parser.add_argument(
        "--allowed-registries", metavar="LIST", help=f"comma-separated allow-list (default: ${ENV_ALLOWED_REGISTRIES})"
    )
    return parser


def _configuration(arguments: argparse.Namespace) -> dict[str, object]:
    """The flags as the configuration mapping that UserParameters' JSON object is (never as its text, whose
    1,000-character limit is CodePipeline's, not the command line's)."""
    parameters: dict[str, object] = {
        key: _json_flag(f"--{key}", text)
        for key, text in (
            ("containers", arguments.containers),
            ("outputs", arguments.outputs),
            ("images", arguments.images),
        )
        if text is not None
    }
    if arguments.container:
        containers = parameters.setdefault("containers", {})
        if not isinstance(containers, dict):
            raise ConfigurationError("--container adds to --containers, which must then be a JSON object.")
        for artifact, names in _key_value_flags(
            arguments.container,
            containers,
            malformed=lambda entry: f'--container "{entry}" must be ARTIFACT=NAME or ARTIFACT=NAME,NAME,...',
            repeated=lambda artifact: (
                f'--container names artifact "{artifact}" twice; give it all its containers at once, for example '
                f"--container {artifact}=web,worker."
            ),
        ):
            listed = names.split(",")
            containers[artifact] = listed if len(listed) > 1 else names
    if arguments.image:
        images = parameters.setdefault("images", {})
        if not isinstance(images, dict):
            raise ConfigurationError("--image adds to --images, which must then be a JSON object.")
        for container, reference in _key_value_flags(
            arguments.image,
            images,
            malformed=lambda entry: f"--image {json.dumps(entry)} must be CONTAINER=REFERENCE.",
            repeated=lambda container: f"--image names container {json.dumps(container)} twice; give it one image.",
        ):
            images[container] = reference
    if arguments.override:
        parameters["overrides"] = _overrides(arguments.override)
    hooks: dict[str, str] = {}
    for lifecycle_event, function in _key_value_flags(
        arguments.hook,
        hooks,
        malformed=lambda entry: f"--hook {json.dumps(entry)} must be EVENT=FUNCTION, for example {_HOOK_EXAMPLE}.",
        repeated=lambda name: f"--hook names lifecycle event {json.dumps(name)} twice; give it one function.",
    ):
        hooks[lifecycle_event] = function
    if hooks:
        parameters["hooks"] = hooks
    for key in ("pin", "tag", "format", "file"):
        value = getattr(arguments, key)
        if value is not None:
            parameters[key] = value
    return parameters


def _key_value_flags(
    entries: Sequence[str],
    given: Mapping[str, object],
    *,
    malformed: Callable[[str], str],
    repeated: Callable[[str], str],
) -> Iterator[tuple[str, str]]:
    """Each KEY=VALUE flag's key and value, in order; a flag without "=", or a key that `given` already holds (from
    the JSON flag, or an earlier flag the caller added), is a usage error with the message the caller words."""
    for entry in entries:
        key, equals, value = entry.partition("=")
        if not equals:
            raise ConfigurationError(malformed(entry))
        if key in given:
            raise ConfigurationError(repeated(key))
        yield key, value


_HOOK_EXAMPLE: Final = "--hook AfterAllowTestTraffic=CodeDeployHook_smoke_test"
_OVERRIDE_EXAMPLE: Final = "--override web.environment.GIT_SHA=$CODEBUILD_RESOLVED_SOURCE_VERSION"
# The settings an --override names by CONTAINER.KEY.NAME (one value of a map) and by CONTAINER.KEY / task.KEY.
_NAMED_OVERRIDES: Final = ("environment", "dockerLabels")
_TASK_OVERRIDES: Final = ("cpu", "memory")


def _overrides(entries: Sequence[str]) -> dict[str, object]:
    """--override flags as UserParameters "overrides": one flag per value, checked by the same rules after."""
    containers: dict[str, dict[str, object]] = {}
    task: dict[str, object] = {}
    for entry in entries:
        path, equals, value = entry.partition("=")
        # A container name has no dot; an environment variable or label name may have some.
        container, _, rest = path.partition(".")
        key, dot, name = rest.partition(".")
        where = f"--override {json.dumps(path)}"
        given: object = value
        if not equals or not key or (key in _NAMED_OVERRIDES) != bool(dot):
            raise ConfigurationError(
                f"--override {json.dumps(entry)} must be CONTAINER.environment.NAME=VALUE, "
                "CONTAINER.dockerLabels.KEY=VALUE, CONTAINER.command='[\"arg\", ...]', task.cpu=VALUE or "
                f"task.memory=VALUE, for example {_OVERRIDE_EXAMPLE}."
            )
        if container == "task" and key in _TASK_OVERRIDES:
            target, field_name = task, key
        elif key in _NAMED_OVERRIDES:
            named = containers.setdefault(container, {}).setdefault(key, {})
            assert isinstance(named, dict)
            target, field_name = named, name
        else:
            target, field_name = containers.setdefault(container, {}), key
            if key == "command":
                try:
                    given = parse_json(value)  # a list of strings, checked by UserParameters' rules after
                except JsonTextError as exc:
                    raise ConfigurationError(
                        f"{where} is {exc}: give the command as a JSON list, for example web.command='[\"serve\"]'."
                    ) from exc
        if field_name in target:
            raise ConfigurationError(f"{where} is given twice; give it one value.")
        target[field_name] = given
    return {**({"containers": containers} if containers else {}), **({"task": task} if task else {})}


def _json_flag(flag: str, text: str) -> object:
    try:
        return parse_json(text)
    except JsonTextError as exc:
        raise ConfigurationError(f"{flag} is {exc}.") from exc


def _wording(arguments: argparse.Namespace) -> Wording:
    """CLI_WORDING, naming the JSON flag (--containers, --images) where the user gave only that one."""
    options = CLI_WORDING.options
    return replace(
        CLI_WORDING,
        options=replace(
            options,
            containers="--containers" if arguments.containers and not arguments.container else options.containers,
            images="--images" if arguments.images and not arguments.image else options.images,
        ),
    )


def _output_artifacts(config: ActionConfig) -> list[str]:
    """The one output, or those --outputs names: each becomes a folder, so each must be an artifact name."""
    if config.outputs is None:
        return [OUTPUT_ARTIFACT]
    for name in config.outputs:
        if _ARTIFACT_NAME.fullmatch(name) is None:
            raise ConfigurationError(
                f"--outputs names output {json.dumps(name)[:110]}, which is not an artifact name (1-100 letters, "
                "digits, hyphens and underscores, as CodePipeline names artifacts): each output is written in a "
                "folder of that name."
            )
    return list(config.outputs)


def _blue_green_service(arguments: argparse.Namespace, reader: _InputReader) -> BlueGreenService:
    if arguments.taskdef is None:
        raise ConfigurationError(
            "--format codedeploy needs --taskdef FILE: the service's current task definition, for example from "
            "`aws ecs describe-task-definition --task-definition FAMILY --include TAGS > current-taskdef.json`."
        )
    path = Path(arguments.taskdef)
    data = reader.read(path, MAX_TASKDEF_FILE_BYTES, "--taskdef", "a task definition is at most 64 KB")
    return service_from_task_definition_file(
        data,
        str(path),
        arguments.lb_container,
        arguments.lb_port,
        container_flag="--lb-container",
        port_flag="--lb-port",
    )


def _check_arguments_are_text(arguments: argparse.Namespace) -> None:
    """Bytes that are not UTF-8 reach argv as unpaired surrogates, which no output file, message or summary can
    carry: refuse them here, naming the flag.
    """
    for dest, value in vars(arguments).items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and not is_unicode_text(text) for text in values):
            flag = "An input" if dest == "inputs" else f"--{dest.replace('_', '-')}"
            raise ConfigurationError(f"{flag} is not valid UTF-8 text: give it in UTF-8.")


def _check_codedeploy_flags(arguments: argparse.Namespace) -> None:
    given = [
        flag
        for flag, value in (
            ("--taskdef", arguments.taskdef),
            ("--lb-container", arguments.lb_container),
            ("--lb-port", arguments.lb_port),
        )
        if value is not None
    ]
    if given and arguments.format != "codedeploy":
        raise ConfigurationError(f"{', '.join(given)} applies to --format codedeploy only.")


def _fail(message: str, exit_code: int) -> int:
    print(f"imagedefs: error: {message}", file=sys.stderr)
    return exit_code


def _named_inputs(texts: Sequence[str]) -> dict[str, Path]:
    """Each input by artifact name; two inputs of one name would leave one image out, so they are refused."""
    inputs: dict[str, Path] = {}
    for text in texts:
        name, path = _named_input(text)
        if name in inputs:
            raise ConfigurationError(
                f'Inputs {inputs[name]} and {path} are both artifact "{name}"; name each one with ARTIFACT=PATH.'
            )
        inputs[name] = path
    return inputs


def _named_input(text: str) -> tuple[str, Path]:
    name, equals, path_text = text.partition("=")
    path = Path(path_text if equals else text)
    # Without ARTIFACT= the name comes from what the path is, which a missing path cannot tell.
    where = f'Input "{name}": {path}' if equals else f"Input {path}"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        dangling = " (a symbolic link to a file that does not exist)" if path.is_symlink() else ""
        raise ConfigurationError(f"{where} does not exist{dangling}.") from None
    except OSError as error:  # a folder on the way that may not be searched, a symbolic link loop
        raise ConfigurationError(f"Cannot read {where}: {error.strerror or error}.") from error
    if not equals:
        resolved = path.resolve()
        name = resolved.stem if path.suffix == ".zip" or stat.S_ISDIR(mode) else resolved.parent.name
    return name, path


_FILE_AT_MOST: Final = f"an {IMAGE_DETAIL_FILE} or {IMAGE_DEFINITIONS_FILE} is at most {MAX_FILE_BYTES // 1024} KB"
# What starts a zip: a local file header, or the end record of an empty zip.
_ZIP_SIGNATURES: Final = (b"PK\x03\x04", b"PK\x05\x06")
_SIGNATURE_BYTES: Final = 4


class _InputReader:
    """Reads the inputs, every read bounded, and remembers each file it opened: no output may replace one."""

    def __init__(self) -> None:
        # (device, inode) of every file opened for reading -> the path the user gave.
        self.files_read: dict[tuple[int, int], str] = {}

    def source(self, artifact: str, path: Path) -> InputSource:
        """An input: a folder, a zip (by its name or its first bytes), or an image file."""
        what = f'Input "{artifact}"'
        with _reading(what, path):
            if path.is_dir():
                return self._folder_source(artifact, path)
        with _reading(what, path), self._open(path, what) as file:
            stream = _Stream(file, f"{what} {path}")
            head = stream.read(_SIGNATURE_BYTES - 1)
            if path.suffix == ".zip" or head.startswith(_ZIP_SIGNATURES):
                return self._zip_source(artifact, path, stream, head)
            where = file_location(artifact, str(path))
            if path.name not in (IMAGE_DETAIL_FILE, IMAGE_DEFINITIONS_FILE):
                where += f" (read as an {IMAGE_DETAIL_FILE}, as a file of another name is)"
            data = head + stream.read(MAX_FILE_BYTES - len(head), _FILE_AT_MOST)
        return source_from_file(artifact, path.name, data, where=where)

    def read(self, path: Path, limit: int, what: str, at_most: str) -> bytes:
        """A regular file, pipe or FIFO of at most `limit` bytes, reading no more than one byte past it."""
        with _reading(what, path), self._open(path, what) as file:
            return _Stream(file, f"{what} {path}").read(limit, at_most)

    def _folder_source(self, artifact: str, folder: Path) -> InputSource:
        """The folder's image file, by the rule a zip is read by (`image_file_to_read`)."""
        what = f'Input "{artifact}"'
        present = []
        for name in (IMAGE_DETAIL_FILE, IMAGE_DEFINITIONS_FILE):
            with _reading(what, folder / name):
                try:
                    (folder / name).lstat()
                except (FileNotFoundError, NotADirectoryError):
                    continue
            present.append(name)
        chosen = image_file_to_read(artifact, present)
        if chosen is None:
            raise ArtifactContentError(
                f'Artifact "{artifact}": folder {folder} holds no {IMAGE_DETAIL_FILE} (nor {IMAGE_DEFINITIONS_FILE}); '
                f"it holds: {_listed(folder)}. Give the folder that an ECR source action's artifact was unpacked "
                "into, or the file itself."
            )
        name, note = chosen
        for ignored in present:
            if ignored != name:  # not read, but part of the input all the same: never overwritten by the output
                with _reading(what, folder / ignored), contextlib.suppress(FileNotFoundError):
                    status = (folder / ignored).stat()
                    self.files_read[(status.st_dev, status.st_ino)] = str(folder / ignored)
        data = self.read(folder / name, MAX_FILE_BYTES, what, _FILE_AT_MOST)
        return source_from_file(artifact, name, data, where=file_location(artifact, str(folder / name)), note=note)

    def _zip_source(self, artifact: str, path: Path, stream: _Stream, head: bytes) -> InputSource:
        if stream.file.seekable():
            stream.file.seek(0)
            return source_from_zip(artifact, stream.file, where=f"({path})", zip_path=str(path))
        # A pipe cannot be read by seeking: it is read whole, up to its bound.
        at_most = "a zip that is a pipe is read whole, up to that: save it to a file and give that"
        data = head + stream.read(MAX_PIPED_ZIP_BYTES - len(head), at_most, unit="MB")
        return source_from_zip(artifact, io.BytesIO(data), where=f"({path})", zip_path=str(path))

    def _open(self, path: Path, what: str) -> IO[bytes]:
        """A regular file, pipe or FIFO opened for reading; a device, socket or anything else is refused.

        O_NONBLOCK: opening a FIFO nobody has opened for writing would otherwise wait for a writer forever;
        reads from it then wait in poll(), with a timeout (`_Stream`).
        """
        kind = _kind_of(path.stat().st_mode)
        if kind is None:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            opened = os.fstat(descriptor)
            kind = _kind_of(opened.st_mode)  # what was opened, should the path have changed
            if kind is None:
                self.files_read[(opened.st_dev, opened.st_ino)] = str(path)
                return os.fdopen(descriptor, "rb", buffering=0)
            os.close(descriptor)
        raise ConfigurationError(
            f"{what} {path} is {kind}, not a file: give an {IMAGE_DETAIL_FILE}, an {IMAGE_DEFINITIONS_FILE}, an "
            "artifact zip or a folder (a pipe such as <(...) works too)."
        )


def _listed(folder: Path) -> str:
    """The first names in a folder, for a message: never more than FILES_LISTED_IN_ERRORS + 1 read."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry, _ in zip(entries, range(FILES_LISTED_IN_ERRORS + 1), strict=False))
    except OSError as error:
        return f"files that cannot be listed ({error.strerror or error})"
    more = " and more" if len(names) > FILES_LISTED_IN_ERRORS else ""
    return (quoted(names[:FILES_LISTED_IN_ERRORS]) or "no files") + more


@contextmanager
def _reading(what: str, path: Path) -> Iterator[None]:
    """Any OSError while opening or reading an input as the command's one-line error: a regular file can still
    fail to read (/proc/self/mem: EIO; /proc/self/pagemap, or a seek in it: EINVAL; a disk or network error), a
    folder may not be searched (EACCES), a link may loop (ELOOP).
    """
    try:
        yield
    except OSError as error:
        raise ConfigurationError(f"Cannot read {what} {path}: {error.strerror or error}.") from error


def _kind_of(mode: int) -> str | None:
    """None for what the command reads (a regular file, a pipe or FIFO), else what it is."""
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    return _special_kind(mode)


def _special_kind(mode: int) -> str:
    kinds = {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next(
        (kind for is_kind, kind in kinds.items() if is_kind(mode)),
        "a directory" if stat.S_ISDIR(mode) else "no regular file",
    )


class _Stream:
    """An opened input, read in bounded parts: a regular file by its size first, then by reads; a pipe or FIFO
    under poll(), waiting at most PIPE_IDLE_SECONDS for each piece and PIPE_SECONDS in all (all parts together).
    """

    def __init__(self, file: IO[bytes], what: str) -> None:
        self.file = file
        self._what = what
        self._deadline = time.monotonic() + PIPE_SECONDS
        self._read = 0

    def read(self, limit: int, at_most: str = "", unit: str = "KB") -> bytes:
        """Up to `limit` + 1 more bytes; with `at_most`, more than `limit` is refused, saying `at_most` (the bound
        and how to keep to it)."""
        bound = self._read + limit
        refusal = ConfigurationError(
            f"{self._what} is larger than {bound // (1024 if unit == 'KB' else 1024 * 1024)} {unit}; {at_most}."
        )
        if at_most and self.file.seekable() and os.fstat(self.file.fileno()).st_size > bound:
            raise refusal  # by its size, before a byte is read
        data = self._read_file(limit) if self.file.seekable() else self._read_pipe(limit)
        self._read += len(data)
        if at_most and len(data) > limit:
            raise refusal
        return data

    def _read_file(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := self.file.read(limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    def _read_pipe(self, limit: int) -> bytes:
        descriptor = self.file.fileno()
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            ready = _ready(poller, self._deadline)
            if ready == "late":
                raise ConfigurationError(
                    f"{self._what} was still sending after {PIPE_SECONDS:.0f} s; save it to a file and give that."
                )
            if ready == "idle":
                raise ConfigurationError(
                    f"{self._what}: nothing was written to it for {PIPE_IDLE_SECONDS:.0f} s (a pipe or FIFO that "
                    "nobody writes to?); give a file, or start the command that writes it."
                )
            try:
                chunk = os.read(descriptor, min(READ_CHUNK_BYTES, limit + 1 - size))
            except BlockingIOError:  # woken, but the bytes were gone
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)


def _ready(poller: select.poll, deadline: float) -> Literal["ready", "idle", "late"]:
    """Wait for the pipe or FIFO: "ready", "idle" after PIPE_IDLE_SECONDS without it, or "late" at `deadline`."""
    wait = min(PIPE_IDLE_SECONDS, deadline - time.monotonic())
    if wait <= 0:
        return "late"
    if poller.poll(wait * 1000):
        return "ready"
    return "late" if time.monotonic() >= deadline else "idle"


@dataclass(frozen=True)
class _Destination:
    """Where one output file goes: a path, or standard output (None)."""

    path: Path | None
    content: bytes
    file_name: str

    def __str__(self) -> str:
        return f"{self.file_name} to standard output" if self.path is None else str(self.path)


def _destinations(output: str | None, outputs: Sequence[OutputArtifact], *, by_artifact: bool) -> list[_Destination]:
    """Where each file goes. --output names the file, - (standard output), or a folder (an existing one, or any
    path ending in /) to write the file in; a format that writes several files, and --outputs, always take a
    folder (default: the current one), --outputs a folder per output in it.
    """
    files = [(artifact.artifact, file) for artifact in outputs for file in artifact.files]
    if output == "-":
        if len(files) > 1:
            raise ConfigurationError(
                f"--output - writes one file to standard output, but this run writes {len(files)} "
                f"({quoted(file.name for _, file in files)}): give --output a folder."
            )
        return [_Destination(None, files[0][1].content, files[0][1].name)]
    if by_artifact:
        folder = Path(output or ".")  # a file there fails the write: "Not a directory"
        return [_Destination(folder / artifact / file.name, file.content, file.name) for artifact, file in files]
    if output is None:
        return [_Destination(Path(file.name), file.content, file.name) for _, file in files]
    if len(files) > 1 or output.endswith(("/", os.sep)) or _is_folder(Path(output)):
        return [_Destination(Path(output) / file.name, file.content, file.name) for _, file in files]
    return [_Destination(Path(output), files[0][1].content, files[0][1].name)]


def _is_folder(path: Path) -> bool:
    """Whether the path is a folder; False where that cannot be told (the write then says why it fails)."""
    try:
        return path.is_dir()
    except OSError:
        return False


class _WriteError(Exception):
    def __init__(self, destination: _Destination, reason: str) -> None:
        super().__init__(f"{destination}: {reason}")
        self.destination = destination
        self.reason = reason


def _write(destinations: Sequence[_Destination], inputs: Mapping[tuple[int, int], str]) -> None:
    """Write every file, replacing no special file and overwriting no input.

    A regular file (or a new one) is written to a temporary file beside it (beside a symbolic link's target), then
    renamed onto it: never a half-written file, and no file is replaced unless every one could be written. A FIFO,
    a character device (a terminal, /dev/null) and standard output are written into, as a shell's `>` would,
    before the renames; a block device, a socket and a link to nothing are refused.
    """
    streams: list[_Destination] = []
    replaced: list[tuple[_Destination, os.stat_result | None]] = []
    for destination in destinations:
        found = _destination_stat(destination)
        if found is not None and (found.st_dev, found.st_ino) in inputs:
            raise _WriteError(
                destination,
                f"it is the input {inputs[(found.st_dev, found.st_ino)]}, which imagedefs never overwrites; write the "
                "output elsewhere",
            )
        if destination.path is None or (
            found is not None and (stat.S_ISFIFO(found.st_mode) or stat.S_ISCHR(found.st_mode))
        ):
            streams.append(destination)
        elif found is None or stat.S_ISREG(found.st_mode) or stat.S_ISDIR(found.st_mode):
            replaced.append((destination, found))
        else:
            raise _WriteError(
                destination, f"it is {_special_kind(found.st_mode)}, which imagedefs never writes to; give a file"
            )
    temporaries: list[tuple[_Destination, Path, Path]] = []
    try:
        for destination, found in replaced:
            temporaries.append((destination, *_write_temporary(destination, found)))
        for destination in streams:
            _write_stream(destination)
        for destination, temporary, target in temporaries:
            try:
                temporary.replace(target)
            except OSError as error:
                raise _WriteError(destination, str(error.strerror or error)) from error
    finally:
        for _, temporary, _ in temporaries:
            temporary.unlink(missing_ok=True)


def _destination_stat(destination: _Destination) -> os.stat_result | None:
    """What the destination is now (through symbolic links), or None for a new file."""
    if destination.path is None and sys.stdout is None:
        raise _WriteError(destination, "standard output is closed (started with >&-)")
    try:
        if destination.path is None:
            return os.fstat(sys.stdout.fileno())
        return destination.path.stat()
    except (ValueError, io.UnsupportedOperation):  # a standard output with no descriptor (a test's capture)
        return None
    except FileNotFoundError:
        if destination.path is not None and destination.path.is_symlink():
            raise _WriteError(
                destination, "it is a symbolic link to a file that does not exist, which imagedefs never creates"
            ) from None
        return None
    except OSError as error:
        raise _WriteError(destination, str(error.strerror or error)) from error


def _write_temporary(destination: _Destination, found: os.stat_result | None) -> tuple[Path, Path]:
    """The content in a temporary file beside the file it replaces: (temporary, target).

    A new file gets mode 0o666 less the umask, as any program's files do (0644 under umask 022); a replaced one
    keeps its mode (and, as root, its owner). A symbolic link stays a link: its target is replaced.
    """
    assert destination.path is not None, "standard output is written into"
    target = destination.path.resolve() if found is not None and stat.S_ISREG(found.st_mode) else destination.path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A short name of its own: one built from the target's would pass NAME_MAX for a legal 230+-byte name
        temporary = target.with_name(f".imagedefs-{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise _WriteError(destination, str(error.strerror or error)) from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            if found is not None and stat.S_ISREG(found.st_mode):
                os.fchmod(file.fileno(), stat.S_IMODE(found.st_mode) & 0o777)
                if os.geteuid() == 0:
                    os.fchown(file.fileno(), found.st_uid, found.st_gid)
            file.write(destination.content)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _WriteError(destination, str(error.strerror or error)) from error
    return temporary, target


def _write_stream(destination: _Destination) -> None:
    """Write into standard output, a FIFO or a character device, never waiting forever on a FIFO nobody reads."""
    try:
        if destination.path is None:
            sys.stdout.flush()
            sys.stdout.buffer.write(destination.content)
            sys.stdout.buffer.flush()
            return
        descriptor = _open_for_writing(destination)
        try:
            _send(descriptor, destination)
        finally:
            os.close(descriptor)
    except BrokenPipeError as error:
        if destination.path is None:  # nothing more can reach it: not even Python's flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise _WriteError(destination, "the reader closed the pipe before all was written") from error
    except OSError as error:
        raise _WriteError(destination, str(error.strerror or error)) from error


def _open_for_writing(destination: _Destination) -> int:
    """Open a FIFO or device for writing without blocking: a FIFO with no reader is retried until one comes,
    for PIPE_IDLE_SECONDS."""
    assert destination.path is not None, "standard output is open"
    give_up = time.monotonic() + PIPE_IDLE_SECONDS
    while True:
        try:
            return os.open(destination.path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: a FIFO that nobody has opened for reading
                raise
            if time.monotonic() >= give_up:
                raise _WriteError(
                    destination,
                    f"nobody opened the FIFO for reading within {PIPE_IDLE_SECONDS:.0f} s; start the command that "
                    "reads it first",
                ) from error
            time.sleep(_REOPEN_SECONDS)


def _send(descriptor: int, destination: _Destination) -> None:
    """All the content, in pieces a pipe takes whole, each waited for in poll()."""
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    deadline = time.monotonic() + PIPE_SECONDS
    content = memoryview(destination.content)
    while content:
        ready = _ready(poller, deadline)
        if ready == "late":
            raise _WriteError(destination, f"its reader was still reading after {PIPE_SECONDS:.0f} s")
        if ready == "idle":
            raise _WriteError(destination, f"nothing was read from it for {PIPE_IDLE_SECONDS:.0f} s")
        try:
            content = content[os.write(descriptor, content[: select.PIPE_BUF]) :]
        except BlockingIOError:
            continue


def _port(text: str) -> int:
    """A port as --lb-port takes it: digits only (not "8_0" or " 80", which int() accepts), 1-65535."""
    if not text.isascii() or not text.isdigit() or not is_port(int(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-{MAX_PORT})")
    return int(text)
