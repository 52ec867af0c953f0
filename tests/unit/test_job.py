"""The job event, parsed once: a malformed field is named, its value never shown."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from devtools.local_aws import load_event
from imagedefs.errors import InvalidJobError
from imagedefs.job import JOB_ID_PATTERN_TEXT, ArtifactCredentials, Job, S3Location, job_id_of, parse_job, secrets_of

EVENT = load_event("single-ecr-source.json")
SAMPLE_EVENTS = ("single-ecr-source", "two-ecr-sources", "kms-encrypted", "blue-green", "bad-user-parameters")


def parsed(event: dict[str, Any]) -> Job:
    return parse_job(event, EVENT["CodePipeline.job"]["id"])


def field_at(event: dict[str, Any], path: str) -> tuple[Any, Any]:
    """The container of the job's field at a dotted path (list indexes as numbers), and its key there."""
    *parents, last = (int(key) if key.isdigit() else key for key in path.split("."))
    container: Any = event["CodePipeline.job"]
    for key in parents:
        container = container[key]
    return container, last


def event_with(path: str, value: Any) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    container, key = field_at(event, path)
    container[key] = value
    return event


def test_a_sample_job_passes_and_gives_its_id_and_secrets() -> None:
    parsed(EVENT)
    credentials = EVENT["CodePipeline.job"]["data"]["artifactCredentials"]
    assert job_id_of(EVENT) == EVENT["CodePipeline.job"]["id"]
    assert secrets_of(EVENT) == (credentials["secretAccessKey"], credentials["sessionToken"])


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (
            "data.artifactCredentials.sessionToken",
            ("a", "tuple"),
            '"data.artifactCredentials.sessionToken" must be a string, not something else',
        ),
        (
            "data.artifactCredentials.secretAccessKey",
            "",
            '"data.artifactCredentials.secretAccessKey" must be a string, not an empty string',
        ),
        ("data.inputArtifacts.0", "SourceArtifact", '"data.inputArtifacts[0]" must be an object, not a string'),
        (
            "data.outputArtifacts.0.location.s3Location",
            None,
            '"data.outputArtifacts[0].location.s3Location" must be an object, not null',
        ),
    ],
)
def test_a_malformed_field_is_named_with_what_it_should_be(path: str, value: Any, named: str) -> None:
    # Given an event with one field of the wrong kind
    # When it is checked; Then the field and the kinds are named, the value is not, and the message says who sends jobs
    with pytest.raises(InvalidJobError) as raised:
        parsed(event_with(path, value))
    message = str(raised.value)
    assert named in message
    assert "tuple" not in message
    assert message.endswith("a CodePipeline Invoke action sends.")


def test_two_input_artifacts_of_one_name_are_malformed() -> None:
    event = copy.deepcopy(EVENT)
    inputs = event["CodePipeline.job"]["data"]["inputArtifacts"]
    inputs.append(copy.deepcopy(inputs[0]))
    with pytest.raises(InvalidJobError, match='two of inputArtifacts are named "SourceArtifact"'):
        parsed(event)


@pytest.mark.parametrize("event", [{}, [], {"CodePipeline.job": {"id": 5}}, {"CodePipeline.job": {"id": "job-1"}}])
def test_an_event_without_a_codepipeline_job_id_has_no_job_id(event: Any) -> None:
    assert job_id_of(event) is None


def test_the_job_id_pattern_is_codepipelines_own() -> None:
    # The function reports only to ids PutJobSuccessResult and PutJobFailureResult accept: their model's pattern
    import botocore.session

    model = botocore.session.get_session().get_service_model("codepipeline")
    for operation in ("PutJobSuccessResult", "PutJobFailureResult"):
        input_shape = model.operation_model(operation).input_shape
        assert input_shape is not None
        assert input_shape.members["jobId"].metadata["pattern"] == JOB_ID_PATTERN_TEXT


VALID_JOB_ID = "0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21"


@pytest.mark.parametrize(
    "job_id",
    [
        VALID_JOB_ID.upper(),
        "0B4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21",
        "zzzzzzzz-5d2f-4e8a-9b1c-7d6e5f4a3b21",
        "0b4a6c3g-5d2f-4e8a-9b1c-7d6e5f4a3b21",
        "0b4a6c3e5-d2f-4e8a-9b1c-7d6e5f4a3b21",
        "0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b2",
        "0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b211",
        "0b4a6c3e-5d2f-4e8a-9b1c7d6e5f4a3b21",
        "0b4a6c3e_5d2f_4e8a_9b1c_7d6e5f4a3b21",
        f" {VALID_JOB_ID}",
        f"{VALID_JOB_ID} ",
        f"{VALID_JOB_ID}\n",
        f"\n{VALID_JOB_ID}",
        "\uff10b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21",  # a fullwidth digit, which \d and str.isdigit accept
        "",
    ],
)
def test_a_job_id_outside_codepipelines_pattern_is_no_job_to_report_to(job_id: str) -> None:
    assert job_id_of({"CodePipeline.job": {**EVENT["CodePipeline.job"], "id": job_id}}) is None


def test_a_job_id_of_codepipelines_pattern_is_taken() -> None:
    assert job_id_of({"CodePipeline.job": {"id": VALID_JOB_ID}}) == VALID_JOB_ID


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("data.actionConfiguration", '"data.actionConfiguration" is missing'),
        ("data.actionConfiguration.configuration", '"data.actionConfiguration.configuration" is missing'),
        ("data.inputArtifacts.0.name", '"data.inputArtifacts[0].name" is missing'),
    ],
)
def test_a_missing_field_is_named_by_its_whole_path(path: str, named: str) -> None:
    event = copy.deepcopy(EVENT)
    container, key = field_at(event, path)
    del container[key]
    with pytest.raises(InvalidJobError) as raised:
        parsed(event)
    assert str(raised.value).startswith(f"The job event from CodePipeline is malformed: {named}.")
    assert str(raised.value).endswith("a CodePipeline Invoke action sends.")


def test_an_encryption_key_must_be_an_object_with_a_kms_key_id() -> None:
    with pytest.raises(InvalidJobError, match=r'"data\.encryptionKey" must be an object, not a string'):
        parsed(event_with("data.encryptionKey", "alias/key"))
    with pytest.raises(InvalidJobError) as raised:
        parsed(event_with("data.encryptionKey", {"id": "a key", "type": "KMS"}))
    assert str(raised.value).startswith('The job event from CodePipeline is malformed: "data.encryptionKey.id" is not')
    assert str(raised.value).endswith("(1-2048 printable ASCII characters without spaces).")


def test_secrets_are_taken_only_when_they_are_strings() -> None:
    assert secrets_of({}) == ()
    assert secrets_of(event_with("data.artifactCredentials", {"secretAccessKey": 5, "sessionToken": "t"})) == ("t",)
    assert secrets_of(event_with("data.artifactCredentials", "not an object")) == ()
    assert secrets_of(event_with("data", None)) == ()


@pytest.mark.parametrize(
    ("key_id", "accepted"),
    [("k" * 2048, True), ("alias/pipeline", True), ("k" * 2049, False), ("key id", False), ("", False)],
)
def test_a_kms_key_id_is_1_to_2048_printable_characters_without_spaces(key_id: str, accepted: bool) -> None:
    event = event_with("data.encryptionKey", {"id": key_id, "type": "KMS"})
    if accepted:
        parsed(event)
        return
    with pytest.raises(InvalidJobError, match=r'"data.encryptionKey.id" (is not a KMS key id|must be a string)'):
        parsed(event)


def test_user_parameters_may_be_absent_or_empty_but_not_another_kind() -> None:
    parsed(event_with("data.actionConfiguration.configuration.UserParameters", ""))
    with pytest.raises(InvalidJobError, match=r"UserParameters\" must be a string, not an object"):
        parsed(event_with("data.actionConfiguration.configuration.UserParameters", {"pin": "tag"}))


@pytest.mark.parametrize(
    "path",
    [
        "data.inputArtifacts.0.name",
        "data.inputArtifacts.0.location.s3Location.bucketName",
        "data.outputArtifacts.0.location.s3Location.objectKey",
        "data.artifactCredentials.accessKeyId",
        "data.artifactCredentials.sessionToken",
    ],
)
def test_an_event_string_with_an_unpaired_surrogate_is_named_not_shown(path: str) -> None:
    # Given an event whose JSON escapes a lone surrogate in a field the job sends, zips or logs
    with pytest.raises(InvalidJobError) as raised:
        parsed(event_with(path, "value\ud800"))
    # Then the field is named; the value (maybe a secret) is not shown
    message = str(raised.value)
    dotted = re.sub(r"\.(\d+)\.", r"[\1].", path)
    assert message.startswith(f'The job event from CodePipeline is malformed: "{dotted}" is not valid Unicode')
    assert "value" not in message.partition("Unicode")[2]
    message.encode("utf-8")


@pytest.mark.parametrize("name", SAMPLE_EVENTS)
def test_a_sample_job_parses_into_its_locations_credentials_and_key(name: str) -> None:
    # Given a sample job event
    event = load_event(f"{name}.json")
    job_id = job_id_of(event)
    assert job_id is not None

    # When it is parsed
    job = parse_job(event, job_id)

    # Then the job holds what the event says, artifacts in the event's order
    data = event["CodePipeline.job"]["data"]
    locations = {
        kind: {
            artifact["name"]: S3Location(
                artifact["location"]["s3Location"]["bucketName"], artifact["location"]["s3Location"]["objectKey"]
            )
            for artifact in data[kind]
        }
        for kind in ("inputArtifacts", "outputArtifacts")
    }
    credentials = data["artifactCredentials"]
    assert job == Job(
        id=job_id,
        account_id=event["CodePipeline.job"]["accountId"],
        user_parameters=data["actionConfiguration"]["configuration"].get("UserParameters"),
        inputs=locations["inputArtifacts"],
        outputs=locations["outputArtifacts"],
        credentials=ArtifactCredentials(
            credentials["accessKeyId"], credentials["secretAccessKey"], credentials["sessionToken"]
        ),
        kms_key_id=data.get("encryptionKey", {}).get("id"),
    )
    assert list(job.inputs) == [artifact["name"] for artifact in data["inputArtifacts"]]
    assert (job.kms_key_id is not None) == (name == "kms-encrypted")


def test_the_jobs_repr_shows_no_secret() -> None:
    job = parsed(EVENT)
    credentials = EVENT["CodePipeline.job"]["data"]["artifactCredentials"]

    shown = repr(job)

    assert credentials["accessKeyId"] in shown  # the key id names the credentials; it grants nothing alone
    assert credentials["secretAccessKey"] not in shown
    assert credentials["sessionToken"] not in shown


def test_a_job_without_an_account_has_none() -> None:
    without = copy.deepcopy(EVENT)
    del without["CodePipeline.job"]["accountId"]

    assert parsed(without).account_id is None
    assert parsed(EVENT).account_id == "123456789012"


@pytest.mark.parametrize(
    ("account", "named"),
    [
        (123456789012, '"accountId" must be a string, not a number.'),
        ("", '"accountId" must be a string, not an empty string.'),
        (None, '"accountId" must be a string, not null.'),
        ("12345678901", '"accountId" is not an AWS account id (12 digits).'),
        ("1234567890123", '"accountId" is not an AWS account id (12 digits).'),
        ("12345678901a", '"accountId" is not an AWS account id (12 digits).'),
        ("١٢٣٤٥٦٧٨٩٠١٢", '"accountId" is not an AWS account id (12 digits).'),
    ],
)
def test_a_malformed_account_is_named_not_shown(account: object, named: str) -> None:
    with pytest.raises(InvalidJobError) as raised:
        parsed(event_with("accountId", account))

    assert str(raised.value) == (
        f"The job event from CodePipeline is malformed: {named} The function acts only on events that a CodePipeline "
        "Invoke action sends."
    )


def test_the_account_is_checked_after_every_field_checked_before_it() -> None:
    event = event_with("accountId", "not an account")
    del event["CodePipeline.job"]["data"]["artifactCredentials"]

    with pytest.raises(InvalidJobError, match=r'"data.artifactCredentials" is missing'):
        parsed(event)
