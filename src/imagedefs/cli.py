"""`imagedefs`: the action's rewrite on files, outside CodePipeline (a CodeBuild step, GitHub Actions, a shell).

Reads imageDetail.json files, imagedefinitions.json files, artifact zips or folders holding one; takes
the same options as UserParameters; writes the output file (with `--format codedeploy`, taskdef.json and
appspec.yaml from a task definition file given with --taskdef). Exit codes: 0 success, 1 bad content,
2 usage or configuration error, or the output could not be written. It never imports boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from imagedefs.archive import source_from_file, source_from_zip
from imagedefs.codedeploy import MAX_PORT, BlueGreenService, is_port, service_from_task_definition_file
from imagedefs.config import (
    ENV_ALLOWED_REGISTRIES,
    ENV_DEFAULT_PIN,
    ENV_DEFAULT_TAG_PATTERN,
    FORMATS,
    PINS,
    Settings,
    Wording,
    parse_user_parameters,
)
from imagedefs.errors import ArtifactContentError, ConfigurationError, ImageDefsError
from imagedefs.image_detail import IMAGE_DEFINITIONS_FILE, IMAGE_DETAIL_FILE
from imagedefs.json_text import JsonTextError, is_unicode_text, parse_json
from imagedefs.transform import InputSource, OutputFile, build_plan, select_inputs

EXIT_OK: Final = 0
EXIT_BAD_CONTENT: Final = 1
EXIT_USAGE: Final = 2
# Read at most this much of a --taskdef file (ECS allows 64 KB; describe-task-definition's output adds a little).
MAX_TASKDEF_FILE_BYTES: Final = 1024 * 1024
OUTPUT_ARTIFACT: Final = "output"
# Messages name the flags typed here, not UserParameters keys or stack parameters.
CLI_WORDING: Final = Wording(
    options={
        "containers": "--container",
        "pin": "--pin",
        "tag": "--tag",
        "format": "--format",
        "file": "--file",
        "outputs": "a separate imagedefs run for each container",
        "service": "--taskdef",
    },
    examples={
        "containers": "--container WebImage=web --container ApiImage=api,worker",
        "outputs": "one run per output file",
        "tag": '--tag "v[0-9]+\\.[0-9]+\\.[0-9]+"',
        "service": "--format codedeploy --taskdef current-taskdef.json",
    },
    settings={
        ENV_DEFAULT_PIN: f"the environment variable {ENV_DEFAULT_PIN}",
        ENV_DEFAULT_TAG_PATTERN: f"the environment variable {ENV_DEFAULT_TAG_PATTERN}",
        ENV_ALLOWED_REGISTRIES: f"--allowed-registries (or the environment variable {ENV_ALLOWED_REGISTRIES})",
    },
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        _check_arguments_are_text(arguments)
        _check_codedeploy_flags(arguments)
        inputs = _named_inputs(arguments.inputs)
        settings = Settings.from_environment(
            {
                **os.environ,
                **({ENV_ALLOWED_REGISTRIES: arguments.allowed_registries} if arguments.allowed_registries else {}),
            },
            CLI_WORDING,
        )
        config = parse_user_parameters(json.dumps(_user_parameters(arguments)), settings)
        selected, _ = select_inputs(list(inputs), config)
        sources = [_read_input(name, inputs[name]) for name in selected]
        service = _blue_green_service(arguments) if config.output_format == "codedeploy" else None
        plan = build_plan(sources, [OUTPUT_ARTIFACT], config, settings, service)
        (output,) = plan.outputs
    except ImageDefsError as error:
        return _fail(str(error), EXIT_USAGE if isinstance(error, ConfigurationError) else EXIT_BAD_CONTENT)
    contents = _destinations(arguments.output, output.files)
    try:
        _write_atomically(contents)
    except _WriteError as error:
        return _fail(f"Cannot write {error.destination}: {error.reason}.", EXIT_USAGE)
    print(f"Wrote {', '.join(map(str, contents))}: {plan.summary()}")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagedefs",
        description="Turn ECR imageDetail.json files into the imagedefinitions.json of an ECS deploy.",
        epilog="Exit codes: 0 written, 1 bad input content, 2 usage or configuration error, or the output could not "
        "be written.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
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
        "--output",
        metavar="PATH",
        help="the file to write, or a folder to write NAME in (default: ./NAME); with --format codedeploy, the folder "
        "for taskdef.json and appspec.yaml (default: .)",
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


def _user_parameters(arguments: argparse.Namespace) -> dict[str, object]:
    parameters: dict[str, object] = {}
    if arguments.containers is not None:
        try:
            parameters["containers"] = parse_json(arguments.containers)
        except JsonTextError as exc:
            raise ConfigurationError(f"--containers is {exc}.") from exc
    if arguments.container:
        containers = parameters.setdefault("containers", {})
        if not isinstance(containers, dict):
            raise ConfigurationError("--container adds to --containers, which must then be a JSON object.")
        for entry in arguments.container:
            artifact, equals, names = entry.partition("=")
            if not equals:
                raise ConfigurationError(f'--container "{entry}" must be ARTIFACT=NAME or ARTIFACT=NAME,NAME,...')
            if artifact in containers:
                raise ConfigurationError(
                    f'--container names artifact "{artifact}" twice; give it all its containers at once, for example '
                    f"--container {artifact}=web,worker."
                )
            listed = names.split(",")
            containers[artifact] = listed if len(listed) > 1 else names
    for key in ("pin", "tag", "format", "file"):
        value = getattr(arguments, key)
        if value is not None:
            parameters[key] = value
    return parameters


def _blue_green_service(arguments: argparse.Namespace) -> BlueGreenService:
    if arguments.taskdef is None:
        raise ConfigurationError(
            "--format codedeploy needs --taskdef FILE: the service's current task definition, for example from "
            "`aws ecs describe-task-definition --task-definition FAMILY --include TAGS > current-taskdef.json`."
        )
    path = Path(arguments.taskdef)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TASKDEF_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigurationError(f"Cannot read --taskdef {path}: {error.strerror or error}.") from error
    if len(data) > MAX_TASKDEF_FILE_BYTES:
        raise ConfigurationError(
            f"--taskdef {path} is larger than {MAX_TASKDEF_FILE_BYTES // 1024} KB; a task definition is at most 64 KB."
        )
    return service_from_task_definition_file(
        data,
        str(path),
        arguments.lb_container,
        arguments.lb_port,
        {"container_name": "--lb-container", "container_port": "--lb-port"},
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
    if not path.exists():
        # Without ARTIFACT= the name comes from what the path is, which a missing path cannot tell.
        where = f'Input "{name}": {path}' if equals else f"Input {path}"
        raise ConfigurationError(f"{where} does not exist.")
    if not equals:
        resolved = path.resolve()
        name = resolved.stem if path.suffix == ".zip" or path.is_dir() else resolved.parent.name
    return name, path


def _read_input(artifact: str, path: Path) -> InputSource:
    if path.is_dir():
        for file_name in (IMAGE_DETAIL_FILE, IMAGE_DEFINITIONS_FILE):
            if (path / file_name).is_file():
                return source_from_file(artifact, file_name, (path / file_name).read_bytes())
        raise ArtifactContentError(
            f'Artifact "{artifact}": folder {path} holds no {IMAGE_DETAIL_FILE} (nor {IMAGE_DEFINITIONS_FILE}).'
        )
    if path.suffix == ".zip":
        with path.open("rb") as file:
            return source_from_zip(artifact, file, where=f"({path})")
    return source_from_file(artifact, path.name, path.read_bytes())


def _destinations(output: str | None, files: Sequence[OutputFile]) -> dict[Path, bytes]:
    """Where each file goes. --output names the file, or a folder (an existing one, or any path ending in /) to
    write the file in; a format that writes several files always takes a folder (default: the current one).
    """
    if output is None:
        return {Path(file.name): file.content for file in files}
    if len(files) > 1 or output.endswith(("/", os.sep)) or Path(output).is_dir():
        return {Path(output) / file.name: file.content for file in files}
    return {Path(output): files[0].content}


class _WriteError(Exception):
    def __init__(self, destination: Path, reason: str) -> None:
        super().__init__(f"{destination}: {reason}")
        self.destination = destination
        self.reason = reason


def _write_atomically(contents: Mapping[Path, bytes]) -> None:
    """Write each file to a temporary file beside its destination, then rename them all: never a half-written
    file, and no file is replaced unless every one could be written.

    Files are created with mode 0o666 less the umask, as any program's files are (0644 under umask 022);
    the temporary files are removed whatever fails after they were created.
    """
    temporaries: dict[Path, Path] = {}
    try:
        for destination, content in contents.items():
            destination.parent.mkdir(parents=True, exist_ok=True)
            temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(8)}.tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            temporaries[destination] = temporary
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
        for destination, temporary in temporaries.items():
            temporary.replace(destination)
    except OSError as error:
        raise _WriteError(destination, str(error.strerror or error)) from error
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)


def _port(text: str) -> int:
    """A port as --lb-port takes it: digits only (not "8_0" or " 80", which int() accepts), 1-65535."""
    if not text.isascii() or not text.isdigit() or not is_port(int(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-{MAX_PORT})")
    return int(text)
