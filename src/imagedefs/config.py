"""The action's configuration: function-level settings (environment) and UserParameters (per action)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, cast

from imagedefs.errors import ConfigurationError, quoted
from imagedefs.references import is_valid_container_name

Pin = Literal["tag", "digest"]
OutputFormat = Literal["imagedefinitions", "imagedetail"]

PINS: Final[tuple[Pin, ...]] = ("tag", "digest")
FORMATS: Final[tuple[OutputFormat, ...]] = ("imagedefinitions", "imagedetail")
DEFAULT_FILE_NAMES: Final[dict[OutputFormat, str]] = {
    "imagedefinitions": "imagedefinitions.json",
    "imagedetail": "imageDetail.json",
}
USER_PARAMETER_KEYS: Final = ("containers", "pin", "tag", "outputs", "format", "file")
MAX_USER_PARAMETERS_LENGTH: Final = 1000

ENV_DEFAULT_PIN: Final = "IMAGEDEFS_DEFAULT_PIN"
ENV_DEFAULT_TAG_PATTERN: Final = "IMAGEDEFS_DEFAULT_TAG_PATTERN"
ENV_ALLOWED_REGISTRIES: Final = "IMAGEDEFS_ALLOWED_REGISTRIES"

_ACCOUNT_RULE: Final = re.compile(r"(?P<account>[0-9]{12})(?::(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]))?")
_ECR_HOST: Final = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
_HOST_RULE: Final = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?")
_Choice = TypeVar("_Choice", bound=str)


@dataclass(frozen=True)
class RegistryRule:
    """One allow-list entry: a registry host, or an AWS account with an optional region."""

    text: str

    def allows(self, registry: str) -> bool:
        account_rule = _ACCOUNT_RULE.fullmatch(self.text)
        if account_rule is None:
            return registry.lower() == self.text.lower()
        ecr_host = _ECR_HOST.fullmatch(registry)
        if ecr_host is None or ecr_host["account"] != account_rule["account"]:
            return False
        return account_rule["region"] is None or ecr_host["region"] == account_rule["region"]


@dataclass(frozen=True)
class Settings:
    """Function-level settings, set by whoever deploys the function (template parameters)."""

    default_pin: Pin = "tag"
    default_tag_pattern: re.Pattern[str] | None = None
    allowed_registries: tuple[RegistryRule, ...] = ()

    def registry_allowed(self, registry: str) -> bool:
        """An empty allow-list allows every registry."""
        return not self.allowed_registries or any(rule.allows(registry) for rule in self.allowed_registries)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        pin = environ.get(ENV_DEFAULT_PIN, "").strip() or "tag"
        if pin not in PINS:
            raise ConfigurationError(
                f'The function\'s environment variable {ENV_DEFAULT_PIN} is "{pin}": it must be "tag" or "digest". '
                "Fix the DefaultPin parameter of the function's stack."
            )
        pattern_text = environ.get(ENV_DEFAULT_TAG_PATTERN, "")
        rules = tuple(RegistryRule(entry.strip()) for entry in environ.get(ENV_ALLOWED_REGISTRIES, "").split(","))
        rules = tuple(rule for rule in rules if rule.text)
        for rule in rules:
            if _ACCOUNT_RULE.fullmatch(rule.text) is None and _HOST_RULE.fullmatch(rule.text) is None:
                raise ConfigurationError(
                    f'The function\'s environment variable {ENV_ALLOWED_REGISTRIES} holds "{rule.text}", which is '
                    "neither a registry host (123456789012.dkr.ecr.eu-west-1.amazonaws.com, ghcr.io) nor an "
                    "account (123456789012) or account:region (123456789012:eu-west-1). Fix the AllowedRegistries "
                    "parameter of the function's stack."
                )
        return cls(
            default_pin=pin,
            default_tag_pattern=_compile_tag_pattern(pattern_text, f"the function's {ENV_DEFAULT_TAG_PATTERN}")
            if pattern_text
            else None,
            allowed_registries=rules,
        )


@dataclass(frozen=True)
class ActionConfig:
    """What one Invoke action asks for: UserParameters over the function's settings."""

    containers: Mapping[str, str] | None = None
    pin: Pin = "tag"
    tag_pattern: re.Pattern[str] | None = None
    outputs: Mapping[str, tuple[str, ...]] | None = None
    output_format: OutputFormat = "imagedefinitions"
    file_name: str = DEFAULT_FILE_NAMES["imagedefinitions"]


def parse_user_parameters(raw: str | None, settings: Settings) -> ActionConfig:
    """Validate UserParameters (a JSON object, every key optional) and resolve the defaults."""
    parameters = _load_object(raw)
    unknown = sorted(set(parameters) - set(USER_PARAMETER_KEYS))
    if unknown:
        raise ConfigurationError(
            f"UserParameters has unknown key(s) {quoted(unknown)}. Valid keys: {quoted(USER_PARAMETER_KEYS)}."
        )
    output_format = _choice(parameters, "format", FORMATS, "imagedefinitions")
    tag = parameters.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise ConfigurationError(f'UserParameters "tag" must be a string (a regular expression), not {_kind(tag)}.')
    return ActionConfig(
        containers=_containers(parameters.get("containers")),
        pin=_choice(parameters, "pin", PINS, settings.default_pin),
        tag_pattern=_compile_tag_pattern(tag, 'UserParameters "tag"') if tag else settings.default_tag_pattern,
        outputs=_outputs(parameters.get("outputs")),
        output_format=output_format,
        file_name=_file_name(parameters.get("file"), DEFAULT_FILE_NAMES[output_format]),
    )


def _load_object(raw: str | None) -> dict[str, Any]:
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_USER_PARAMETERS_LENGTH:
        raise ConfigurationError(
            f"UserParameters is {len(raw)} characters long; CodePipeline allows at most {MAX_USER_PARAMETERS_LENGTH}."
        )
    try:
        parameters = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"UserParameters is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}). "
            'Write a JSON object, for example {"pin": "digest"}.'
        ) from exc
    if not isinstance(parameters, dict):
        raise ConfigurationError(
            f'UserParameters must be a JSON object such as {{"pin": "digest"}}, not {_kind(parameters)}.'
        )
    return parameters


def _choice(parameters: Mapping[str, Any], key: str, choices: tuple[_Choice, ...], default: _Choice) -> _Choice:
    value = parameters.get(key, default)
    if value not in choices:
        raise ConfigurationError(f'UserParameters "{key}" is {json.dumps(value)}: it must be one of {quoted(choices)}.')
    return cast(_Choice, value)


def _compile_tag_pattern(text: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ConfigurationError(
            f"{where} is not a valid regular expression ({exc}): {json.dumps(text)}. "
            'Write a Python regular expression that a whole tag matches, for example "v[0-9]+\\\\.[0-9]+\\\\.[0-9]+".'
        ) from exc


def _containers(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            'UserParameters "containers" must be a non-empty object mapping input artifact names to container '
            f'names, for example {{"WebImage": "web"}}, not {_kind(value)}.'
        )
    seen: dict[str, str] = {}
    for artifact, container in value.items():
        if not isinstance(container, str) or not is_valid_container_name(container):
            raise ConfigurationError(
                f'UserParameters "containers" maps artifact "{artifact}" to {json.dumps(container)}, which is not a '
                "valid ECS container name (1-255 letters, digits, hyphens and underscores)."
            )
        if container in seen:
            raise ConfigurationError(
                f'UserParameters "containers" maps both "{seen[container]}" and "{artifact}" to container '
                f'"{container}": each container must come from one artifact.'
            )
        seen[container] = artifact
    return dict(value)


def _outputs(value: object) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    example = '{"WebDefinitions": ["web"], "ApiDefinitions": ["api"]}'
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            'UserParameters "outputs" must be a non-empty object mapping output artifact names to lists of '
            f"container names, for example {example}, not {_kind(value)}."
        )
    outputs: dict[str, tuple[str, ...]] = {}
    for artifact, containers in value.items():
        if (
            not isinstance(containers, list)
            or not containers
            or not all(isinstance(name, str) and is_valid_container_name(name) for name in containers)
        ):
            raise ConfigurationError(
                f'UserParameters "outputs" gives output artifact "{artifact}" {json.dumps(containers)}: it must be a '
                f"non-empty list of ECS container names, for example {example}."
            )
        if len(set(containers)) != len(containers):
            raise ConfigurationError(
                f'UserParameters "outputs" lists a container twice for output artifact "{artifact}".'
            )
        outputs[artifact] = tuple(containers)
    return outputs


def _file_name(value: object, default: str) -> str:
    if value is None:
        return default
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 255
        or value in (".", "..")
        or any(char in value for char in "/\\\0")
    ):
        raise ConfigurationError(
            f'UserParameters "file" is {json.dumps(value)}: it must be a plain file name (no folders), 1-255 '
            f'characters, for example "{default}".'
        )
    return value


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
