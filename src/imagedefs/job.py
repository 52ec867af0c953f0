"""A CodePipeline job event, parsed once into the job: every field the job uses is checked as it is read.

Once an event has a job id there is someone to report to, so a missing or malformed field becomes a report
that names it, never a crash before the report path; and nothing downstream reads the event itself, so no
field can be read without being checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from imagedefs.errors import InvalidJobError
from imagedefs.json_text import is_unicode_text, json_kind

JOB_KEY: Final = "CodePipeline.job"
CREDENTIAL_FIELDS: Final = ("accessKeyId", "secretAccessKey", "sessionToken")
# The function's own role credentials, which botocore's DEBUG output would print too.
FUNCTION_SECRET_VARIABLES: Final = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# CodePipeline's JobId pattern, exactly as its API model (botocore's service-2.json) has it, which a test checks:
# an id outside it can never be reported to. Matched whole (fullmatch: "$" would let a final newline through).
JOB_ID_PATTERN_TEXT: Final = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
JOB_ID_PATTERN: Final = re.compile(JOB_ID_PATTERN_TEXT, re.ASCII)
# A KMS key id, alias or ARN as an S3 request header can carry it: printable ASCII, KMS's 2048 at most.
KMS_KEY_ID_PATTERN: Final = re.compile(r"[!-~]{1,2048}", re.ASCII)
ACCOUNT_ID_PATTERN: Final = re.compile(r"[0-9]{12}", re.ASCII)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ArtifactCredentials:
    """The job's short-lived credentials for its artifact bucket (and KMS key)."""

    access_key_id: str
    # Never in a repr, so never in a log line or a traceback's locals.
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True)
class Job:
    """What a CodePipeline job asks for, as its event says it, checked."""

    id: str
    account_id: str | None  # None when the event has none
    user_parameters: str | None
    # In the event's order: input selection and messages follow it.
    inputs: Mapping[str, S3Location]
    outputs: Mapping[str, S3Location]
    credentials: ArtifactCredentials
    kms_key_id: str | None


def job_id_of(event: object) -> str | None:
    """The job id, if the event is a CodePipeline job with one that CodePipeline can take a report for."""
    job = event.get(JOB_KEY) if isinstance(event, dict) else None
    job_id = job.get("id") if isinstance(job, dict) else None
    return job_id if isinstance(job_id, str) and JOB_ID_PATTERN.fullmatch(job_id) else None


def secrets_of(event: Mapping[str, Any]) -> tuple[str, ...]:
    """The artifact credentials' secret parts, as far as the event has them as strings (for redaction)."""
    data = event.get(JOB_KEY, {}).get("data")
    credentials = data.get("artifactCredentials") if isinstance(data, dict) else None
    if not isinstance(credentials, dict):
        return ()
    values = (credentials.get("secretAccessKey"), credentials.get("sessionToken"))
    return tuple(value for value in values if isinstance(value, str) and value)


def parse_job(event: Mapping[str, Any], job_id: str) -> Job:
    """The job of an event whose id `job_id_of` found; raise InvalidJobError naming the first field the job needs
    that is missing or of the wrong kind."""
    job = event[JOB_KEY]
    data = _field(job, "data", dict, "")  # pragma: no mutate ("" and None both mean no parent)
    configuration = _field(
        _field(data, "actionConfiguration", dict, "data"), "configuration", dict, "data.actionConfiguration"
    )
    user_parameters = configuration.get("UserParameters")
    if user_parameters is not None and not isinstance(user_parameters, str):  # empty is allowed: no parameters
        raise _malformed("data.actionConfiguration.configuration.UserParameters", "a string", user_parameters)
    inputs, outputs = (_artifacts(data, kind) for kind in ("inputArtifacts", "outputArtifacts"))
    credentials = _field(data, "artifactCredentials", dict, "data")
    access_key_id, secret_access_key, session_token = (
        _field(credentials, key, str, "data.artifactCredentials") for key in CREDENTIAL_FIELDS
    )
    kms_key_id = _kms_key_id(data)
    return Job(
        id=job_id,
        account_id=_account_id(job),
        user_parameters=user_parameters,
        inputs=inputs,
        outputs=outputs,
        credentials=ArtifactCredentials(access_key_id, secret_access_key, session_token),
        kms_key_id=kms_key_id,
    )


def _artifacts(data: Mapping[str, Any], kind: str) -> dict[str, S3Location]:
    locations: dict[str, S3Location] = {}
    for index, artifact in enumerate(_field(data, kind, list, "data")):
        where = f"data.{kind}[{index}]"
        if not isinstance(artifact, dict):
            raise _malformed(where, "an object", artifact)
        name = _field(artifact, "name", str, where)
        if name in locations:
            raise InvalidJobError(f'The job event from CodePipeline is malformed: two of {kind} are named "{name}".')
        s3_location = _field(_field(artifact, "location", dict, where), "s3Location", dict, f"{where}.location")
        bucket, key = (
            _field(s3_location, part, str, f"{where}.location.s3Location") for part in ("bucketName", "objectKey")
        )
        locations[name] = S3Location(bucket=bucket, key=key)
    return locations


def _kms_key_id(data: Mapping[str, Any]) -> str | None:
    if data.get("encryptionKey") is None:
        return None
    encryption_key = _field(data, "encryptionKey", dict, "data")
    key_id = encryption_key.get("id")
    # The KMS check first: of a key id with an unpaired surrogate, "no KMS key id" is the more telling.
    if isinstance(key_id, str) and key_id and KMS_KEY_ID_PATTERN.fullmatch(key_id) is None:
        raise InvalidJobError(
            'The job event from CodePipeline is malformed: "data.encryptionKey.id" is not a KMS key id, alias or '
            "ARN (1-2048 printable ASCII characters without spaces)."
        )
    checked: str = _field(encryption_key, "id", str, "data.encryptionKey")
    return checked


def _account_id(job: Mapping[str, Any]) -> str | None:
    """The job's account, checked last: no event refused before it was read is refused for another reason now."""
    if "accountId" not in job:
        return None
    account_id: str = _field(job, "accountId", str, "")  # pragma: no mutate ("" and None both mean no parent)
    if ACCOUNT_ID_PATTERN.fullmatch(account_id) is None:
        raise InvalidJobError(
            'The job event from CodePipeline is malformed: "accountId" is not an AWS account id (12 digits). The '
            "function acts only on events that a CodePipeline Invoke action sends."
        )
    return account_id


def _field(container: Mapping[str, Any], key: str, kind: type, parent: str) -> Any:
    path = f"{parent}.{key}" if parent else key
    if key not in container:
        raise InvalidJobError(
            f'The job event from CodePipeline is malformed: "{path}" is missing. The function acts only on events that '
            "a CodePipeline Invoke action sends."
        )
    value = container[key]
    if not isinstance(value, kind) or (kind is str and not value):
        raise _malformed(path, json_kind(kind()), value)  # the kind named from an empty value of it
    if isinstance(value, str) and not is_unicode_text(value):
        # An unpaired surrogate ("\ud800" in the event's JSON) fails wherever the string is encoded: a request,
        # a zip, a log line.
        raise InvalidJobError(
            f'The job event from CodePipeline is malformed: "{path}" is not valid Unicode (it holds an unpaired '
            "surrogate). The function acts only on events that a CodePipeline Invoke action sends."
        )
    return value


def _malformed(path: str, expected: str, value: object) -> InvalidJobError:
    # The value itself is never shown: it may be a secret.
    found = "an empty string" if value == "" else json_kind(value)
    return InvalidJobError(
        f'The job event from CodePipeline is malformed: "{path}" must be {expected}, not {found}. The function acts '
        "only on events that a CodePipeline Invoke action sends."
    )
