"""ECS, read with the function's own role (or the role of another account that UserParameters "role" names): the
current task definition of a blue/green service, and how its load balancer reaches it; the containers of a
rolling service's current task definition, and how ECS deploys it.

Every call runs under the job's time budget, and its errors are classified here: a denial is a
ConfigurationError naming the stack parameter that grants the permission.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from imagedefs.aws.session import budgeted_client, call_classified, error_code, http_status, is_connection_failure
from imagedefs.config import EcsService, Wording
from imagedefs.errors import ConfigurationError, ImageDefsError, ServiceUnavailableError, quoted
from imagedefs.formats.codedeploy import (
    MAX_TASKDEF_BYTES,
    BlueGreenService,
    LoadBalancerTarget,
    check_task_definition,
    is_port,
)
from imagedefs.model import LiveService
from imagedefs.observability import MAX_ERROR_CODE_CHARS, server_text

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from imagedefs.aws.sts import AssumedRole
    from imagedefs.budget import TimeBudget

_ACCESS_DENIED_CODES: Final = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "UnauthorizedOperation"}
)
_NOT_FOUND_CODES: Final = frozenset({"ClusterNotFoundException", "ServiceNotFoundException"})
_RETRYABLE_CODES: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServerException", "ServiceUnavailable"}
)
# How much of ECS's error message a failure message quotes, after redaction.
MAX_MESSAGE_CHARS: Final = 300
# A deployment controller or strategy as ECS names them (ECS, CODE_DEPLOY, EXTERNAL; ROLLING, BLUE_GREEN, LINEAR,
# CANARY): a name ECS adds later passes, anything else is no ECS answer and reaches no message or summary.
_ECS_ENUM_VALUE: Final = re.compile(r"[A-Z][A-Z0-9_]{0,39}", re.ASCII)
_ROLLING_STRATEGY: Final = "ROLLING"
_Result = TypeVar("_Result")
_REQUIRED: Final = object()
# ECS keeps a task definition to 64 KiB (its "task definition size" quota); DescribeTaskDefinition adds 50 tags at
# most and a few registration fields, DescribeServices one service with its last 100 events. The bound taskdef.json
# has (1 MiB) holds either with room to spare, and caps what ECS (or anything answering in its place) makes us hold.
MAX_ECS_ANSWER_BYTES: Final = MAX_TASKDEF_BYTES


class EcsServiceReader:
    """Reads what taskdef.json and appspec.yaml are made from, with an injected ECS client."""

    def __init__(
        self, client: ECSClient, wording: Wording, budget: TimeBudget | None = None, role: AssumedRole | None = None
    ) -> None:
        self._client = client
        self._budget = budget
        # The role the client signs with, when it is another account's: a denial is that role's policy's.
        self._role = role
        self._permission_setting = wording.settings.ecs_services
        self._service_option = wording.options.service

    def blue_green_service(self, service: EcsService) -> BlueGreenService:
        """The service's current task definition (with its tags), load balancer target, platform version, network
        configuration and capacity provider strategy; the service must be deployed by CodeDeploy.
        """
        current = self._described(service)
        controller = _controller(current, service)
        if controller != "CODE_DEPLOY":
            raise ConfigurationError(
                f'ECS service "{service}" uses the {controller} deployment controller'
                + (" (rolling update)" if controller == "ECS" else "")
                + '; format "codedeploy" is for services deployed blue/green by CodeDeploy (deployment controller '
                'CODE_DEPLOY). For a rolling update use format "imagedefinitions" and the ECS deploy action.'
            )
        task_definition_arn = _field(current, "taskDefinition", str, service)
        answer = self._call(
            f'reading task definition {task_definition_arn} of ECS service "{service}"',
            lambda: self._client.describe_task_definition(taskDefinition=task_definition_arn, include=["TAGS"]),
            # DescribeTaskDefinition supports no resource-level permissions.
            resource="*",
        )
        described_as = _task_definition_of(task_definition_arn, service)
        return BlueGreenService(
            described_as=described_as,
            task_definition=check_task_definition(answer.get("taskDefinition"), described_as),
            tags=tuple(tag for tag in _list(answer, "tags", described_as) if isinstance(tag, dict)),
            load_balancer=self._load_balancer_target(service, current),
            platform_version=_field(current, "platformVersion", str, service, default=None),
            awsvpc_configuration=_awsvpc_configuration(current, service),
            capacity_provider_strategy=_capacity_provider_strategy(current, service),
            accepted_keys=self._register_task_definition_members(),
        )

    def live_service(self, service: EcsService) -> LiveService:
        """The containers of the service's current task definition, which the ECS deploy action makes the new
        revision from, and the service's ECS-native strategy; the service must be on the ECS deployment controller.
        """
        current = self._described(service)
        controller = _controller(current, service)
        if controller == "CODE_DEPLOY":
            raise ConfigurationError(
                f'ECS service "{service}" is deployed blue/green by CodeDeploy (deployment controller CODE_DEPLOY), '
                'which the ECS deploy action and imagedefinitions.json cannot update: use format "codedeploy" '
                "and the CodeDeployToECS deploy action."
            )
        if controller != "ECS":
            raise ConfigurationError(
                f'ECS service "{service}" uses the {controller} deployment controller: a third-party controller '
                "deploys it through task sets, and ECS lets no one else change its task definition, so the ECS "
                "deploy action cannot take an imagedefinitions.json for it. Deploy it with that controller's own "
                "tooling, or name a service on the ECS deployment controller."
            )
        strategy = _field(current, "deploymentConfiguration", dict, service, default={}).get("strategy")
        if strategy is not None and (not isinstance(strategy, str) or _ECS_ENUM_VALUE.fullmatch(strategy) is None):
            raise _unreadable(f'describing ECS service "{service}" (its "deploymentConfiguration")')
        task_definition_arn = _field(current, "taskDefinition", str, service)
        answer = self._call(
            f'reading task definition {task_definition_arn} of ECS service "{service}"',
            lambda: self._client.describe_task_definition(taskDefinition=task_definition_arn),
            # DescribeTaskDefinition supports no resource-level permissions.
            resource="*",
        )
        described_as = _task_definition_of(task_definition_arn, service)
        task_definition = check_task_definition(answer.get("taskDefinition"), described_as)
        return LiveService(
            service=str(service),
            task_definition=task_definition_arn,
            described_as=described_as,
            containers=tuple(container["name"] for container in task_definition["containerDefinitions"]),
            native_strategy=None if strategy in (None, _ROLLING_STRATEGY) else strategy,
        )

    def _described(self, service: EcsService) -> dict[str, Any]:
        """DescribeServices' entry for the service (not deleted, and the one asked for)."""
        described = self._call(
            f'describing ECS service "{service}"',
            lambda: self._client.describe_services(cluster=service.cluster, services=[service.arn or service.name]),
            resource=self._arn_of(service),
        )
        found = [
            entry
            for entry in _list(described, "services", f'describing ECS service "{service}"', required=True)
            if isinstance(entry, dict) and entry.get("status") != "INACTIVE" and _is_the_service(entry, service)
        ]
        if not found:
            raise self._unknown(service)
        return cast("dict[str, Any]", found[0])

    def _load_balancer_target(self, service: EcsService, current: dict[str, Any]) -> LoadBalancerTarget:
        targets = {
            (entry["containerName"], entry["containerPort"])
            for entry in _list(current, "loadBalancers", f'ECS service "{service}"')
            if isinstance(entry, dict)
            and isinstance(entry.get("containerName"), str)
            and is_port(entry.get("containerPort"))
        }
        if len(targets) != 1:
            shown = quoted(f"{name}:{port}" for name, port in sorted(targets)) or "none"
            raise ConfigurationError(
                f'ECS service "{service}" has {len(targets)} load balancer containers and ports ({shown}); a '
                "blue/green deployment shifts traffic on exactly one. Give the service one load balancer target."
            )
        ((name, port),) = targets
        return LoadBalancerTarget(name, port)

    def _register_task_definition_members(self) -> frozenset[str]:
        shape = self._client.meta.service_model.operation_model("RegisterTaskDefinition").input_shape
        return frozenset(shape.members if shape is not None else ())

    def _unknown(self, service: EcsService) -> ConfigurationError:
        return ConfigurationError(
            f'ECS service "{service}" does not exist (or is deleted) in the function\'s region. Check '
            f"{self._service_option}: <cluster>/<service> or the service's ARN, in the region of the function."
        )

    def _arn_of(self, service: EcsService) -> str:
        """The service's ARN, in the role's account when it is read through one."""
        if self._role is None:
            return service.arn or str(service)
        target = self._role.target
        return service.arn_in(partition=target.partition, region=self._client.meta.region_name, account=target.account)

    def _call(self, doing: str, call: Callable[[], _Result], resource: str) -> _Result:
        return call_classified(doing, call, self._budget, lambda exc, doing: self._translate(exc, doing, resource))

    def _translate(self, exc: BaseException, doing: str, resource: str) -> ImageDefsError | None:
        """The job failure for an ECS or network error, or None when the error is not one of those."""
        from botocore.exceptions import ClientError
        from botocore.parsers import ResponseParserError

        if isinstance(exc, ClientError):
            code, status = error_code(exc), http_status(exc)
            shown = server_text(code, MAX_ERROR_CODE_CHARS)
            if (code in _ACCESS_DENIED_CODES or status == 403) and self._role is not None:
                return self._role.access_denied(
                    doing=doing, code=shown or f"HTTP {status}", action=f"ecs:{exc.operation_name}", resource=resource
                )
            if code in _ACCESS_DENIED_CODES or status == 403:
                return ConfigurationError(
                    f"Access denied {doing}: {shown}. The function's role may read only the ECS services listed in "
                    f"{self._permission_setting}: add the service's ARN "
                    "(arn:aws:ecs:<region>:<account>:service/<cluster>/<service>) there and deploy the function's "
                    "stack again."
                )
            if code in _NOT_FOUND_CODES:
                return ConfigurationError(
                    f"Failed {doing}: {shown}. Check {self._service_option}: <cluster>/<service> or the service's ARN, "
                    "in the region of the function."
                )
            if status >= 500 or status == 429 or code in _RETRYABLE_CODES or code.endswith("Throttling"):
                return ServiceUnavailableError(
                    f"ECS kept failing {doing} ({shown}, HTTP {status}) after retries. Retry the action."
                )
            # ClientException, InvalidParameterException, ...: ECS refused the request as asked.
            message = server_text(exc.response.get("Error", {}).get("Message", ""), MAX_MESSAGE_CHARS)
            return ConfigurationError(
                f"ECS refused {doing}: {shown or f'HTTP {status}'}" + (f" ({message})" if message else "") + ". "
                f"Check {self._service_option}: <cluster>/<service> or the service's ARN, in the region of the "
                "function."
            )
        if is_connection_failure(exc):
            return ServiceUnavailableError(
                f"Could not reach ECS {doing}: {type(exc).__name__} after retries. Retry the action."
            )
        if isinstance(exc, (ResponseParserError, AttributeError, TypeError, ValueError)):
            # botocore's parser meets a body that is no ECS answer (HTML, [1, 2], a string for a list).
            return _unreadable(doing)
        return None


def _is_the_service(entry: dict[str, Any], service: EcsService) -> bool:
    """ECS answered for the service asked for (an ARN of another region or account must not pass for it)."""
    if service.arn is not None:
        return bool(entry.get("serviceArn") == service.arn)
    return bool(entry.get("serviceName") == service.name)


def _task_definition_of(task_definition_arn: str, service: EcsService) -> str:
    """For messages: 'the task definition arn:aws:ecs:...:task-definition/shop:3 of ECS service "prod/shop"'."""
    return f'the task definition {task_definition_arn} of ECS service "{service}"'


def _controller(current: dict[str, Any], service: EcsService) -> str:
    """The service's deployment controller (ECS when the answer names none, as ECS's default is)."""
    controller = _field(current, "deploymentController", dict, service, default={}).get("type", "ECS")
    if not isinstance(controller, str) or _ECS_ENUM_VALUE.fullmatch(controller) is None:
        raise _unreadable(f'describing ECS service "{service}" (its "deploymentController")')
    return controller


def _field(entry: dict[str, Any], key: str, kind: type, service: EcsService, default: Any = _REQUIRED) -> Any:
    """A field of ECS's answer about the service, of the kind the files need (when missing: `default`, if given)."""
    if key not in entry and default is not _REQUIRED:
        return default
    value = entry.get(key)
    if not isinstance(value, kind):
        raise _unreadable(f'describing ECS service "{service}" (its "{key}")')
    return value


def _list(answer: object, key: str, doing: str, required: bool = False) -> list[Any]:
    value = answer.get(key, None if required else []) if isinstance(answer, dict) else None
    if not isinstance(value, list):
        raise _unreadable(f'{doing} (its "{key}")')
    return value


def _awsvpc_configuration(current: dict[str, Any], service: EcsService) -> dict[str, Any] | None:
    """The service's awsvpc configuration, its members of the kinds the appspec writes (nothing else reaches it)."""
    network = _field(current, "networkConfiguration", dict, service, default={}).get("awsvpcConfiguration")
    if network is None:
        return None
    kinds_ok = isinstance(network, dict) and all(
        isinstance(network.get(key), list) and all(isinstance(item, str) for item in network[key])
        for key in ("subnets", "securityGroups")
        if key in network
    )
    if not kinds_ok or not isinstance(network.get("assignPublicIp", ""), str):
        raise _unreadable(f'describing ECS service "{service}" (its "awsvpcConfiguration")')
    return cast("dict[str, Any]", network)


def _capacity_provider_strategy(current: dict[str, Any], service: EcsService) -> tuple[dict[str, Any], ...]:
    """The service's capacity provider strategy (none for a service on a launch type), of the kinds the appspec
    writes: a provider's name, and whole numbers for its weight and base."""
    strategy = _field(current, "capacityProviderStrategy", list, service, default=[])
    if not all(
        isinstance(item, dict)
        and isinstance(item.get("capacityProvider"), str)
        and all(_is_count(item[key]) for key in ("weight", "base") if key in item)
        for item in strategy
    ):
        raise _unreadable(f'describing ECS service "{service}" (its "capacityProviderStrategy")')
    return tuple(strategy)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unreadable(doing: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"ECS answered {doing} with something that is not an ECS answer; retry the action, and report it if it "
        "stays so."
    )


def ecs_client(budget: TimeBudget, role: AssumedRole | None = None) -> ECSClient:
    """An ECS client with the function's own credentials, or with the role's for a job that names one (never the
    artifact credentials), bound to the budget."""
    if role is not None:
        return cast("ECSClient", role.client("ecs", max_answer_bytes=MAX_ECS_ANSWER_BYTES))
    return cast("ECSClient", budgeted_client("ecs", budget, max_answer_bytes=MAX_ECS_ANSWER_BYTES))
