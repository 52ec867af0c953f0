"""ECS blue/green (CodePipeline's CodeDeployToECS action): taskdef.json and appspec.yaml for a service.

Pure: the service's current task definition and how its load balancer reaches it come in (from ECS in
the action, from a file on the command line), the two files come out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from imagedefs.errors import ConfigurationError, capitalized, quoted
from imagedefs.json_text import JsonTextError, parse_json
from imagedefs.model import ContainerImage, OutputFile

TASKDEF_FILE: Final = "taskdef.json"
APPSPEC_FILE: Final = "appspec.yaml"
# CodeDeployToECS registers taskdef.json as a new revision and writes its ARN where the appspec says this.
TASK_DEFINITION_PLACEHOLDER: Final = "<TASK_DEFINITION>"
# RegisterTaskDefinition's input members in botocore's ECS model, for the command line, which imports no
# botocore (tests/unit/test_codedeploy.py checks it against the model). The action reads the same set from its
# ECS client's model instead, so that a member added to the API is kept as soon as the runtime's botocore has it.
REGISTER_TASK_DEFINITION_MEMBERS: Final = frozenset(
    {
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "containerDefinitions",
        "volumes",
        "placementConstraints",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "tags",
        "pidMode",
        "ipcMode",
        "proxyConfiguration",
        "inferenceAccelerators",
        "ephemeralStorage",
        "runtimePlatform",
        "enableFaultInjection",
        "trustedExecutionConfiguration",
    }
)
_Candidate = TypeVar("_Candidate", str, int)
MAX_PORT: Final = 65535
# ECS registers task definitions of at most 64 KiB; nothing larger can be legitimate, even indented.
MAX_TASKDEF_BYTES: Final = 1024 * 1024
# The service's awsvpcConfiguration members, as the appspec names them.
_APPSPEC_NETWORK_KEYS: Final = {
    "subnets": "Subnets",
    "securityGroups": "SecurityGroups",
    "assignPublicIp": "AssignPublicIp",
}


@dataclass(frozen=True)
class LoadBalancerTarget:
    """The container and port that the service's load balancer sends traffic to."""

    container_name: str
    container_port: int


@dataclass(frozen=True)
class BlueGreenService:
    """What the two files are made from: a service's current task definition and how traffic reaches it."""

    described_as: str  # for messages: 'the task definition shop:3 of ECS service "prod/web"'
    task_definition: Mapping[str, Any]  # as DescribeTaskDefinition returns it
    tags: tuple[Mapping[str, Any], ...]
    load_balancer: LoadBalancerTarget
    platform_version: str | None = None
    awsvpc_configuration: Mapping[str, Any] | None = None
    accepted_keys: frozenset[str] = REGISTER_TASK_DEFINITION_MEMBERS

    @property
    def container_names(self) -> list[str]:
        return [container["name"] for container in self.task_definition["containerDefinitions"]]


def check_task_definition(task_definition: object, described_as: str) -> dict[str, Any]:
    """The task definition, if it has what the files are made from: a family and named containers."""
    containers = task_definition.get("containerDefinitions") if isinstance(task_definition, dict) else None
    if (
        not isinstance(task_definition, dict)
        or not isinstance(task_definition.get("family"), str)
        or not isinstance(containers, list)
        or not containers
        or not all(isinstance(container, dict) and isinstance(container.get("name"), str) for container in containers)
    ):
        raise ConfigurationError(
            f'{capitalized(described_as)} is not one ECS describes: it needs a "family" and '
            '"containerDefinitions", each with a "name".'
        )
    return task_definition


def taskdef_json(service: BlueGreenService, images: Mapping[str, str], containers_option: str) -> bytes:
    """The current task definition as RegisterTaskDefinition input, each container of `images` given its image.

    Only the members RegisterTaskDefinition accepts are kept (not the ARN, revision, status, registration
    dates...); every other member and every other container is left as it is.
    """
    if service.load_balancer.container_name not in service.container_names:
        raise ConfigurationError(
            f'The load balancer of the service sends traffic to container "{service.load_balancer.container_name}", '
            f"which {service.described_as} does not have. Its containers are {quoted(service.container_names)}."
        )
    absent = [name for name in images if name not in service.container_names]
    if absent:
        raise ConfigurationError(
            f"The job gives an image to container(s) {quoted(absent)}, which {service.described_as} does not "
            f"have. Its containers are {quoted(service.container_names)}: name those with {containers_option}."
        )
    document = {key: value for key, value in service.task_definition.items() if key in service.accepted_keys}
    document["containerDefinitions"] = [
        {**container, "image": images[container["name"]]} if container["name"] in images else container
        for container in service.task_definition["containerDefinitions"]
    ]
    if service.tags:
        document["tags"] = [dict(tag) for tag in service.tags]
    try:
        content = json.dumps(document, indent=2, allow_nan=False).encode() + b"\n"
    except ValueError as exc:  # a number JSON cannot hold (1e400 became Infinity when it was read)
        raise ConfigurationError(f"{capitalized(service.described_as)} holds a number JSON cannot hold.") from exc
    if len(content) > MAX_TASKDEF_BYTES:
        raise ConfigurationError(
            f"{capitalized(service.described_as)} would make a taskdef.json of {len(content)} bytes; ECS registers "
            "task definitions of at most 64 KiB."
        )
    return content


def codedeploy_files(
    service: BlueGreenService, images: Sequence[ContainerImage], containers_option: str
) -> tuple[OutputFile, OutputFile]:
    """taskdef.json and appspec.yaml for the service, its containers given the images."""
    return (
        OutputFile(
            TASKDEF_FILE, taskdef_json(service, {image.name: image.image_uri for image in images}, containers_option)
        ),
        OutputFile(APPSPEC_FILE, appspec_yaml(service)),
    )


def appspec_yaml(service: BlueGreenService) -> bytes:
    """The AppSpec of an ECS deployment: the new task definition, the load balancer's container and port, and the
    service's platform version and network configuration where it has them.
    """
    properties: dict[str, Any] = {
        "TaskDefinition": TASK_DEFINITION_PLACEHOLDER,
        "LoadBalancerInfo": {
            "ContainerName": service.load_balancer.container_name,
            "ContainerPort": service.load_balancer.container_port,
        },
    }
    if service.platform_version:
        properties["PlatformVersion"] = service.platform_version
    if service.awsvpc_configuration:
        properties["NetworkConfiguration"] = {
            "AwsvpcConfiguration": {
                appspec_key: service.awsvpc_configuration[key]
                for key, appspec_key in _APPSPEC_NETWORK_KEYS.items()
                if key in service.awsvpc_configuration
            }
        }
    document = {
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}],
    }
    return ("\n".join(_yaml_block(document, 0)) + "\n").encode()


def _yaml_block(mapping: Mapping[str, Any], indent: int) -> list[str]:
    """Block-style YAML of a mapping whose keys are fixed identifiers.

    Every value that is not a mapping or a list of mappings is written as JSON, which YAML reads as the same
    value: strings double-quoted and escaped, so no value from ECS can change the document's structure.
    """
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            lines += [f"{pad}{key}:", *_yaml_block(value, indent + 2)]
        elif _is_list_of_mappings(value):
            lines.append(f"{pad}{key}:")
            for entry in value:
                first, *rest = _yaml_block(entry, indent + 4)
                lines += [f"{pad}  - {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}{key}: {json.dumps(value)}")
    return lines


def _is_list_of_mappings(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(entry, Mapping) for entry in value)


def service_from_task_definition_file(
    data: bytes,
    path: str,
    container_name: str | None,
    container_port: int | None,
    container_flag: str,
    port_flag: str,
) -> BlueGreenService:
    """A task definition file (describe-task-definition output, or the bare task definition) as the service.

    Without the load balancer's container and port (`container_flag` and `port_flag` name the options that give
    them), they are taken from the one container that maps a port, and from its one port.
    """
    described_as = f"the task definition in {path}"
    try:
        document = parse_json(data.decode("utf-8-sig"))  # pragma: no mutate (codec names are case-insensitive)
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{capitalized(described_as)} is not UTF-8 text.") from exc
    except JsonTextError as exc:
        raise ConfigurationError(f"{capitalized(described_as)} is {exc}.") from exc
    described = isinstance(document, dict) and "taskDefinition" in document
    task_definition = check_task_definition(document["taskDefinition"] if described else document, described_as)
    tags = document.get("tags", []) if described else []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
        raise ConfigurationError(f'The "tags" in {path} must be a list of {{"key", "value"}} objects.')
    containers: list[dict[str, Any]] = task_definition["containerDefinitions"]
    if container_name is None:
        with_ports = [container["name"] for container in containers if _container_ports(container)]
        container_name = _the_one(
            with_ports,
            f"{capitalized(described_as)} has {len(with_ports)} containers that map a port",
            container_flag,
        )
    chosen = [container for container in containers if container["name"] == container_name]
    if not chosen:
        raise ConfigurationError(
            f'{container_flag} is "{container_name}", which {described_as} does not have. Its '
            f"containers are {quoted(container['name'] for container in containers)}."
        )
    ports = _container_ports(chosen[0])
    if container_port is None:
        container_port = _the_one(ports, f'Container "{container_name}" in {path} maps {len(ports)} ports', port_flag)
    elif container_port not in ports:
        raise ConfigurationError(
            f'{port_flag} is {container_port}, which container "{container_name}" in {path} does not '
            f"map (its ports: {', '.join(map(str, ports)) or 'none'}). The load balancer can only reach a mapped port."
        )
    return BlueGreenService(
        described_as=described_as,
        task_definition=task_definition,
        tags=tuple(tags),
        load_balancer=LoadBalancerTarget(container_name, container_port),
    )


def _the_one(candidates: Sequence[_Candidate], found: str, flag: str) -> _Candidate:
    """The only candidate; else an error saying what was found and which flag chooses."""
    if len(candidates) != 1:
        shown = ", ".join(json.dumps(candidate) for candidate in candidates) or "none"
        raise ConfigurationError(f"{found} ({shown}); say which one the load balancer sends traffic to with {flag}.")
    return candidates[0]


def _container_ports(container: Mapping[str, Any]) -> Sequence[int]:
    mappings = container.get("portMappings")
    if not isinstance(mappings, list):
        return []
    return sorted(
        {
            mapping["containerPort"]
            for mapping in mappings
            if isinstance(mapping, dict) and is_port(mapping.get("containerPort"))
        }
    )


def is_port(value: object) -> bool:
    """A TCP port number (JSON's true is no port, though Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PORT
