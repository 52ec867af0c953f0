"""aws/sts.py with an injected STS client: the session name, one AssumeRole per job, its secrets hidden before any
use, and every STS answer or error turned into the job's failure."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from imagedefs.aws.sts import MAX_ROLE_SESSION_NAME_CHARS, SESSION_SECONDS, AssumedRole, role_session_name
from imagedefs.budget import TimeBudget
from imagedefs.config import ACTION_WORDING, TargetRole
from imagedefs.errors import ConfigurationError, ServiceUnavailableError
from imagedefs.observability import REDACTED, redactor
from tests.secret_forms import secret_access_key, session_token

TARGET = TargetRole(arn="arn:aws:iam::222222222222:role/reader", partition="aws", account="222222222222")
# STS's roleSessionNameType, from botocore's model.
SESSION_NAME_PATTERN = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


class FakeSts:
    """Answers AssumeRole with `answer`, or raises it when it is an exception; records each request."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def assume_role(self, **request: Any) -> Any:
        self.requests.append(request)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def assumed(sts: FakeSts, job_id: str = "5e9d2b7a-3c4f-4a1e-8d6b-2f7e9c1a4b53") -> AssumedRole:
    return AssumedRole(
        TARGET,
        job_id=job_id,
        budget=TimeBudget.from_remaining_millis(60_000),
        wording=ACTION_WORDING,
        function_role_arn="arn:aws:iam::123456789012:role/fn",
        sts_client=sts,  # type: ignore[arg-type]
    )


def answer(secret: str, token: str, key_id: str = "ASIAEXAMPLEKEY000001") -> dict[str, Any]:
    return {"Credentials": {"AccessKeyId": key_id, "SecretAccessKey": secret, "SessionToken": token}}


@pytest.mark.parametrize(
    ("job_id", "expected"),
    [
        ("5e9d2b7a-3c4f-4a1e-8d6b-2f7e9c1a4b53", "imagedefs-5e9d2b7a-3c4f-4a1e-8d6b-2f7e9c1a4b53"),
        ("job/with spaces:and#odd", "imagedefs-job-with-spaces-and-odd"),
        ("x" * 100, "imagedefs-" + "x" * 54),
        ("é", "imagedefs--"),
    ],
)
def test_the_session_name_carries_the_job_id_in_stss_alphabet_and_length(job_id: str, expected: str) -> None:
    name = role_session_name(job_id)
    assert name == expected
    assert SESSION_NAME_PATTERN.fullmatch(name) and len(name) <= MAX_ROLE_SESSION_NAME_CHARS


def test_the_role_is_assumed_once_per_job_for_the_shortest_session_and_its_secrets_hidden_first() -> None:
    secret, token = secret_access_key(), session_token()
    sts = FakeSts(answer(secret, token))
    role = assumed(sts)

    first, second = role.credentials(), role.credentials()

    assert first is second
    assert sts.requests == [
        {
            "RoleArn": TARGET.arn,
            "RoleSessionName": "imagedefs-5e9d2b7a-3c4f-4a1e-8d6b-2f7e9c1a4b53",
            "DurationSeconds": SESSION_SECONDS,
        }
    ]
    assert redactor.clean(f"{secret} {token}") == f"{REDACTED} {REDACTED}"
    assert secret not in repr(first) and token not in repr(first)


@pytest.mark.parametrize(
    "odd",
    [
        None,
        [],
        {"Credentials": "text"},
        {"Credentials": {"AccessKeyId": "ASIAEXAMPLEKEY000001", "SecretAccessKey": 5, "SessionToken": "t" * 40}},
        {"Credentials": {"AccessKeyId": "", "SecretAccessKey": "s" * 40, "SessionToken": "t" * 40}},
    ],
)
def test_an_answer_that_is_no_sts_answer_is_system_unavailable(odd: Any) -> None:
    with pytest.raises(ServiceUnavailableError, match=r"STS answered assuming role .* not an STS answer"):
        assumed(FakeSts(odd)).credentials()


def test_the_secret_parts_of_an_odd_answer_are_hidden_too() -> None:
    token = session_token()
    with pytest.raises(ServiceUnavailableError):
        assumed(FakeSts({"Credentials": {"SessionToken": token}})).credentials()
    assert redactor.clean(token) == REDACTED


def _error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "from STS"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "AssumeRole")


@pytest.mark.parametrize(
    ("error", "failure", "says"),
    [
        (
            _error("AccessDenied", 403),
            ConfigurationError,
            "does not trust the function's role arn:aws:iam::123456789012",
        ),
        (_error("RegionDisabledException", 403), ConfigurationError, "STS is not activated"),
        (_error("ExpiredToken", 400), ServiceUnavailableError, "the function's own credentials had expired"),
        (_error("Throttling", 400), ServiceUnavailableError, "STS kept failing"),
        (_error("InternalFailure", 500), ServiceUnavailableError, "STS kept failing"),
        (_error("MalformedPolicyDocument", 400), ConfigurationError, r'STS refused .* Check UserParameters "role"'),
    ],
)
def test_each_sts_error_is_the_jobs_failure(error: ClientError, failure: type[Exception], says: str) -> None:
    with pytest.raises(failure, match=says):
        assumed(FakeSts(error)).credentials()


def test_a_denial_with_the_role_names_the_action_and_the_resource() -> None:
    message = str(
        assumed(FakeSts(None)).access_denied(
            doing="looking up image x in ECR",
            code="AccessDeniedException",
            action="ecr:DescribeImages",
            resource="arn:aws:ecr:us-west-2:222222222222:repository/shop/web",
        )
    )
    assert message.startswith(
        f'Access denied looking up image x in ECR through role {TARGET.arn} (UserParameters "role", account '
        "222222222222): AccessDeniedException. The role may not call ecr:DescribeImages on "
        "arn:aws:ecr:us-west-2:222222222222:repository/shop/web"
    )
