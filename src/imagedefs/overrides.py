"""What a blue/green ("codedeploy") job changes beyond the images: task definition overrides and AppSpec hooks.

Pure: UserParameters' "overrides" and "hooks" (and the stack's default hooks) in, typed and checked values out.
What needs the task definition itself (which containers it has, what each holds under "secrets", Fargate's sizes)
is checked where the task definition is rendered (formats/codedeploy.py). Only a job that gives either key, or a
blue/green job of a stack with default hooks, loads this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from imagedefs.errors import ConfigurationError, capitalized, quoted, shown
from imagedefs.json_text import json_kind
from imagedefs.references import is_valid_container_name

OVERRIDE_SECTIONS: Final = ("containers", "task")
CONTAINER_OVERRIDE_KEYS: Final = ("environment", "dockerLabels", "command")
TASK_OVERRIDE_KEYS: Final = ("cpu", "memory")
# Why these stay the service owner's: each widens what a task may read or do, which a pipeline's UserParameters
# (editable by whoever may edit the pipeline, and fed by pipeline variables) must not decide.
_REFUSED_CONTAINER_KEYS: Final = {
    "secrets": "secrets widen what a task may read (Secrets Manager, SSM parameters)",
    "environmentFiles": "environment files are read from S3 with the task execution role, which widens what a task "
    "may read",
    "image": 'images come from the input artifacts or "images"',
}
_REFUSED_TASK_KEYS: Final = {
    "taskRoleArn": "the task role decides what the task may read and change in AWS",
    "executionRoleArn": "the execution role decides which images, secrets and logs the task may reach",
}
_OWNERS_WORD: Final = (
    "which belongs to whoever owns the service, not to a pipeline's UserParameters: change it in the service's "
    "task definition"
)
# CodeDeploy's lifecycle events of an ECS deployment, in the order it runs them (the AppSpec lists them so).
HOOK_EVENTS: Final = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
# Lambda's function name (1-64 letters, digits, - and _) with an optional version or alias, or the function's ARN
# (Lambda's FunctionName grammar in botocore's model; a partial ARN "123456789012:function:x" is left out).
_FUNCTION_NAME: Final = r"[A-Za-z0-9_-]{1,64}(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?"
_HOOK_FUNCTION: Final = re.compile(
    rf"(?:arn:aws[a-zA-Z-]*:lambda:[a-z]{{2}}(?:-[a-z]+)+-[0-9]:[0-9]{{12}}:function:)?{_FUNCTION_NAME}", re.ASCII
)
# The prefix AWSCodeDeployRoleForECSLimited lets CodeDeploy invoke (AWSCodeDeployRoleForECS allows any function).
HOOK_FUNCTION_PREFIX: Final = "CodeDeployHook_"
# ECS's documented task CPU range (128 CPU units = 0.125 vCPU, to 192 vCPU); vCPU texts convert at 1,024 units.
MIN_TASK_CPU_UNITS: Final = 128
MAX_TASK_CPU_UNITS: Final = 196_608
CPU_UNITS_PER_VCPU: Final = 1024
MIB_PER_GB: Final = 1024
_CPU_TEXT: Final = re.compile(r"(?P<units>[0-9]{1,6})|(?P<vcpu>[0-9]{1,3}(?:\.[0-9]{1,3})?) ?(?i:vcpu)", re.ASCII)
_MEMORY_TEXT: Final = re.compile(r"(?P<mib>[0-9]{1,7})|(?P<gb>[0-9]{1,4}(?:\.[0-9]{1,3})?) ?(?i:gb)", re.ASCII)
# Docker passes environment variables as NAME=VALUE C strings: a name holds no "=", nothing holds a NUL.
_NUL: Final = "\0"


@dataclass(frozen=True)
class ContainerOverrides:
    """What one container's definition gets: variables and labels set or replaced by name, the command replaced."""

    environment: Mapping[str, str] = field(default_factory=dict)
    docker_labels: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TaskOverrides:
    """UserParameters "overrides": per container, and the task's size (the texts ECS takes, integers as digits)."""

    containers: Mapping[str, ContainerOverrides] = field(default_factory=dict)
    cpu: str | None = None
    memory: str | None = None


def parse_overrides(value: object, option: str) -> TaskOverrides:
    """UserParameters "overrides" (`option` is what messages call it), every key and value checked."""
    example = '{"containers": {"web": {"environment": {"GIT_SHA": "#{Source.CommitId}"}}}, "task": {"cpu": "512"}}'
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f'{option} must be a non-empty object with containers under "containers" and the task\'s size under '
            f'"task", for example {example}, not {json_kind(value)}.'
        )
    unknown = [key for key in value if key not in OVERRIDE_SECTIONS]
    if unknown:
        raise ConfigurationError(
            f"{option} has unknown key(s) {quoted(unknown)}. Valid keys: {quoted(OVERRIDE_SECTIONS)} (containers "
            f'go under "containers", since "task" is a valid container name), for example {example}.'
        )
    containers = value.get("containers", {})
    if not isinstance(containers, dict) or ("containers" in value and not containers):
        raise ConfigurationError(
            f'{option}: "containers" must be a non-empty object mapping container names to their overrides, not '
            f"{json_kind(containers)}."
        )
    task = _task_overrides(value.get("task"), f'{option}, "task"')
    return TaskOverrides(
        containers={
            name: _container_overrides(overrides, name, f'{option} for container "{name}"')
            for name, overrides in containers.items()
        },
        cpu=task.get("cpu"),
        memory=task.get("memory"),
    )


def _container_overrides(value: object, name: str, where: str) -> ContainerOverrides:
    if not is_valid_container_name(name):
        raise ConfigurationError(
            f"{capitalized(where)}: {shown(name)} is not a valid ECS container name (1-255 letters, digits, "
            "hyphens and underscores)."
        )
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f"{capitalized(where)} must be a non-empty object with {quoted(CONTAINER_OVERRIDE_KEYS)}, not "
            f"{json_kind(value)}."
        )
    for key in value:
        if key in _REFUSED_CONTAINER_KEYS:
            raise ConfigurationError(
                f'{capitalized(where)} sets "{key}", which cannot be overridden: {_REFUSED_CONTAINER_KEYS[key]}, '
                f"{_OWNERS_WORD}."
            )
        if key not in CONTAINER_OVERRIDE_KEYS:
            raise ConfigurationError(
                f"{capitalized(where)} sets {shown(key)}, which is not a container setting that can be "
                f"overridden. Valid keys: {quoted(CONTAINER_OVERRIDE_KEYS)} (spelled as ECS spells them)."
            )
    command = value.get("command")
    if command is not None and (not isinstance(command, list) or not command):
        raise ConfigurationError(
            f'{capitalized(where)}: "command" must be a non-empty list of strings, one per argument, for example '
            f'["serve", "--port", "8080"], not {json_kind(command)}.'
        )
    return ContainerOverrides(
        environment=_text_map(value.get("environment"), f'{where}, "environment"', "variable", _env_name_problem),
        docker_labels=_text_map(value.get("dockerLabels"), f'{where}, "dockerLabels"', "label", _label_key_problem),
        command=None
        if command is None
        else tuple(_text(argument, f'{where}, "command" argument {index}') for index, argument in enumerate(command)),
    )


def _text_map(value: object, where: str, what: str, name_problem: Callable[[str], str | None]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f"{capitalized(where)} must be a non-empty object mapping each {what} to its value (a string), not "
            f"{json_kind(value)}."
        )
    texts: dict[str, str] = {}
    for name, text in value.items():
        if (problem := name_problem(name)) is not None:
            raise ConfigurationError(f"{capitalized(where)}: {what} name {shown(name)} {problem}.")
        texts[name] = _text(text, f"{where}, {what} {shown(name)}")
    return texts


def _env_name_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if "=" in name or _NUL in name:
        return 'holds "=" or a NUL character, which no environment variable name can hold'
    if name != name.strip():
        return "has whitespace around it (usually a pasted or wrong variable)"
    return None


def _label_key_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if _NUL in name:
        return "holds a NUL character, which Docker cannot pass"
    return None


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        hint = f' (write it as a string: "{value}")' if isinstance(value, int) and not isinstance(value, bool) else ""
        raise ConfigurationError(f"{capitalized(where)} must be a string, not {json_kind(value)}{hint}.")
    if _NUL in value:
        raise ConfigurationError(f"{capitalized(where)} holds a NUL character, which Docker cannot pass on.")
    return value


def _task_overrides(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f'{capitalized(where)} must be a non-empty object with "cpu" and/or "memory", for example '
            f'{{"cpu": "512", "memory": "1024"}}, not {json_kind(value)}.'
        )
    for key in value:
        if key in _REFUSED_TASK_KEYS:
            raise ConfigurationError(
                f'{capitalized(where)} sets "{key}", which cannot be overridden: {_REFUSED_TASK_KEYS[key]}, '
                f"{_OWNERS_WORD}."
            )
        if key not in TASK_OVERRIDE_KEYS:
            raise ConfigurationError(
                f"{capitalized(where)} sets {shown(key)}, which is not a task setting that can be overridden. "
                f"Valid keys: {quoted(TASK_OVERRIDE_KEYS)}."
            )
    size: dict[str, str] = {}
    if "cpu" in value:
        size["cpu"] = _size_text(value["cpu"], f'{where}, "cpu"', _CPU_TEXT, '"512" (CPU units) or "0.5 vCPU"')
        if not MIN_TASK_CPU_UNITS <= (cpu_units(size["cpu"]) or 0) <= MAX_TASK_CPU_UNITS:
            raise ConfigurationError(
                f'{capitalized(where)}, "cpu" is {shown(size["cpu"])}: ECS takes {MIN_TASK_CPU_UNITS} to '
                f'{MAX_TASK_CPU_UNITS:,} CPU units (0.125 to 192 vCPU), as units ("512") or vCPUs ("0.5 vCPU").'
            )
    if "memory" in value:
        size["memory"] = _size_text(value["memory"], f'{where}, "memory"', _MEMORY_TEXT, '"1024" (MiB) or "1 GB"')
        if not memory_mib(size["memory"]):
            raise ConfigurationError(
                f'{capitalized(where)}, "memory" is {shown(size["memory"])}: give the task\'s memory in MiB '
                '("1024") or GB ("1 GB"), more than 0.'
            )
    return size


def _size_text(value: object, where: str, grammar: re.Pattern[str], forms: str) -> str:
    """A task size as ECS takes it: a string, or a whole number written as one."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or grammar.fullmatch(text) is None:
        given = shown(text) if isinstance(text, str) else json_kind(value)
        raise ConfigurationError(f"{capitalized(where)} is {given}: write it as ECS takes it, {forms}.")
    return text


def cpu_units(text: str) -> float | None:
    """The CPU units of a task cpu text ECS takes ("512", "0.5 vCPU"); None for another text."""
    match = _CPU_TEXT.fullmatch(text)
    if match is None:
        return None
    return int(match["units"]) if match["units"] else float(match["vcpu"]) * CPU_UNITS_PER_VCPU


def memory_mib(text: str) -> float | None:
    """The MiB of a task memory text ECS takes ("1024", "1 GB"); None for another text."""
    match = _MEMORY_TEXT.fullmatch(text)
    if match is None:
        return None
    return int(match["mib"]) if match["mib"] else float(match["gb"]) * MIB_PER_GB


def parse_hooks(value: object, option: str, defaults: Mapping[str, str]) -> dict[str, str]:
    """UserParameters "hooks" over the stack's default hooks: lifecycle event -> Lambda function, in the order
    CodeDeploy runs the events; null drops a default hook."""
    example = f'{{"hooks": {{"AfterAllowTestTraffic": "{HOOK_FUNCTION_PREFIX}smoke_test"}}}}'
    if value is None:
        return {event: defaults[event] for event in HOOK_EVENTS if event in defaults}
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f"{option} must be a non-empty object mapping CodeDeploy lifecycle events to Lambda functions, for "
            f"example {example}, not {json_kind(value)}."
        )
    hooks = dict(defaults)
    for event, function in value.items():
        check_hook_event(event, option)
        if function is None:
            hooks.pop(event, None)
        else:
            hooks[event] = check_hook_function(function, f'{option} for "{event}"')
    return {event: hooks[event] for event in HOOK_EVENTS if event in hooks}


def check_hook_event(event: str, where: str) -> None:
    if event not in HOOK_EVENTS:
        spelled = [known for known in HOOK_EVENTS if known.lower() == event.lower()]
        hint = f" (ECS deployments spell it {json.dumps(spelled[0])})" if spelled else ""
        raise ConfigurationError(
            f"{capitalized(where)} names lifecycle event {shown(event)}{hint}, which is not one of an ECS "
            f"deployment. CodeDeploy's are {quoted(HOOK_EVENTS)}."
        )


def check_hook_function(function: object, where: str) -> str:
    if not isinstance(function, str) or _HOOK_FUNCTION.fullmatch(function) is None:
        given = shown(function) if isinstance(function, str) else json_kind(function)
        raise ConfigurationError(
            f"{capitalized(where)} is {given}, which is not a Lambda function name (1-64 letters, digits, - and _, "
            "with an optional :version or :alias) nor a function's ARN "
            f'(arn:aws:lambda:<region>:<account>:function:<name>), for example "{HOOK_FUNCTION_PREFIX}smoke_test".'
        )
    return function


def parse_default_hooks(text: str, setting: str) -> dict[str, str]:
    """The stack's default hooks: "Event=function,Event=function" (DefaultHooks, a comma-separated list)."""
    hooks: dict[str, str] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        event, equals, function = entry.partition("=")
        if not equals:
            raise ConfigurationError(
                f"{capitalized(setting)} holds {shown(entry)}: each entry must be EVENT=FUNCTION, for example "
                f"AfterAllowTestTraffic={HOOK_FUNCTION_PREFIX}smoke_test."
            )
        check_hook_event(event, setting)
        if event in hooks:
            raise ConfigurationError(f"{capitalized(setting)} names lifecycle event {shown(event)} twice.")
        hooks[event] = check_hook_function(function, f'{setting} for "{event}"')
    return hooks
