"""The action's configuration: function-level settings (environment) and UserParameters (per action)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

from imagedefs.errors import ConfigurationError, capitalized, quoted
from imagedefs.errors import shown as _shown
from imagedefs.json_text import JsonTextError, is_unicode_text, json_kind, parse_json
from imagedefs.references import ECR_HOST_PATTERN, ImageReference, is_valid_container_name, parse_reference
from imagedefs.tag_pattern import TagPattern

if TYPE_CHECKING:
    from imagedefs.budget import TimeBudget
    from imagedefs.overrides import TaskOverrides

Pin = Literal["tag", "digest"]
OutputFormat = Literal["imagedefinitions", "imagedetail", "codedeploy"]
Severity = Literal["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]

PINS: Final[tuple[Pin, ...]] = ("tag", "digest")
FORMATS: Final[tuple[OutputFormat, ...]] = ("imagedefinitions", "imagedetail", "codedeploy")
# The formats that write one file, which `file` names; "codedeploy" writes taskdef.json and appspec.yaml.
DEFAULT_FILE_NAMES: Final[dict[OutputFormat, str]] = {
    "imagedefinitions": "imagedefinitions.json",
    "imagedetail": "imageDetail.json",
}
USER_PARAMETER_KEYS: Final = (
    "containers",
    "pin",
    "tag",
    "outputs",
    "format",
    "file",
    "service",
    "images",
    "overrides",
    "hooks",
    "verify",
    "failOnSeverity",
    "role",
)
# The keys that only format "codedeploy" reads: its taskdef.json and appspec.yaml are what they change.
_CODEDEPLOY_ONLY_KEYS: Final = ("overrides", "hooks")
# ECR's FindingSeverity enum, lowest first, without UNDEFINED (and Inspector's UNTRIAGED): those have no rank.
SEVERITIES: Final[tuple[Severity, ...]] = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
# Keys holding free text, where "#{" may be meant literally: no unresolved-variable check there.
_FREE_TEXT_KEYS: Final = ("tag",)
# CodePipeline limits the typed field to 1,000 characters, then resolves its variables: #{Build.ECRImageDigestId}
# (25 characters) becomes 71. This bound only keeps a hostile text's parsing small in memory and time.
MAX_USER_PARAMETERS_LENGTH: Final = 65_536
# The fields of an "images" object; a bare repository name is an ECR repository of the job's account and region.
IMAGE_FIELDS: Final = ("repository", "digest", "tag", "registry")
_DIGEST_TEXT: Final = re.compile(r"(?:sha256:)?(?P<hex>[0-9a-f]{64})", re.ASCII)
_UNRESOLVED_VARIABLE: Final = re.compile(r"#\{[^}]{0,100}\}?", re.ASCII)

ENV_DEFAULT_PIN: Final = "IMAGEDEFS_DEFAULT_PIN"
ENV_DEFAULT_TAG_PATTERN: Final = "IMAGEDEFS_DEFAULT_TAG_PATTERN"
ENV_ALLOWED_REGISTRIES: Final = "IMAGEDEFS_ALLOWED_REGISTRIES"
ENV_ECS_SERVICES: Final = "IMAGEDEFS_ECS_SERVICES"
ENV_DEFAULT_HOOKS: Final = "IMAGEDEFS_DEFAULT_HOOKS"
ENV_VERIFY_IMAGES: Final = "IMAGEDEFS_VERIFY_IMAGES"
ENV_FAIL_ON_SEVERITY: Final = "IMAGEDEFS_FAIL_ON_SEVERITY"
ENV_ECR_REPOSITORIES: Final = "IMAGEDEFS_ECR_REPOSITORIES"
ENV_ASSUMABLE_ROLES: Final = "IMAGEDEFS_ASSUMABLE_ROLES"
# The function's own role ARN (the template's GetAtt): what a target account's role must trust.
ENV_FUNCTION_ROLE_ARN: Final = "IMAGEDEFS_FUNCTION_ROLE_ARN"

_ACCOUNT_RULE: Final = re.compile(r"(?P<account>[0-9]{12})(?::(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]))?", re.ASCII)
_HOST_RULE: Final = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?", re.ASCII)
# ECS cluster and service names: 1-255 letters, digits, hyphens and underscores.
_ECS_NAME: Final = r"[A-Za-z0-9_-]{1,255}"
_ECS_SERVICE_NAME: Final = re.compile(rf"(?P<cluster>{_ECS_NAME})/(?P<service>{_ECS_NAME})", re.ASCII)
_ECS_SERVICE_ARN: Final = re.compile(
    rf"arn:aws[a-z-]*:ecs:[a-z]{{2}}(?:-[a-z]+)+-[0-9]:[0-9]{{12}}:service/(?P<cluster>{_ECS_NAME})/(?P<service>{_ECS_NAME})",
    re.ASCII,
)
# An IAM role ARN in a partition the function can reach (IAM's path: "/" or /.../ of printable ASCII; its name:
# 1-64 letters, digits and + = , . @ _ -).
_IAM_ROLE_ARN: Final = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>[0-9]{12}):role/"
    r"(?P<path>[\x21-\x7e]{0,510}/)?(?P<name>[\w+=,.@-]{1,64})",
    re.ASCII,
)
_Choice = TypeVar("_Choice", bound=str)


@dataclass(frozen=True)
class OptionNames:
    """What messages call each option: a UserParameters key, or a flag of the command line."""

    containers: str
    pin: str
    tag: str
    outputs: str
    format: str
    file: str
    service: str
    images: str
    overrides: str
    hooks: str
    verify: str
    fail_on_severity: str
    role: str


def option_field(key: str) -> str:
    """The OptionNames field of a UserParameters key ("failOnSeverity" → "fail_on_severity")."""
    return re.sub(r"(?<=[a-z])([A-Z])", r"_\1", key).lower()


@dataclass(frozen=True)
class OptionExamples:
    """How messages show an option set right."""

    containers: str
    outputs: str
    service: str
    images: str
    # How to turn on the ECR lookup that resolves a tag's digest; None where there is none (the command line).
    verify: str | None


@dataclass(frozen=True)
class SettingNames:
    """What messages call each function-level setting: a stack parameter, or an environment variable or flag."""

    default_pin: str
    default_tag_pattern: str
    allowed_registries: str
    ecs_services: str
    default_hooks: str
    verify_images: str
    fail_on_severity: str
    ecr_repositories: str
    assumable_roles: str


@dataclass(frozen=True)
class Wording:
    """How messages name what the user set, so that each reads the names they typed.

    The action speaks of UserParameters keys and the stack's parameters; the command line of its flags. A field
    per place: a mistyped name fails the type check, not a job on an error path.
    """

    options: OptionNames
    examples: OptionExamples
    settings: SettingNames


ACTION_WORDING: Final = Wording(
    # One key list: a key without a field (or a field without a key) fails at import.
    options=OptionNames(**{option_field(key): f'UserParameters "{key}"' for key in USER_PARAMETER_KEYS}),
    examples=OptionExamples(
        containers='{"containers": {"WebImage": "web", "ApiImage": ["api", "worker"]}}',
        outputs='{"outputs": {"WebDefinitions": ["web"], "ApiDefinitions": ["api"]}}',
        service='{"format": "codedeploy", "service": "prod/web"}',
        images='{"images": {"web": {"repository": "#{Build.ECRRepositoryName}", '
        '"digest": "#{Build.ECRImageDigestId}"}}}',
        verify='{"verify": true}',
    ),
    settings=SettingNames(
        default_pin=f"the DefaultPin parameter of the function's stack (environment variable {ENV_DEFAULT_PIN})",
        default_tag_pattern="the DefaultTagPattern parameter of the function's stack "
        f"(environment variable {ENV_DEFAULT_TAG_PATTERN})",
        allowed_registries="the AllowedRegistries parameter of the function's stack "
        f"(environment variable {ENV_ALLOWED_REGISTRIES})",
        ecs_services=f"the EcsServiceArns parameter of the function's stack (environment variable {ENV_ECS_SERVICES})",
        default_hooks=f"the DefaultHooks parameter of the function's stack (environment variable {ENV_DEFAULT_HOOKS})",
        verify_images=f"the VerifyImages parameter of the function's stack (environment variable {ENV_VERIFY_IMAGES})",
        fail_on_severity="the FailOnSeverity parameter of the function's stack "
        f"(environment variable {ENV_FAIL_ON_SEVERITY})",
        ecr_repositories="the EcrRepositoryArns parameter of the function's stack "
        f"(environment variable {ENV_ECR_REPOSITORIES})",
        assumable_roles="the AssumableRoleArns parameter of the function's stack "
        f"(environment variable {ENV_ASSUMABLE_ROLES})",
    ),
)


@dataclass(frozen=True)
class EcsService:
    """The ECS service a "codedeploy" job reads: cluster and name, and the ARN when the user gave one."""

    cluster: str
    name: str
    arn: str | None = None

    def __str__(self) -> str:
        return f"{self.cluster}/{self.name}"

    def arn_in(self, *, partition: str, region: str, account: str) -> str:
        """The service's ARN: as given, or in that account and region."""
        return self.arn or f"arn:{partition}:ecs:{region}:{account}:service/{self.cluster}/{self.name}"


@dataclass(frozen=True)
class TargetRole:
    """The role in another account that UserParameters "role" names: ECS and ECR there are read through it."""

    arn: str
    partition: str
    account: str

    def __str__(self) -> str:
        return self.arn


def iam_arn_pattern(text: str) -> re.Pattern[str]:
    """IAM's matching of a Resource ARN: `*` any run of characters (slashes too), `?` any one; case matters."""
    return re.compile("".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in text))


def _listed(arn: str, patterns: tuple[str, ...]) -> bool:
    return any(iam_arn_pattern(pattern).fullmatch(arn) for pattern in patterns)


# AWS partitions by region prefix (the rest is "aws"): each is a namespace of its own, accounts included.
_PARTITION_PREFIXES: Final = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
_CHINA_PARTITION: Final = "aws-cn"


def partition_of(region: str) -> str:
    """The AWS partition of a region ("aws" for an empty or unknown one)."""
    return next((partition for prefix, partition in _PARTITION_PREFIXES if region.startswith(prefix)), "aws")


@dataclass(frozen=True)
class RegistryRule:
    """One allow-list entry: a registry host, or an AWS account with an optional region.

    A bare account entry matches ECR registries of the function's own partition only: account 123456789012
    of the China partition (amazonaws.com.cn) is not the account of that number in aws. An account:region
    entry names its partition by its region; a host entry names any registry exactly.
    """

    text: str
    partition: str = "aws"

    def allows(self, registry: str) -> bool:
        account_rule = _ACCOUNT_RULE.fullmatch(self.text)
        if account_rule is None:
            return registry.lower() == self.text.lower()
        ecr_host = ECR_HOST_PATTERN.fullmatch(registry)
        if ecr_host is None or ecr_host["account"] != account_rule["account"]:
            return False
        region = ecr_host["region"].lower()
        if account_rule["region"] is not None:  # the region names its partition
            return region == account_rule["region"] and _is_partitions_host(registry, region)
        return partition_of(region) == self.partition and _is_partitions_host(registry, region)


def _is_partitions_host(registry: str, region: str) -> bool:
    """Whether an ECR host has its region's partition's domain (amazonaws.com.cn for China, else amazonaws.com)."""
    return registry.lower().endswith(".cn") == (partition_of(region) == _CHINA_PARTITION)


@dataclass(frozen=True)
class Settings:
    """Function-level settings, set by whoever deploys the function (template parameters)."""

    default_pin: Pin = "tag"
    default_tag_pattern: TagPattern | None = None
    allowed_registries: tuple[RegistryRule, ...] = ()
    # The service ARNs the function's role may read (a stack parameter); empty: no ECS permission at all.
    ecs_services: tuple[str, ...] = ()
    # Floors for every action: "verify" and "failOnSeverity" may tighten them, never loosen them.
    verify_images: bool = False
    fail_on_severity: Severity | None = None
    # The ECR repository ARNs (IAM wildcards allowed) the function's role may describe; empty: no ECR permission.
    ecr_repositories: tuple[str, ...] = ()
    # The role ARNs (IAM wildcards allowed) the function's role may assume; empty: no sts:AssumeRole at all.
    assumable_roles: tuple[str, ...] = ()
    # The function's own role ARN (empty where unknown: the command line, a test).
    function_role_arn: str = ""
    wording: Wording = ACTION_WORDING
    # The function's region: where a bare repository of "images" is (ECRBuildAndPublish pushes there).
    region: str = ""
    # "Event=function,...": AppSpec lifecycle hooks for every "codedeploy" job whose UserParameters do not say;
    # checked by the jobs that use it, so that a rolling job loads no blue/green code.
    default_hooks: str = ""

    def registry_allowed(self, registry: str) -> bool:
        """An empty allow-list allows every registry."""
        return not self.allowed_registries or any(rule.allows(registry) for rule in self.allowed_registries)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], wording: Wording = ACTION_WORDING, budget: TimeBudget | None = None
    ) -> Settings:
        """The settings; a job's `budget` bounds the default tag pattern's compiling and matching."""
        names = wording.settings
        for name, shown in (
            (ENV_DEFAULT_PIN, names.default_pin),
            (ENV_DEFAULT_TAG_PATTERN, names.default_tag_pattern),
            (ENV_ALLOWED_REGISTRIES, names.allowed_registries),
            (ENV_ECS_SERVICES, names.ecs_services),
            (ENV_DEFAULT_HOOKS, names.default_hooks),
            (ENV_VERIFY_IMAGES, names.verify_images),
            (ENV_FAIL_ON_SEVERITY, names.fail_on_severity),
            (ENV_ECR_REPOSITORIES, names.ecr_repositories),
            (ENV_ASSUMABLE_ROLES, names.assumable_roles),
        ):
            # A variable of bytes that are not UTF-8 arrives with unpaired surrogates, which no message can carry.
            if not is_unicode_text(environ.get(name, "")):
                raise ConfigurationError(f"{capitalized(shown)} is not valid UTF-8 text; set it again.")
        pin = environ.get(ENV_DEFAULT_PIN, "").strip() or "tag"
        if pin not in PINS:
            raise ConfigurationError(
                f'{capitalized(names.default_pin)} is {json.dumps(pin)}: it must be "tag" or "digest".'
            )
        pattern_text = environ.get(ENV_DEFAULT_TAG_PATTERN, "")  # pragma: no mutate (None is as empty below)
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
        partition = partition_of(region)
        rules = tuple(
            RegistryRule(entry.strip(), partition) for entry in environ.get(ENV_ALLOWED_REGISTRIES, "").split(",")
        )
        rules = tuple(rule for rule in rules if rule.text)
        for rule in rules:
            if _ACCOUNT_RULE.fullmatch(rule.text) is None and _HOST_RULE.fullmatch(rule.text) is None:
                raise ConfigurationError(
                    f"{capitalized(names.allowed_registries)} holds {json.dumps(rule.text)}, which "
                    "is neither a registry host (123456789012.dkr.ecr.eu-west-1.amazonaws.com, ghcr.io) nor an "
                    "account (123456789012) or account:region (123456789012:eu-west-1)."
                )
        verify = environ.get(ENV_VERIFY_IMAGES, "").strip().lower() or "false"
        if verify not in ("true", "false"):
            raise ConfigurationError(
                f'{capitalized(names.verify_images)} is {json.dumps(verify)}: it must be "true" or "false".'
            )
        severity = environ.get(ENV_FAIL_ON_SEVERITY, "").strip().upper() or None
        if severity is not None and severity not in SEVERITIES:
            raise ConfigurationError(
                f"{capitalized(names.fail_on_severity)} is {json.dumps(severity)}: it must be empty or one of "
                f"{quoted(SEVERITIES)}."
            )
        return cls(
            default_pin=pin,
            default_tag_pattern=TagPattern.compile(pattern_text, names.default_tag_pattern, budget)
            if pattern_text
            else None,
            allowed_registries=rules,
            ecs_services=_arn_list(environ.get(ENV_ECS_SERVICES, "")),
            verify_images=verify == "true",
            fail_on_severity=severity,
            ecr_repositories=_arn_list(environ.get(ENV_ECR_REPOSITORIES, "")),
            assumable_roles=_arn_list(environ.get(ENV_ASSUMABLE_ROLES, "")),
            function_role_arn=environ.get(ENV_FUNCTION_ROLE_ARN, "").strip(),
            wording=wording,
            region=region,
            default_hooks=environ.get(ENV_DEFAULT_HOOKS, "").strip(),
        )


def _arn_list(text: str) -> tuple[str, ...]:
    """A stack parameter's comma-separated ARNs."""
    return tuple(arn.strip() for arn in text.split(",") if arn.strip())


@dataclass(frozen=True)
class DirectImage:
    """An image that "images" gives a container: a full reference, checked by the grammar, registry completed."""

    image_uri: str
    reference: ImageReference


@dataclass(frozen=True)
class ActionConfig:
    """What one Invoke action asks for: UserParameters over the function's settings."""

    containers: Mapping[str, tuple[str, ...]] | None = None
    pin: Pin = "tag"
    tag_pattern: TagPattern | None = None
    outputs: Mapping[str, tuple[str, ...]] | None = None
    output_format: OutputFormat = "imagedefinitions"
    file_name: str = DEFAULT_FILE_NAMES["imagedefinitions"]
    service: EcsService | None = None
    wording: Wording = ACTION_WORDING
    # Container → the image "images" gives it directly (from pipeline variables), in the order given.
    images: Mapping[str, DirectImage] = field(default_factory=dict)
    # Format "codedeploy": what taskdef.json changes beyond the images, and appspec.yaml's lifecycle hooks.
    overrides: TaskOverrides | None = None
    hooks: Mapping[str, str] = field(default_factory=dict)
    # The ECR gate: look every ECR image up before writing; fail on scan findings at or above a severity.
    verify: bool = False
    fail_on_severity: Severity | None = None
    # The role ECS (and ECR in its account) are read through; None: the function's own role.
    role: TargetRole | None = None


def parse_user_parameters(
    raw: str | None, settings: Settings, budget: TimeBudget | None = None, account_id: str | None = None
) -> ActionConfig:
    """UserParameters' text, then its configuration: the text's rules, then the mapping's."""
    return config_from_mapping(user_parameters_mapping(raw), settings, budget, account_id)


def config_from_mapping(
    parameters: Mapping[str, object],
    settings: Settings,
    budget: TimeBudget | None = None,
    account_id: str | None = None,
) -> ActionConfig:
    """Validate a configuration mapping (UserParameters' object, or the command line's flags; every key optional)
    and resolve the defaults; a job's `budget` bounds the tag pattern's compiling and matching, the job's
    `account_id` and the function's region complete a bare repository of "images"."""
    wording = settings.wording
    unknown = sorted(set(parameters) - set(USER_PARAMETER_KEYS))
    if unknown:
        mistyped_images = any(key.lower() in ("image", "images") for key in unknown)
        hint = f' Images are given with "images", for example {wording.examples.images}.' if mistyped_images else ""
        raise ConfigurationError(
            f"UserParameters has unknown key(s) {quoted(unknown)}. Valid keys: {quoted(USER_PARAMETER_KEYS)}.{hint}"
        )
    _check_variables_resolved(parameters, wording)
    output_format = _choice(parameters, "format", FORMATS, "imagedefinitions", wording.options.format)
    tag = parameters.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise ConfigurationError(
            f"{wording.options.tag} must be a string (a regular expression), not {json_kind(tag)}."
        )
    if output_format == "codedeploy" and "file" in parameters:
        raise ConfigurationError(
            f'{wording.options.file} does not apply to format "codedeploy", which writes taskdef.json and '
            "appspec.yaml: name those in the CodeDeployToECS action (TaskDefinitionTemplatePath, AppSpecTemplatePath)."
        )
    if output_format == "imagedetail" and "service" in parameters:
        raise ConfigurationError(
            f'{wording.options.service} applies to formats "imagedefinitions" (a rolling deploy: every container is '
            'checked against the service) and "codedeploy" (blue/green, which CodeDeployToECS deploys from '
            f'taskdef.json and appspec.yaml), for example {wording.examples.service}. Format "imagedetail" writes no '
            "container name (CodeDeployToECS takes the task definition from its own template): to render that "
            'from the service, use format "codedeploy".'
        )
    for key in _CODEDEPLOY_ONLY_KEYS:
        if output_format != "codedeploy" and key in parameters:
            raise ConfigurationError(
                f'{getattr(wording.options, key)} applies to format "codedeploy" only: format "{output_format}" '
                'writes a file holding only each container\'s name and image. Use format "codedeploy" (taskdef.json '
                f"and appspec.yaml for the CodeDeployToECS action), for example {wording.examples.service}."
            )
    config = ActionConfig(
        containers=_containers(parameters.get("containers"), wording),
        pin=_choice(parameters, "pin", PINS, settings.default_pin, wording.options.pin),
        tag_pattern=TagPattern.compile(tag, wording.options.tag, budget) if tag else settings.default_tag_pattern,
        outputs=_outputs(parameters.get("outputs"), wording),
        output_format=output_format,
        file_name=_file_name(parameters.get("file"), DEFAULT_FILE_NAMES.get(output_format, ""), wording),
        service=_service(parameters.get("service"), wording),
        wording=wording,
        images=_images(
            parameters.get("images"), parameters.get("containers"), wording, _home_registry(account_id, settings.region)
        ),
        overrides=_overrides(parameters.get("overrides"), wording),
        hooks=_hooks(parameters.get("hooks"), settings) if output_format == "codedeploy" else {},
        verify=_verify(parameters.get("verify"), settings),
        fail_on_severity=_fail_on_severity(parameters.get("failOnSeverity"), settings),
        role=_role(parameters.get("role"), settings),
    )
    if config.role is not None:
        _check_reads_through(config, config.role, settings)
    return config


def user_parameters_mapping(raw: str | None) -> dict[str, Any]:
    """The rules of UserParameters' text: blank is no parameter; else JSON this function reads unambiguously,
    holding an object, of at most MAX_USER_PARAMETERS_LENGTH characters once CodePipeline resolved its variables."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_USER_PARAMETERS_LENGTH:
        raise ConfigurationError(
            f"UserParameters is {len(raw):,} characters long once CodePipeline resolved its variables; the function "
            f"reads at most {MAX_USER_PARAMETERS_LENGTH:,} (MAX_USER_PARAMETERS_LENGTH). Give fewer containers per "
            "action, or split the job across actions."
        )
    try:
        parameters = parse_json(raw)
    except JsonTextError as exc:
        raise ConfigurationError(
            f'UserParameters is {exc}. Write a JSON object, for example {{"pin": "digest"}}.'
        ) from exc
    if not isinstance(parameters, dict):
        raise ConfigurationError(
            f'UserParameters must be a JSON object such as {{"pin": "digest"}}, not {json_kind(parameters)}.'
        )
    return parameters


def _choice(
    parameters: Mapping[str, Any], key: str, choices: tuple[_Choice, ...], default: _Choice, option: str
) -> _Choice:
    value = parameters.get(key, default)
    if value not in choices:
        raise ConfigurationError(f"{option} is {json.dumps(value)}: it must be one of {quoted(choices)}.")
    return cast(_Choice, value)  # pragma: no mutate (cast does nothing at run time)


def _containers(value: object, wording: Wording) -> dict[str, tuple[str, ...]] | None:
    """Input artifact → the container names it gives its image to (a name, or a list of names)."""
    if value is None:
        return None
    option, example = wording.options.containers, wording.examples.containers
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f"{option} must be a non-empty object mapping input artifact names to a container name or a list of "
            f"container names, for example {example}, not {json_kind(value)}."
        )
    containers: dict[str, tuple[str, ...]] = {}
    artifact_of: dict[str, str] = {}
    for artifact, names in value.items():
        listed = names if isinstance(names, list) else [names]
        if not listed or not all(isinstance(name, str) and is_valid_container_name(name) for name in listed):
            raise ConfigurationError(
                f"{option} gives artifact {json.dumps(artifact)} {json.dumps(names)}, which is not a valid ECS "
                "container name nor a non-empty list of them (1-255 letters, digits, hyphens and underscores), "
                f"for example {example}."
            )
        for name in listed:
            if name in artifact_of:
                raise ConfigurationError(
                    f"{option} names container {json.dumps(name)} for both {json.dumps(artifact_of[name])} and "
                    f"{json.dumps(artifact)}" + (" (twice)" if artifact_of[name] == artifact else "") + ": each "
                    "container must come from one artifact, once."
                )
            artifact_of[name] = artifact
        containers[artifact] = tuple(listed)
    return containers


def _outputs(value: object, wording: Wording) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    option, example = wording.options.outputs, wording.examples.outputs
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f"{option} must be a non-empty object mapping output artifact names to lists of container names, for "
            f"example {example}, not {json_kind(value)}."
        )
    outputs: dict[str, tuple[str, ...]] = {}
    for artifact, containers in value.items():
        if (
            not isinstance(containers, list)
            or not containers
            or not all(isinstance(name, str) and is_valid_container_name(name) for name in containers)
        ):
            raise ConfigurationError(
                f"{option} gives output artifact {json.dumps(artifact)} {json.dumps(containers)}: it must be a "
                f"non-empty list of ECS container names, for example {example}."
            )
        if len(set(containers)) != len(containers):
            raise ConfigurationError(f"{option} lists a container twice for output artifact {json.dumps(artifact)}.")
        outputs[artifact] = tuple(containers)
    return outputs


def _file_name(value: object, default: str, wording: Wording) -> str:
    if value is None:
        return default
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 255
        or value in (".", "..")
        or any(char in value for char in "/\\\0")
    ):
        raise ConfigurationError(
            f"{wording.options.file} is {json.dumps(value)}: it must be a plain file name (no folders), 1-255 "
            f'characters, for example "{default}".'
        )
    return value


def _service(value: object, wording: Wording) -> EcsService | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else ""
    arn = _ECS_SERVICE_ARN.fullmatch(text)
    parsed = arn or _ECS_SERVICE_NAME.fullmatch(text)
    if parsed is None:
        raise ConfigurationError(
            f"{wording.options.service} is {json.dumps(value)}: it must be <cluster>/<service> or the service's "
            "ARN (arn:aws:ecs:<region>:<account>:service/<cluster>/<service>), names of letters, digits, hyphens and "
            f"underscores, for example {wording.examples.service}."
        )
    return EcsService(parsed["cluster"], parsed["service"], arn=text if arn else None)


def _role(value: object, settings: Settings) -> TargetRole | None:
    """UserParameters "role": an IAM role ARN of the function's partition, one that the stack lets it assume."""
    if value is None:
        return None
    option, setting = settings.wording.options.role, settings.wording.settings.assumable_roles
    if not isinstance(value, str):
        raise ConfigurationError(f"{option} must be a string (an IAM role ARN), not {json_kind(value)}.")
    parsed = _IAM_ROLE_ARN.fullmatch(value)
    if parsed is None:
        raise ConfigurationError(
            f"{option} is {_shown(value)}: it must be the ARN of an IAM role in the account to read "
            '(arn:aws:iam::<account>:role/<name>, or arn:aws-cn / arn:aws-us-gov), for example {"role": '
            '"arn:aws:iam::222222222222:role/image-definitions-reader"}: the role examples/target-account-role.yaml '
            "creates."
        )
    partition = partition_of(settings.region)
    if settings.region and parsed["partition"] != partition:
        raise ConfigurationError(
            f"{option} is {_shown(value)}, a role of partition {parsed['partition']}, but the function runs in "
            f"{settings.region} (partition {partition}): a role can only be assumed within its partition. Name a "
            f"role of partition {partition}."
        )
    if not settings.assumable_roles:
        raise ConfigurationError(
            f"{option} is {_shown(value)}, but the function may assume no role: {setting} is empty. Add the role's "
            "ARN there and deploy the function's stack again."
        )
    if not _listed(value, settings.assumable_roles):
        raise ConfigurationError(
            f"{option} is {_shown(value)}, which {setting} does not list, so the function may not assume it. Add the "
            "role's ARN (or a wildcard such as arn:aws:iam::<account>:role/image-definitions-*) there and deploy the "
            "function's stack again, or name a listed role."
        )
    return TargetRole(arn=value, partition=parsed["partition"], account=parsed["account"])


def _check_reads_through(config: ActionConfig, role: TargetRole, settings: Settings) -> None:
    """A role reads the service (which must be in its account, and listed) or the ECR gate's images: refuse one that
    would read nothing, rather than let it look as though the role did something."""
    wording = settings.wording
    option, service = wording.options.role, config.service
    if service is None and not config.verify and config.fail_on_severity is None:
        raise ConfigurationError(
            f"{option} names {role.arn}, but this action reads nothing in another account: the role is for "
            f"{wording.options.service} (an ECS service in the role's account) and for {wording.options.verify} or "
            f"{wording.options.fail_on_severity} (images in its account's ECR). Artifacts are always read and written "
            f"with the job's artifact credentials. Remove {option}, or add what it should read."
        )
    if service is None:
        return
    arn = service.arn_in(partition=role.partition, region=settings.region, account=role.account)
    service_account = arn.split(":")[4]
    if service_account != role.account:
        raise ConfigurationError(
            f"{wording.options.service} is in account {service_account} ({arn}), but {option} is a role of account "
            f"{role.account} ({role.arn}): the role reads its own account only. Name the service of account "
            f"{role.account}, or a role of account {service_account}."
        )
    if not _listed(arn, settings.ecs_services):
        raise ConfigurationError(
            f"ECS service {arn} ({wording.options.service}, read through {option}) is not listed in "
            f"{wording.settings.ecs_services}, which lists every service the function may read, in any account. Add "
            "its ARN (or a wildcard such as arn:aws:ecs:<region>:<account>:service/<cluster>/*) there and deploy the "
            "function's stack again."
        )


def _verify(value: object, settings: Settings) -> bool:
    """UserParameters "verify" over the stack's floor, which it may raise, never lower."""
    wording = settings.wording
    if value is None:
        return settings.verify_images
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{wording.options.verify} must be true or false (JSON, not a string), not {json_kind(value)}."
        )
    if settings.verify_images and not value:
        raise ConfigurationError(
            f"{wording.options.verify} is false, but {wording.settings.verify_images} is true: every action of this "
            f"function has its images looked up in ECR, and no action can turn that off. Remove "
            f"{wording.options.verify}, or ask whoever deploys the function."
        )
    return value


def _fail_on_severity(value: object, settings: Settings) -> Severity | None:
    """UserParameters "failOnSeverity" over the stack's floor: it may name a lower severity (stricter), not a
    higher one."""
    wording = settings.wording
    if value is None:
        return settings.fail_on_severity
    if value not in SEVERITIES:
        raise ConfigurationError(
            f"{wording.options.fail_on_severity} is {json.dumps(value)}: it must be one of {quoted(SEVERITIES)} "
            "(findings of that severity or above fail the job)."
        )
    severity = value
    floor = settings.fail_on_severity
    if floor is not None and SEVERITIES.index(severity) > SEVERITIES.index(floor):
        raise ConfigurationError(
            f"{wording.options.fail_on_severity} is {json.dumps(severity)}, but {wording.settings.fail_on_severity} "
            f"is {json.dumps(floor)}: every action of this function fails on {floor} findings or above, and an "
            f"action may only be stricter. Give {json.dumps(floor)} or a lower severity, or remove the key."
        )
    return severity


def _check_variables_resolved(parameters: Mapping[str, object], wording: Wording) -> None:
    """Refuse a `#{...}` CodePipeline left in an identifier (a key or a string of any key but free text)."""
    for key, value in parameters.items():
        if key in _FREE_TEXT_KEYS:
            continue
        pending: list[object] = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, str) and (unresolved := _UNRESOLVED_VARIABLE.search(item)):
                raise ConfigurationError(
                    f"{getattr(wording.options, option_field(key))} holds {_shown(unresolved.group())}, a pipeline "
                    "variable that CodePipeline did not resolve: its namespace is misspelled, the action it names has "
                    "no namespace, "
                    "or that action does not emit the variable. Give the upstream action a namespace (Variable "
                    "namespace in the console, Namespace in CloudFormation) and write #{Namespace.VariableName} "
                    "exactly as the action documents its output variables."
                )


def _overrides(value: object, wording: Wording) -> TaskOverrides | None:
    if value is None:
        return None
    from imagedefs.overrides import parse_overrides  # only a job that overrides loads it

    return parse_overrides(value, wording.options.overrides)


def _hooks(value: object, settings: Settings) -> Mapping[str, str]:
    if value is None and not settings.default_hooks:
        return {}
    from imagedefs.overrides import parse_default_hooks, parse_hooks  # only a job with hooks loads them

    defaults = parse_default_hooks(settings.default_hooks, settings.wording.settings.default_hooks)
    return parse_hooks(value, settings.wording.options.hooks, defaults)


def _home_registry(account_id: str | None, region: str) -> str | None:
    """The private ECR registry of the job's account in the function's region (None when either is unknown)."""
    if account_id is None or not region:
        return None
    suffix = ".cn" if partition_of(region) == _CHINA_PARTITION else ""
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com{suffix}"


def _images(value: object, containers: object, wording: Wording, home_registry: str | None) -> dict[str, DirectImage]:
    """Container → image given directly: a full reference, or {"repository", "digest" | "tag", "registry"?}."""
    if value is None:
        return {}
    option, example = wording.options.images, wording.examples.images
    if not isinstance(value, dict) or not value:
        raise ConfigurationError(
            f"{option} must be a non-empty object mapping container names to images, for example {example}, "
            f"not {json_kind(value)}."
        )
    from_artifact = {
        name: artifact
        for artifact, names in (containers.items() if isinstance(containers, dict) else ())
        for name in (names if isinstance(names, list) else [names])
        if isinstance(name, str)
    }
    images: dict[str, DirectImage] = {}
    for container, image in value.items():
        if not is_valid_container_name(container):
            raise ConfigurationError(
                f"{option} names container {_shown(container)}, which is not a valid ECS container name (1-255 "
                "letters, digits, hyphens and underscores)."
            )
        if container in from_artifact:
            raise ConfigurationError(
                f'Container "{container}" gets an image from both {option} and artifact '
                f"{json.dumps(from_artifact[container])} ({wording.options.containers}): give each container its "
                "image in one place."
            )
        where = f'{option} for container "{container}"'
        images[container] = _direct_image(where, image, wording, home_registry)
    return images


def _direct_image(where: str, image: object, wording: Wording, home_registry: str | None) -> DirectImage:
    if isinstance(image, str):
        _check_no_space_around(where, image)
        reference = parse_reference(image)
        if reference is None:
            raise ConfigurationError(
                f"{capitalized(where)} is {_shown(image)}, which is not a Docker image reference "
                "<registry>/<repository>:<tag> or <registry>/<repository>@sha256:<64 hex digits> (ASCII; lowercase "
                f"repository). For example {wording.examples.images}."
            )
        if not reference.explicit_registry:
            raise ConfigurationError(
                f"{capitalized(where)} is {_shown(image)}, which names no registry: write the full reference "
                "(123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web:v5; docker.io/library/nginx:1.27 for Docker "
                'Hub), or {"repository": ..., "digest": ...} for an ECR repository of the pipeline\'s account.'
            )
        return _checked_image(where, image, reference)
    if not isinstance(image, dict):
        raise ConfigurationError(
            f"{capitalized(where)} must be an image reference (a string) or an object with "
            f'"repository" and "digest" or "tag" (and optionally "registry"), not {json_kind(image)}.'
        )
    unknown = sorted(set(image) - set(IMAGE_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"{capitalized(where)} has unknown field(s) {quoted(unknown)}. Valid fields: {quoted(IMAGE_FIELDS)}."
        )
    fields: dict[str, str] = {}
    for name, text in image.items():
        if not isinstance(text, str) or not text:
            state = "is empty" if text == "" else f"must be a string, not {json_kind(text)}"
            raise ConfigurationError(
                f'{capitalized(where)}: field "{name}" {state}: an empty variable, or the wrong one.'
            )
        _check_no_space_around(f'{where}, field "{name}"', text)
        fields[name] = text
    if "repository" not in fields or not ("digest" in fields or "tag" in fields):
        raise ConfigurationError(
            f'{capitalized(where)} needs "repository" and "digest" or "tag" (or both), for example '
            f"{wording.examples.images}."
        )
    return _image_from_fields(where, fields, home_registry)


def _image_from_fields(where: str, fields: Mapping[str, str], home_registry: str | None) -> DirectImage:
    repository = fields["repository"]
    named = parse_reference(repository)
    if named is not None and named.explicit_registry:
        raise ConfigurationError(
            f'{capitalized(where)}: field "repository" is {_shown(repository)}, which names a registry: give the '
            'repository alone and the registry in "registry", or the full reference as a string.'
        )
    registry = fields.get("registry", home_registry)
    if registry is None:
        raise ConfigurationError(
            f'{capitalized(where)}: repository {_shown(repository)} has no "registry", and the job names no account '
            'and region to find it in. Add "registry", for example "123456789012.dkr.ecr.eu-west-1.amazonaws.com" '
            'or "public.ecr.aws/<alias>".'
        )
    text = f"{registry}/{repository}"
    if "tag" in fields:
        text += f":{fields['tag']}"
    if "digest" in fields:
        digest = _DIGEST_TEXT.fullmatch(fields["digest"])
        if digest is None:
            raise ConfigurationError(
                f'{capitalized(where)}: field "digest" is {_shown(fields["digest"])}, which is not the image '
                'manifest\'s sha256 digest: 64 lowercase hex digits, with or without "sha256:".'
            )
        text += f"@sha256:{digest['hex']}"
    reference = parse_reference(text)
    if reference is None or not reference.explicit_registry or reference.name != f"{registry}/{repository}":
        raise ConfigurationError(
            f"{capitalized(where)} makes the image reference {_shown(text)}, which Docker's grammar refuses: "
            '"registry" must be a host (with an optional port, or public.ecr.aws/<alias>), "repository" '
            'lowercase letters, digits and separators . _ - /, "tag" at most 128 letters, digits, _ . and - '
            "(ASCII)."
        )
    return _checked_image(where, text, reference)


def _checked_image(where: str, image_uri: str, reference: ImageReference) -> DirectImage:
    if reference.tag is None and reference.digest is None:
        raise ConfigurationError(
            f"{capitalized(where)} is {_shown(image_uri)}, which has neither a tag nor a digest: add one "
            "(ECRBuildAndPublish's #{Namespace.ECRImageDigestId}, or the ECR source's #{Namespace.ImageDigest})."
        )
    return DirectImage(image_uri, reference)


def _check_no_space_around(where: str, text: str) -> None:
    # Trimmed, it would look right; spaces or a line break around a value usually mean a wrong variable.
    if text != text.strip():
        raise ConfigurationError(
            f"{capitalized(where)} is {_shown(text)}, with whitespace or a line break around it: write the value "
            "(or the #{Namespace.Variable} reference) alone; an empty or multi-line variable usually means the wrong "
            "variable."
        )
