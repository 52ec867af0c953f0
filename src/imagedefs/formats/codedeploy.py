"""ECS blue/green (CodePipeline's CodeDeployToECS action): taskdef.json and appspec.yaml for a service.

Pure: the service's current task definition and how its load balancer reaches it come in (from ECS in
the action, from a file on the command line), the two files come out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from imagedefs.errors import ConfigurationError, capitalized, quoted
from imagedefs.json_text import JsonTextError, parse_json
from imagedefs.model import ContainerImage, OutputFile

if TYPE_CHECKING:
    from imagedefs.overrides import ContainerOverrides, TaskOverrides

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
# ECS's "task definition size" quota, which overrides must keep the task definition under (as compact JSON).
ECS_TASK_DEFINITION_BYTES: Final = 64 * 1024
# Fargate's task sizes: CPU units -> the memory (MiB) each takes (RegisterTaskDefinition's "memory" in botocore's
# ECS model); another pair fails when CodeDeployToECS registers the task definition, after this job succeeded.
FARGATE_TASK_SIZES: Final[dict[int, range | tuple[int, ...]]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}
# The service's awsvpcConfiguration members, as the appspec names them.
_APPSPEC_NETWORK_KEYS: Final = {
    "subnets": "Subnets",
    "securityGroups": "SecurityGroups",
    "assignPublicIp": "AssignPublicIp",
}
# A capacity provider strategy item's members, as the appspec names them (in the order AWS's example writes them).
_APPSPEC_STRATEGY_KEYS: Final = {"base": "Base", "capacityProvider": "CapacityProvider", "weight": "Weight"}


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
    # As DescribeServices gives it ({"capacityProvider", "weight"?, "base"?}); empty for a service on a launch type.
    capacity_provider_strategy: tuple[Mapping[str, Any], ...] = ()
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


def taskdef_json(
    service: BlueGreenService,
    images: Mapping[str, str],
    containers_option: str,
    overrides: TaskOverrides | None = None,
    overrides_option: str = "",
) -> bytes:
    """The current task definition as RegisterTaskDefinition input, each container of `images` given its image
    and `overrides` applied (`overrides_option` is what messages call them).

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
    if overrides is not None:
        _apply_overrides(document, overrides, service, overrides_option)
    if service.tags:
        document["tags"] = [dict(tag) for tag in service.tags]
    if overrides is not None:
        _check_registrable_size(document, service, overrides_option)
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
    service: BlueGreenService,
    images: Sequence[ContainerImage],
    *,
    containers_option: str,
    overrides: TaskOverrides | None = None,
    overrides_option: str = "",
    hooks: Mapping[str, str] | None = None,
) -> tuple[OutputFile, OutputFile]:
    """taskdef.json and appspec.yaml for the service, its containers given the images and the overrides, the
    appspec the lifecycle hooks."""
    by_name = {image.name: image.image_uri for image in images}
    return (
        OutputFile(TASKDEF_FILE, taskdef_json(service, by_name, containers_option, overrides, overrides_option)),
        OutputFile(APPSPEC_FILE, appspec_yaml(service, hooks or {})),
    )


def _apply_overrides(
    document: dict[str, Any], overrides: TaskOverrides, service: BlueGreenService, option: str
) -> None:
    absent = [name for name in overrides.containers if name not in service.container_names]
    if absent:
        raise ConfigurationError(
            f"{option} names container(s) {quoted(absent)}, which {service.described_as} does not have. Its "
            f"containers are {quoted(service.container_names)}."
        )
    document["containerDefinitions"] = [
        _overridden_container(container, overrides.containers[container["name"]], service, option)
        if container["name"] in overrides.containers
        else container
        for container in document["containerDefinitions"]
    ]
    for key in ("cpu", "memory"):
        if (size := getattr(overrides, key)) is not None:
            document[key] = size
    if overrides.cpu is not None or overrides.memory is not None:
        _check_fargate_size(document, service, option)


def _overridden_container(
    container: Mapping[str, Any], overrides: ContainerOverrides, service: BlueGreenService, option: str
) -> dict[str, Any]:
    """The container with its variables and labels set or replaced by name (the others kept, in their order; new
    ones after them, in the order given) and its command replaced."""
    name = container["name"]
    where = f'container "{name}" of {service.described_as}'
    overridden = dict(container)
    if overrides.environment:
        secrets = [entry.get("name") for entry in _entries(container, "secrets", where)]
        clashing = [variable for variable in overrides.environment if variable in secrets]
        if clashing:
            raise ConfigurationError(
                f'{option} for container "{name}" sets environment variable(s) {quoted(clashing)}, which the container '
                'takes from a secret (its "secrets"): a pipeline cannot replace a secret with plain text. Give the '
                "variable another name, or change the secret in the service's task definition."
            )
        environment = [dict(entry) for entry in _entries(container, "environment", where)]
        for variable, value in overrides.environment.items():
            matching = [entry for entry in environment if entry.get("name") == variable]
            for entry in matching:
                entry["value"] = value
            if not matching:
                environment.append({"name": variable, "value": value})
        overridden["environment"] = environment
    if overrides.docker_labels:
        labels = container.get("dockerLabels", {})
        if not isinstance(labels, dict):
            raise ConfigurationError(f'{capitalized(where)}: its "dockerLabels" are not an object as ECS gives them.')
        overridden["dockerLabels"] = {**labels, **overrides.docker_labels}
    if overrides.command is not None:
        overridden["command"] = list(overrides.command)
    return overridden


def _entries(container: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    entries = container.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigurationError(f'{capitalized(where)}: its "{key}" is not a list of objects, as ECS describes it.')
    return entries


def _check_fargate_size(document: Mapping[str, Any], service: BlueGreenService, option: str) -> None:
    """A Fargate task's cpu and memory, after the overrides, must be a pair Fargate runs."""
    from imagedefs.overrides import cpu_units, memory_mib

    compatibilities = document.get("requiresCompatibilities")
    if not isinstance(compatibilities, list) or "FARGATE" not in compatibilities:
        return
    cpu, memory = cpu_units(str(document.get("cpu"))), memory_mib(str(document.get("memory")))
    if cpu is None or memory is None:
        return  # the other one is the live task definition's, in a form ECS took: nothing to compare with
    memories = FARGATE_TASK_SIZES.get(int(cpu)) if cpu == int(cpu) else None
    if memories is None or memory != int(memory) or int(memory) not in memories:
        sizes = "; ".join(
            f"cpu {units}: memory {_memory_choices(choices)}" for units, choices in FARGATE_TASK_SIZES.items()
        )
        raise ConfigurationError(
            f'{option} makes the Fargate task of {service.described_as} cpu "{document.get("cpu")}" with memory '
            f'"{document.get("memory")}", a size Fargate does not run (registering it would fail in the deploy '
            f"action). Fargate's sizes (CPU units: MiB): {sizes}."
        )


def _memory_choices(choices: range | tuple[int, ...]) -> str:
    if isinstance(choices, range):
        return f"{choices.start}-{choices.stop - 1} in steps of {choices.step}"
    return ", ".join(map(str, choices))


def _check_registrable_size(document: Mapping[str, Any], service: BlueGreenService, option: str) -> None:
    size = len(json.dumps(document, separators=(",", ":"), allow_nan=False).encode())
    if size > ECS_TASK_DEFINITION_BYTES:
        raise ConfigurationError(
            f"{option} makes {service.described_as} {size:,} bytes long as JSON; ECS registers task definitions of "
            f"at most {ECS_TASK_DEFINITION_BYTES // 1024} KiB. Give shorter values, or fewer."
        )


def appspec_yaml(service: BlueGreenService, hooks: Mapping[str, str] | None = None) -> bytes:
    """The AppSpec of an ECS deployment: the new task definition, the load balancer's container and port, the
    service's platform version, network configuration and capacity provider strategy where it has them, and the
    lifecycle hooks (event -> Lambda function, in the order CodeDeploy runs them).
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
    if service.capacity_provider_strategy:
        properties["CapacityProviderStrategy"] = [
            {
                appspec_key: item[key]
                for key, appspec_key in _APPSPEC_STRATEGY_KEYS.items()
                if key in item  # pragma: no mutate (ECS always gives the provider; weight and base default to 0)
            }
            for item in service.capacity_provider_strategy
        ]
    document: dict[str, Any] = {
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}],
    }
    if hooks:
        from imagedefs.overrides import HOOK_EVENTS

        # The events are the document's keys: only CodeDeploy's own names may be written unquoted.
        assert set(hooks) <= set(HOOK_EVENTS), "hooks are checked by overrides.parse_hooks"
        document["Hooks"] = [{event: function} for event, function in hooks.items()]
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
