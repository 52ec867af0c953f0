"""`imagedefs`: the action's rewrite on files, outside CodePipeline (a CodeBuild step, GitHub Actions, a shell).

Reads imageDetail.json files, imagedefinitions.json files, artifact zips or folders holding one; takes
the same options as UserParameters; writes the output file (with `--format codedeploy`, taskdef.json and
appspec.yaml from a task definition file given with --taskdef). Exit codes: 0 success, 1 bad content,
2 usage or configuration error, or the output could not be written. It never imports boto3.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import select
import stat
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

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
    OptionExamples,
    OptionNames,
    SettingNames,
    Settings,
    Wording,
    config_from_mapping,
)
from imagedefs.errors import ArtifactContentError, ConfigurationError, ImageDefsError
from imagedefs.formats.codedeploy import MAX_PORT, BlueGreenService, is_port, service_from_task_definition_file
from imagedefs.formats.image_files import IMAGE_DEFINITIONS_FILE, IMAGE_DETAIL_FILE, MAX_FILE_BYTES, source_from_file
from imagedefs.formats.zip import source_from_zip
from imagedefs.json_text import JsonTextError, is_unicode_text, parse_json
from imagedefs.model import InputSource, OutputFile
from imagedefs.plan import plan_job

EXIT_OK: Final = 0
EXIT_BAD_CONTENT: Final = 1
EXIT_USAGE: Final = 2
# Read at most this much of a --taskdef file (ECS allows 64 KB; describe-task-definition's output adds a little).
MAX_TASKDEF_FILE_BYTES: Final = 1024 * 1024
# A zip that is no regular file (a pipe, <(...)) cannot be read by seeking: it is read whole, up to this much.
MAX_PIPED_ZIP_BYTES: Final = 8 * 1024 * 1024
# A pipe or FIFO that sends nothing for INPUT_IDLE_SECONDS, or is still sending after INPUT_READ_SECONDS, is given
# up on: the command never waits forever on an input nobody writes to.
INPUT_IDLE_SECONDS: Final = 3.0
INPUT_READ_SECONDS: Final = 15.0
READ_CHUNK_BYTES: Final = 64 * 1024
OUTPUT_ARTIFACT: Final = "output"
# Messages name the flags typed here, not UserParameters keys or stack parameters.
CLI_WORDING: Final = Wording(
    options=OptionNames(
        containers="--container",
        pin="--pin",
        tag="--tag",
        format="--format",
        file="--file",
        outputs="a separate imagedefs run for each container",
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
        outputs="one run per output file",
        service="--format codedeploy --taskdef current-taskdef.json",
        images="--image web=123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web@sha256:<64 hex digits>",
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
    if not arguments.inputs and not arguments.image:
        parser.error("give an input [ARTIFACT=]PATH, or each container's image with --image CONTAINER=REFERENCE")
    try:
        _check_arguments_are_text(arguments)
        _check_codedeploy_flags(arguments)
        inputs = _named_inputs(arguments.inputs)
        settings = Settings.from_environment(
            {
                # The ECR gate's stack settings are the function's: the command line reads nothing from AWS.
                **{name: value for name, value in os.environ.items() if name not in _FUNCTION_ONLY_VARIABLES},
                **({ENV_ALLOWED_REGISTRIES: arguments.allowed_registries} if arguments.allowed_registries else {}),
            },
            CLI_WORDING,
        )
        config = config_from_mapping(_configuration(arguments), settings)
        plan = plan_job(
            config,
            settings,
            list(inputs),
            [OUTPUT_ARTIFACT],
            lambda name: _read_input(name, inputs[name]),
            lambda _: _blue_green_service(arguments),
        )
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
        "--image",
        action="append",
        default=[],
        metavar="CONTAINER=REFERENCE",
        help="the image of CONTAINER, a full reference (registry/repository:tag or @sha256:...), as UserParameters "
        '"images" gives it; with --image for every container, no input is needed',
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


def _configuration(arguments: argparse.Namespace) -> dict[str, object]:
    """The flags as the configuration mapping that UserParameters' JSON object is (never as its text, whose
    1,000-character limit is CodePipeline's, not the command line's)."""
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
    images: dict[str, str] = {}
    for entry in arguments.image:
        container, equals, reference = entry.partition("=")
        if not equals:
            raise ConfigurationError(f"--image {json.dumps(entry)} must be CONTAINER=REFERENCE.")
        if container in images:
            raise ConfigurationError(f"--image names container {json.dumps(container)} twice; give it one image.")
        images[container] = reference
    if images:
        parameters["images"] = images
    if arguments.override:
        parameters["overrides"] = _overrides(arguments.override)
    hooks: dict[str, str] = {}
    for entry in arguments.hook:
        event, equals, function = entry.partition("=")
        if not equals:
            raise ConfigurationError(f"--hook {json.dumps(entry)} must be EVENT=FUNCTION, for example {_HOOK_EXAMPLE}.")
        if event in hooks:
            raise ConfigurationError(f"--hook names lifecycle event {json.dumps(event)} twice; give it one function.")
        hooks[event] = function
    if hooks:
        parameters["hooks"] = hooks
    for key in ("pin", "tag", "format", "file"):
        value = getattr(arguments, key)
        if value is not None:
            parameters[key] = value
    return parameters


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


def _blue_green_service(arguments: argparse.Namespace) -> BlueGreenService:
    if arguments.taskdef is None:
        raise ConfigurationError(
            "--format codedeploy needs --taskdef FILE: the service's current task definition, for example from "
            "`aws ecs describe-task-definition --task-definition FAMILY --include TAGS > current-taskdef.json`."
        )
    path = Path(arguments.taskdef)
    data = _read_limited(path, MAX_TASKDEF_FILE_BYTES, "--taskdef", "a task definition is at most 64 KB")
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
            if (path / file_name).exists():
                data = _read_limited(path / file_name, MAX_FILE_BYTES, f'Input "{artifact}"', _FILE_AT_MOST)
                return source_from_file(artifact, file_name, data)
        raise ArtifactContentError(
            f'Artifact "{artifact}": folder {path} holds no {IMAGE_DETAIL_FILE} (nor {IMAGE_DEFINITIONS_FILE}).'
        )
    if path.suffix == ".zip":
        with _reading(f'Input "{artifact}"', path), _open_input(path, f'Input "{artifact}"') as file:
            if not file.seekable():
                data = _read_pipe(file.fileno(), MAX_PIPED_ZIP_BYTES, f'Input "{artifact}" {path}')
                if len(data) > MAX_PIPED_ZIP_BYTES:
                    raise ConfigurationError(
                        f'Input "{artifact}" {path} is a pipe sending more than {MAX_PIPED_ZIP_BYTES // 1024 // 1024} '
                        "MB; save the zip to a file and give that."
                    )
                return source_from_zip(artifact, io.BytesIO(data), where=f"({path})")
            return source_from_zip(artifact, file, where=f"({path})")
    return source_from_file(
        artifact, path.name, _read_limited(path, MAX_FILE_BYTES, f'Input "{artifact}"', _FILE_AT_MOST)
    )


_FILE_AT_MOST: Final = f"an {IMAGE_DETAIL_FILE} or {IMAGE_DEFINITIONS_FILE} is at most {MAX_FILE_BYTES // 1024} KB"


def _open_input(path: Path, what: str) -> IO[bytes]:
    """A regular file, pipe or FIFO opened for reading; a device, socket or anything else is refused.

    O_NONBLOCK: opening a FIFO nobody has opened for writing would otherwise wait for a writer forever;
    reads from it then wait in poll(), with a timeout (`_read_pipe`).
    """
    with _reading(what, path):
        kind = _kind_of(path.stat().st_mode)
        if kind is None:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            kind = _kind_of(os.fstat(descriptor).st_mode)  # what was opened, should the path have changed
            if kind is None:
                return os.fdopen(descriptor, "rb", buffering=0)
            os.close(descriptor)
    raise ConfigurationError(
        f"{what} {path} is {kind}, not a file: give an {IMAGE_DETAIL_FILE}, an {IMAGE_DEFINITIONS_FILE}, an "
        "artifact zip or a folder (a pipe such as <(...) works too)."
    )


@contextmanager
def _reading(what: str, path: Path) -> Iterator[None]:
    """Any OSError while opening or reading an input as the command's one-line error: a regular file can still
    fail to read (/proc/self/mem: EIO; /proc/self/pagemap, or a seek in it: EINVAL; a disk or network error).
    """
    try:
        yield
    except OSError as error:
        raise ConfigurationError(f"Cannot read {what} {path}: {error.strerror or error}.") from error


def _kind_of(mode: int) -> str | None:
    """None for what the command reads (a regular file, a pipe or FIFO), else what it is."""
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    kinds = {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next(
        (kind for is_kind, kind in kinds.items() if is_kind(mode)),
        "a directory" if stat.S_ISDIR(mode) else "no regular file",
    )


def _read_limited(path: Path, limit: int, what: str, at_most: str) -> bytes:
    """A regular file, pipe or FIFO of at most `limit` bytes, reading no more than one byte past it."""
    with _reading(what, path), _open_input(path, what) as file:
        if file.seekable():
            chunks: list[bytes] = []
            size = 0
            while size <= limit and (chunk := file.read(limit + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        else:
            data = _read_pipe(file.fileno(), limit, f"{what} {path}")
    if len(data) > limit:
        raise ConfigurationError(f"{what} {path} is larger than {limit // 1024} KB; {at_most}.")
    return data


def _read_pipe(descriptor: int, limit: int, what: str) -> bytes:
    """Up to `limit` + 1 bytes from a pipe or FIFO, waiting at most INPUT_IDLE_SECONDS for each piece and
    INPUT_READ_SECONDS in all.
    """
    deadline = time.monotonic() + INPUT_READ_SECONDS
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        wait = min(INPUT_IDLE_SECONDS, deadline - time.monotonic())
        if wait <= 0:
            raise ConfigurationError(
                f"{what} was still sending after {INPUT_READ_SECONDS:.0f} s; save it to a file and give that."
            )
        if not poller.poll(wait * 1000):
            if time.monotonic() >= deadline:
                continue  # the check above names the deadline
            raise ConfigurationError(
                f"{what}: nothing was written to it for {INPUT_IDLE_SECONDS:.0f} s (a pipe or FIFO that nobody "
                "writes to?); give a file, or start the command that writes it."
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
