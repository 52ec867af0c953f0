"""ECS, read with the function's own role: the current task definition of a blue/green service, and how its
load balancer reaches it.

Every call runs under the job's time budget, and its errors are classified here: a denial is a
ConfigurationError naming the stack parameter that grants the permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from imagedefs.aws_session import budgeted_client, call_classified, error_code, http_status, is_connection_failure
from imagedefs.codedeploy import BlueGreenService, LoadBalancerTarget, check_task_definition
from imagedefs.config import ENV_ECS_SERVICES, EcsService, Wording
from imagedefs.errors import ConfigurationError, ImageDefsError, ServiceUnavailableError, quoted

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from imagedefs.budget import TimeBudget

_ACCESS_DENIED_CODES: Final = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"})
_NOT_FOUND_CODES: Final = frozenset({"ClusterNotFoundException", "ServiceNotFoundException"})
_RETRYABLE_CODES: Final = frozenset({"ThrottlingException", "Throttling", "ServerException", "ServiceUnavailable"})
_Result = TypeVar("_Result")


class EcsServiceReader:
    """Reads what taskdef.json and appspec.yaml are made from, with an injected ECS client."""

    def __init__(self, client: ECSClient, wording: Wording, budget: TimeBudget | None = None) -> None:
        self._client = client
        self._budget = budget
        self._permission_setting = wording.settings[ENV_ECS_SERVICES]
        self._service_option = wording.options["service"]

    def blue_green_service(self, service: EcsService) -> BlueGreenService:
        """The service's current task definition (with its tags), load balancer target, platform version and
        network configuration; the service must be deployed by CodeDeploy.
        """
        described = self._call(
            f'describing ECS service "{service}"',
            lambda: self._client.describe_services(cluster=service.cluster, services=[service.arn or service.name]),
        )
        found = [entry for entry in described.get("services", []) if entry.get("status") != "INACTIVE"]
        if not found:
            raise self._unknown(service)
        current = found[0]
        controller = current.get("deploymentController", {}).get("type", "ECS")
        if controller != "CODE_DEPLOY":
            raise ConfigurationError(
                f'ECS service "{service}" uses the {controller} deployment controller'
                + (" (rolling update)" if controller == "ECS" else "")
                + '; format "codedeploy" is for services deployed blue/green by CodeDeploy (deployment controller '
                'CODE_DEPLOY). For a rolling update use format "imagedefinitions" and the ECS deploy action.'
            )
        task_definition_arn = current["taskDefinition"]
        answer = self._call(
            f'reading task definition {task_definition_arn} of ECS service "{service}"',
            lambda: self._client.describe_task_definition(taskDefinition=task_definition_arn, include=["TAGS"]),
        )
        described_as = f'the task definition {task_definition_arn} of ECS service "{service}"'
        network = current.get("networkConfiguration", {}).get("awsvpcConfiguration")
        return BlueGreenService(
            described_as=described_as,
            task_definition=check_task_definition(answer.get("taskDefinition"), described_as),
            tags=tuple(cast("list[dict[str, Any]]", answer.get("tags", []))),
            load_balancer=self._load_balancer_target(service, current),
            platform_version=current.get("platformVersion"),
            awsvpc_configuration=cast("dict[str, Any] | None", network),
            accepted_keys=self._register_task_definition_members(),
        )

    def _load_balancer_target(self, service: EcsService, current: Any) -> LoadBalancerTarget:
        targets = {
            (entry["containerName"], entry["containerPort"])
            for entry in current.get("loadBalancers", [])
            if "containerName" in entry and "containerPort" in entry
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

    def _call(self, doing: str, call: Callable[[], _Result]) -> _Result:
        return call_classified(doing, call, self._budget, self._translate)

    def _translate(self, exc: BaseException, doing: str) -> ImageDefsError | None:
        """The job failure for an ECS or network error, or None when the error is not one of those."""
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code, status = error_code(exc), http_status(exc)
            if code in _ACCESS_DENIED_CODES or status == 403:
                return ConfigurationError(
                    f"Access denied {doing}: {code}. The function's role may read only the ECS services listed in "
                    f"{self._permission_setting}: add the service's ARN "
                    "(arn:aws:ecs:<region>:<account>:service/<cluster>/<service>) there and deploy the function's "
                    "stack again."
                )
            if code in _NOT_FOUND_CODES:
                return ConfigurationError(
                    f"Failed {doing}: {code}. Check {self._service_option}: <cluster>/<service> or the service's ARN, "
                    "in the region of the function."
                )
            if status >= 500 or code in _RETRYABLE_CODES:
                return ServiceUnavailableError(
                    f"ECS kept failing {doing} ({code}, HTTP {status}) after retries. Retry the action."
                )
            return None
        if is_connection_failure(exc):
            return ServiceUnavailableError(
                f"Could not reach ECS {doing}: {type(exc).__name__} after retries. Retry the action."
            )
        return None


def function_ecs_client(budget: TimeBudget) -> ECSClient:
    """An ECS client with the function's own credentials (never the artifact credentials), bound to the budget."""
    return cast("ECSClient", budgeted_client("ecs", budget))
