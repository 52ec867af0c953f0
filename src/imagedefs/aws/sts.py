"""STS, for a job whose UserParameters "role" names a role of another account: one AssumeRole per job, with the
function's own credentials and under the job's budget, made when the job first reads that account; the ECS and
ECR clients there are built from the credentials it returns. Only such a job loads this module.

The credentials' secret parts join the redactor the moment they are read from STS's answer, before any client
signs with them. Every STS error becomes the job's failure here: a denied AssumeRole names the function's role ARN
that the target account's role must trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from imagedefs.aws.session import budgeted_client, call_classified, error_code, http_status, is_connection_failure
from imagedefs.config import TargetRole, Wording
from imagedefs.errors import ConfigurationError, ImageDefsError, ServiceUnavailableError
from imagedefs.observability import MAX_ERROR_CODE_CHARS, redactor, server_text

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_sts import STSClient

    from imagedefs.budget import TimeBudget

# CloudTrail in the target account shows the session name beside every call: "imagedefs-<job id>" says which job
# read what. STS's roleSessionNameType: 2-64 characters of letters, digits and + = , . @ _ - (a job id is a UUID).
ROLE_SESSION_PREFIX: Final = "imagedefs-"
MAX_ROLE_SESSION_NAME_CHARS: Final = 64
_NOT_IN_SESSION_NAME: Final = re.compile(r"[^\w+=,.@-]", re.ASCII)
# STS's shortest session (roleDurationSecondsType's minimum); a job lasts at most the function's 60 s timeout.
SESSION_SECONDS: Final = 900
# AssumeRole's answer: three credentials (a session token of a few KB at most) and the assumed role's ARN and id.
MAX_STS_ANSWER_BYTES: Final = 64 * 1024
_ACCESS_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException", "UnrecognizedClientException"})
_EXPIRED_CODES: Final = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_RETRYABLE_CODES: Final = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable", "InternalFailure"}
)
_MESSAGE_CHARS: Final = 300
TRUST_TEMPLATE: Final = "examples/target-account-role.yaml"


def role_session_name(job_id: str) -> str:
    """The session name for the job: the prefix and the job id, in STS's alphabet and length."""
    return (ROLE_SESSION_PREFIX + _NOT_IN_SESSION_NAME.sub("-", job_id))[:MAX_ROLE_SESSION_NAME_CHARS]


@dataclass(frozen=True)
class RoleCredentials:
    """What AssumeRole returned: the secret parts out of the `repr`."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


class AssumedRole:
    """The job's role in another account: assumed once, when a client of that account is first asked for; then a
    client per service and region, signed with its credentials and bound to the job's budget."""

    def __init__(
        self,
        target: TargetRole,
        *,
        job_id: str,
        budget: TimeBudget,
        wording: Wording,
        function_role_arn: str,
        sts_client: STSClient | None = None,
    ) -> None:
        self.target = target
        self.session_name = role_session_name(job_id)
        self._budget = budget
        self._option = wording.options.role
        self._roles_setting = wording.settings.assumable_roles
        self._function_role_arn = function_role_arn
        self._sts_client = sts_client
        self._credentials: RoleCredentials | None = None
        self._clients: dict[tuple[str, str | None], BaseClient] = {}

    def client(self, service_name: str, *, max_answer_bytes: int, region_name: str | None = None) -> BaseClient:
        """A client of the role's account (the function's region unless `region_name` says)."""
        key = (service_name, region_name)
        if key not in self._clients:
            credentials = self.credentials()
            self._clients[key] = budgeted_client(
                service_name,
                self._budget,
                max_answer_bytes=max_answer_bytes,
                region_name=region_name,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        return self._clients[key]

    def credentials(self) -> RoleCredentials:
        """The role's credentials, from one AssumeRole call per job; hidden from every log line once read."""
        if self._credentials is None:
            doing = f"assuming role {self.target} ({self._option})"
            client = self._sts_client or cast(
                "STSClient", budgeted_client("sts", self._budget, max_answer_bytes=MAX_STS_ANSWER_BYTES)
            )
            answer = call_classified(
                doing,
                lambda: client.assume_role(
                    RoleArn=self.target.arn, RoleSessionName=self.session_name, DurationSeconds=SESSION_SECONDS
                ),
                self._budget,
                self._translate,
            )
            self._credentials = _credentials_of(answer, doing)
        return self._credentials

    def access_denied(self, *, doing: str, code: str, action: str, resource: str) -> ConfigurationError:
        """The failure for a call the assumed role was denied: the action and resource its policy must allow."""
        return ConfigurationError(
            f"Access denied {doing} through role {self.target} ({self._option}, account {self.target.account}): "
            f"{server_text(code, MAX_ERROR_CODE_CHARS)}. The role may not call {action} on {resource}: allow it in "
            f"the role's policy (the stack of {TRUST_TEMPLATE} in account {self.target.account} lists the services "
            "and repositories it may read) and retry the action."
        )

    def _translate(self, exc: BaseException, doing: str) -> ImageDefsError | None:
        """The job failure for an STS or network error, or None when the error is not one of those."""
        from botocore.exceptions import ClientError
        from botocore.parsers import ResponseParserError

        if isinstance(exc, ClientError):
            code, status = error_code(exc), http_status(exc)
            shown = server_text(code, MAX_ERROR_CODE_CHARS) or f"HTTP {status}"
            if code == "RegionDisabledException":
                return ConfigurationError(
                    f"STS refused {doing}: {shown}. STS is not activated in the function's region for its account: "
                    "activate the region under IAM, Account settings, Security Token Service (STS) in the "
                    "function's account, then retry the action."
                )
            if code in _ACCESS_DENIED_CODES or status == 403:
                return ConfigurationError(self._denied_message(doing, shown))
            if code in _EXPIRED_CODES:
                return ServiceUnavailableError(
                    f"STS refused {doing}: {shown}, the function's own credentials had expired. Retry the action."
                )
            if status >= 500 or status == 429 or code in _RETRYABLE_CODES or code.endswith("Throttling"):
                return ServiceUnavailableError(
                    f"STS kept failing {doing} ({shown}, HTTP {status}) after retries. Retry the action."
                )
            message = server_text(exc.response.get("Error", {}).get("Message", ""), _MESSAGE_CHARS)
            return ConfigurationError(
                f"STS refused {doing}: {shown}" + (f" ({message})" if message else "") + f". Check {self._option}."
            )
        if is_connection_failure(exc):
            return ServiceUnavailableError(
                f"Could not reach STS {doing}: {type(exc).__name__} after retries. Retry the action."
            )
        if isinstance(exc, (ResponseParserError, AttributeError, TypeError, ValueError)):
            return _unreadable(doing)
        return None

    def _denied_message(self, doing: str, shown: str) -> str:
        account = self.target.account
        trusted = self._function_role_arn or "the function's role (the FunctionRoleArn output of its stack)"
        return (
            f"Access denied {doing}: {shown}. The role's trust policy in account {account} does not trust the "
            f"function's role {trusted}, or the function's role may not assume it. In account {account}, deploy "
            f"{TRUST_TEMPLATE} with FunctionRoleArn={self._function_role_arn or '<that ARN>'} (or add that ARN as an "
            f"AWS principal allowed sts:AssumeRole in the role's trust policy); {self._roles_setting} must list the "
            "role, and no permissions boundary or service control policy may deny sts:AssumeRole."
        )


def _credentials_of(answer: object, doing: str) -> RoleCredentials:
    """The answer's credentials, their secret parts hidden before anything else is done with them."""
    credentials: Any = answer.get("Credentials") if isinstance(answer, dict) else None
    if not isinstance(credentials, dict):
        raise _unreadable(f'{doing} (its "Credentials")')
    secrets = [credentials.get(key) for key in ("SecretAccessKey", "SessionToken")]
    redactor.hide(*(secret for secret in secrets if isinstance(secret, str)))
    values = [credentials.get("AccessKeyId"), *secrets]
    if not all(isinstance(value, str) and value for value in values):
        raise _unreadable(f'{doing} (its "Credentials")')
    access_key_id, secret_access_key, session_token = cast("list[str]", values)
    return RoleCredentials(access_key_id, secret_access_key, session_token)


def _unreadable(doing: str) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"STS answered {doing} with something that is not an STS answer; retry the action, and report it if it "
        "stays so."
    )
