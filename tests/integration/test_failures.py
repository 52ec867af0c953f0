"""Every failure class ends in exactly one PutJobFailureResult of the right type whose message says what to fix."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event, zip_files
from imagedefs.errors import ReportNotDeliveredError
from tests.integration.conftest import Invoke, LambdaContext
from tests.samples import DIGEST_B, REGISTRY, image_detail, input_location, with_user_parameters


def _single_source_with(aws: LocalAws, body: bytes, user_parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    event = with_user_parameters(load_event("single-ecr-source.json"), user_parameters)
    aws.seed(event)
    aws.put(*input_location(event), body)
    return event


@pytest.mark.parametrize(
    ("body", "user_parameters", "expected_type", "expected_parts"),
    [
        pytest.param(
            zip_files({"README.md": "hello", "appspec.yaml": "version: 0.0"}),
            None,
            "JobFailed",
            ['"SourceArtifact"', "no imageDetail.json", '"README.md", "appspec.yaml"'],
            id="zip without imageDetail.json lists its files",
        ),
        pytest.param(
            zip_files({"imageDetail.json": '{"ImageURI": '}),
            None,
            "JobFailed",
            ['"SourceArtifact", file imageDetail.json', "not valid JSON", "line 1"],
            id="invalid JSON",
        ),
        pytest.param(
            zip_files({"imageDetail.json": {k: v for k, v in image_detail().items() if k != "ImageDigest"}}),
            None,
            "JobFailed",
            ['field "ImageDigest" is missing'],
            id="missing field",
        ),
        pytest.param(
            zip_files({"imageDetail.json": {**image_detail(), "ImageURI": f"{REGISTRY}/shop/web:latest"}}),
            None,
            "JobFailed",
            ['field "ImageURI"', "digest form"],
            id="ImageURI not in digest form",
        ),
        pytest.param(
            zip_files({"imageDetail.json": {**image_detail(), "ImageDigest": DIGEST_B}}),
            None,
            "JobFailed",
            ['"ImageDigest"', "differs from the digest"],
            id="digest that does not match the URI",
        ),
        pytest.param(
            b"this is not a zip",
            None,
            "JobFailed",
            ['Artifact "SourceArtifact"', "is not a zip file"],
            id="object that is not a zip",
        ),
        pytest.param(
            zip_files({"imageDetail.json": b" " * (100 * 1024 + 1)}),
            None,
            "JobFailed",
            ["imageDetail.json", "larger than 100 KB"],
            id="imageDetail.json over 100 KB",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail(tags=["latest", "v1"])}),
            {"tag": r"release-.*"},
            "JobFailed",
            ["no tag of image", '"release-.*"', '"latest", "v1"'],
            id="no tag matches the pattern",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail()}),
            {"containers": {"WebImage": "web"}},
            "ConfigurationError",
            ['"WebImage"', "not an input artifact", '"SourceArtifact"'],
            id="containers names an artifact that is not an input",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail()}),
            {"containers": {"SourceArtifact": "web.app"}},
            "ConfigurationError",
            ['"web.app"', "not a valid ECS container name"],
            id="invalid container name",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail()}),
            {"outputs": {"Elsewhere": ["web"]}},
            "ConfigurationError",
            ['"Elsewhere"', "not an output artifact", '"ImageDefinitions"'],
            id="outputs names an artifact that is not an output",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail()}),
            "not json",
            "ConfigurationError",
            ["UserParameters is not valid JSON"],
            id="UserParameters that is not JSON",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail()}),
            '["pin", "digest"]',
            "ConfigurationError",
            ["must be a JSON object", "not a list"],
            id="UserParameters that is not an object",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail()}),
            {"pin": "sha"},
            "ConfigurationError",
            ['"pin" is "sha"', '"tag", "digest"'],
            id="bad value",
        ),
    ],
)
def test_bad_input_is_reported_with_what_and_where(
    aws: LocalAws,
    invoke: Invoke,
    body: bytes,
    user_parameters: dict[str, Any] | str | None,
    expected_type: str,
    expected_parts: list[str],
) -> None:
    event = _single_source_with(aws, body)
    with_user_parameters(event, user_parameters)

    result = invoke(event)

    assert result.failure["type"] == expected_type
    for part in expected_parts:
        assert part in result.failure["message"]
    assert result.returned["report"] == "reported"


def test_nothing_is_written_when_the_job_fails(aws: LocalAws, invoke: Invoke) -> None:
    # Given a job that reads its input and then fails on its configuration
    event = _single_source_with(aws, zip_files({"imageDetail.json": image_detail()}), {"pin": "nope"})

    # When it runs
    failure = invoke(event).failure

    # Then it is reported as failed, and the output artifact does not exist
    assert failure["type"] == "ConfigurationError"
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


def test_missing_input_object_names_the_artifact(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event, artifacts={})

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert 'input artifact "SourceArtifact"' in failure["message"]
    assert "does not exist" in failure["message"]


def test_no_output_artifact_is_a_configuration_error(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    event["CodePipeline.job"]["data"]["outputArtifacts"] = []
    aws.seed(event)

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert failure["message"].startswith("The action has no output artifact")
    assert failure["message"].endswith("use it as the input of the ECS deploy action.")


def test_two_sources_for_one_container_is_a_configuration_error(aws: LocalAws, invoke: Invoke) -> None:
    event = with_user_parameters(load_event("two-ecr-sources.json"), None)
    aws.seed(event)
    aws.put(*input_location(event, 1), zip_files({"imageDetail.json": image_detail("other/web", DIGEST_B)}))

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert 'Container "web"' in failure["message"]
    assert '"WebImage"' in failure["message"] and '"ApiImage"' in failure["message"]


def test_imagedetail_format_with_two_containers_in_one_output_is_a_configuration_error(
    aws: LocalAws, invoke: Invoke
) -> None:
    event = load_event("two-ecr-sources.json")
    with_user_parameters(event, {"containers": {"WebImage": "web", "ApiImage": "api"}, "format": "imagedetail"})
    aws.seed(event)

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert 'Output artifact "ImageDefinitions" would get 2 containers ("web", "api")' in failure["message"]
    assert 'format "imagedetail" (ECS blue/green) holds exactly one image' in failure["message"]
    assert 'one container with UserParameters "outputs"' in failure["message"]


def test_registry_outside_the_allow_list_fails_the_job(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEDEFS_ALLOWED_REGISTRIES", "210987654321, ghcr.io")
    event = load_event("single-ecr-source.json")
    aws.seed(event)

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert f"registry {REGISTRY}" in failure["message"]
    assert "allowed: 210987654321, ghcr.io" in failure["message"]


def test_registry_in_the_allow_list_passes(aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEDEFS_ALLOWED_REGISTRIES", "123456789012:us-west-2")
    event = load_event("single-ecr-source.json")
    aws.seed(event)

    assert invoke(event).report.succeeded


@pytest.mark.parametrize("code", ["AccessDenied", "KMS.AccessDeniedException"])
def test_s3_or_kms_access_denied_is_a_permission_error(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    event = load_event("single-ecr-source.json")
    with FaultyS3(Fault(status=403, code=code)) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        failure = invoke(event).failure

    assert failure["type"] == "PermissionError"
    assert code in failure["message"]
    assert 'input artifact "SourceArtifact"' in failure["message"]


def test_a_denied_write_is_a_permission_error_naming_the_output(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an encrypted pipeline whose KMS key the artifact credentials may not use for writing
    event = load_event("kms-encrypted.json")
    aws.seed(event)
    denied_put = Fault(status=403, code="KMS.AccessDeniedException", methods=frozenset({"PUT"}))
    with FaultyS3(denied_put, upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        failure = invoke(event).failure

    assert failure["type"] == "PermissionError"
    assert 'writing output artifact "ImageDefinitions"' in failure["message"]
    assert "KMS key" in failure["message"]


def test_s3_server_errors_after_retries_are_system_unavailable(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = load_event("single-ecr-source.json")
    with FaultyS3(Fault(status=503, code="SlowDown")) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        failure = invoke(event).failure
        attempts = s3.requests

    assert failure["type"] == "SystemUnavailable"
    assert "SlowDown" in failure["message"]
    assert attempts >= 3  # botocore's standard retry mode: three attempts per call


def test_an_unexpected_error_is_reported_with_its_type_and_request_id(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("internal detail that stays in the log")

    monkeypatch.setattr("imagedefs.plan.build_plan", broken)
    event = load_event("single-ecr-source.json")
    aws.seed(event)

    result = invoke(event)

    assert result.failure["type"] == "JobFailed"
    assert "KeyError" in result.failure["message"]
    assert LambdaContext.aws_request_id in result.failure["message"]
    assert result.failure["message"].endswith("CloudWatch log has the details under that request id.")
    assert "internal detail" not in result.failure["message"]
    logged = next(record for record in result.log_records if record.get("message") == "Job failed unexpectedly")
    assert (logged["level"], logged["outcome"], logged["failure_type"]) == ("ERROR", "failed", "JobFailed")
    assert "KeyError: 'internal detail that stays in the log'" in logged["exception"]


def test_the_handler_raises_only_when_no_report_can_be_delivered(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    aws.double.fail_next("PutJobSuccessResult", "InternalServerException", status=500, times=100)

    with pytest.raises(ReportNotDeliveredError):
        invoke(event)

    # And Lambda's retry, once CodePipeline answers again, reports the job once
    aws.double.faults.clear()
    assert invoke(event).report.succeeded


def test_codepipeline_throttling_on_the_report_is_retried(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    aws.double.fail_next("PutJobSuccessResult", "ThrottlingException", status=400, times=2)

    assert invoke(event).report.succeeded


@pytest.mark.parametrize(
    "event",
    [{}, {"CodePipeline.job": {}}, {"Records": []}, {"CodePipeline.job": {"id": "not-a-codepipeline-job-id"}}],
)
def test_an_event_that_is_no_codepipeline_job_is_refused_clearly(invoke: Invoke, event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=re.escape('Not a CodePipeline job event: no "CodePipeline.job" with an "id"')):
        invoke(event)


def _two_outputs(aws: LocalAws) -> tuple[dict[str, Any], str, str]:
    """The two-source sample with one output artifact per container: (event, first key, second key)."""
    event = with_user_parameters(
        load_event("two-ecr-sources.json"),
        {"containers": {"WebImage": "web", "ApiImage": "api"}, "outputs": {"WebDefs": ["web"], "ApiDefs": ["api"]}},
    )
    outputs = event["CodePipeline.job"]["data"]["outputArtifacts"]
    first = copy.deepcopy(outputs[0])
    first["name"], first["location"]["s3Location"]["objectKey"] = "WebDefs", "my-pipeline/WebDefs/web1Ab2"
    second = copy.deepcopy(outputs[0])
    second["name"], second["location"]["s3Location"]["objectKey"] = "ApiDefs", "my-pipeline/ApiDefs/api1Ab2"
    outputs[:] = [first, second]
    aws.seed(event)
    return event, first["location"]["s3Location"]["objectKey"], second["location"]["s3Location"]["objectKey"]


@pytest.mark.parametrize(
    ("fault", "remaining_millis", "expected_type", "expected_cause"),
    [
        pytest.param(
            Fault(status=403, code="AccessDenied"), 60_000, "PermissionError", "AccessDenied", id="AccessDenied"
        ),
        pytest.param(Fault(status=503, code="SlowDown"), 60_000, "SystemUnavailable", "SlowDown", id="SlowDown"),
        pytest.param(Fault(status=404, code="NoSuchBucket"), 60_000, "JobFailed", "NoSuchBucket", id="NoSuchBucket"),
        pytest.param(
            Fault(status=200, code="Stalled", stall_seconds=30),
            8_000,
            "SystemUnavailable",
            "ReadTimeoutError",
            id="stall past the read timeout",
        ),
        pytest.param(
            Fault(trickle="headers"),
            8_000,
            "SystemUnavailable",
            "still running at the deadline",
            id="stall until the deadline",
        ),
    ],
)
def test_a_second_upload_that_fails_reports_the_output_already_written(
    aws: LocalAws,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    remaining_millis: int,
    expected_type: str,
    expected_cause: str,
) -> None:
    # Given two output artifacts, of which S3 takes the first and fails the second's upload
    event, first_key, second_key = _two_outputs(aws)
    bucket = event["CodePipeline.job"]["data"]["outputArtifacts"][0]["location"]["s3Location"]["bucketName"]
    fault.methods, fault.path_contains = frozenset({"PUT"}), second_key
    with FaultyS3(fault, upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        started = time.monotonic()
        result = invoke(event, remaining_millis=remaining_millis)
        elapsed = time.monotonic() - started

    # Then one report, before the deadline, names the failed upload and, truthfully, the output already written
    failure = result.failure
    assert failure["type"] == expected_type
    assert expected_cause in failure["message"]
    assert 'writing output artifact "ApiDefs"' in failure["message"]
    assert failure["message"].endswith(
        f'Already written before this failure: output artifact(s) "WebDefs" (s3://{bucket}/{first_key}). CodePipeline '
        "does not use the outputs of a failed action; rerunning the action overwrites them."
    )
    assert elapsed < remaining_millis / 1000
    # And so it is: the first output is in S3, the second is not
    assert aws.s3.head_object(Bucket=bucket, Key=first_key)["ContentLength"] > 0
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=bucket, Prefix=second_key)
    # And the log says the same, as a field
    (written,) = [record for record in result.log_records if "written_outputs" in record]
    assert written["written_outputs"] == {"WebDefs": f"s3://{bucket}/{first_key}"}
    assert written["failed_output"] == "ApiDefs"


def test_nothing_is_uploaded_when_a_later_output_location_is_one_s3_refuses(aws: LocalAws, invoke: Invoke) -> None:
    # Given two outputs, the second in a bucket whose name botocore refuses to send
    event, first_key, _ = _two_outputs(aws)
    outputs = event["CodePipeline.job"]["data"]["outputArtifacts"]
    bucket = outputs[0]["location"]["s3Location"]["bucketName"]
    outputs[1]["location"]["s3Location"]["bucketName"] = "no bucket!"

    failure = invoke(event).failure

    # Then the job fails naming the second output, and the first was never uploaded
    assert failure["type"] == "JobFailed"
    assert 'writing output artifact "ApiDefs"' in failure["message"]
    assert "Already written" not in failure["message"]
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=bucket, Prefix=first_key)


@pytest.mark.parametrize(
    "job_id",
    [
        "1C5B7D4F-6E3A-4F9B-8C2D-8E7F6A5B4C32",
        "zzzzzzzz-6e3a-4f9b-8c2d-8e7f6a5b4c32",
        "1c5b7d4f6-e3a-4f9b-8c2d-8e7f6a5b4c32",
        " 1c5b7d4f-6e3a-4f9b-8c2d-8e7f6a5b4c32",
        "1c5b7d4f-6e3a-4f9b-8c2d-8e7f6a5b4c32\n",
    ],
)
def test_a_job_with_an_id_outside_codepipelines_pattern_is_neither_read_nor_written(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, job_id: str
) -> None:
    # Given a complete job whose id CodePipeline's API would refuse
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    event["CodePipeline.job"]["id"] = job_id
    with FaultyS3(Fault(methods=frozenset()), upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        # Then it is no job to report to: refused before any work
        with pytest.raises(ValueError, match=re.escape('Not a CodePipeline job event: no "CodePipeline.job" with an')):
            invoke(event)
        requests = s3.access_keys
    # And nothing was read or written, nor reported
    assert requests == []
    assert aws.double.reports == []


@pytest.mark.parametrize(
    ("user_parameters", "named"),
    [
        ('{"file": "\\ud800"}', '"file"'),
        ('{"containers": {"SourceArtifact": "web"}, "outputs": {"ImageDefinitions": ["\\udc00"]}}', '"outputs.'),
    ],
)
def test_user_parameters_with_an_unpaired_surrogate_are_a_configuration_error(
    aws: LocalAws, invoke: Invoke, user_parameters: str, named: str
) -> None:
    event = with_user_parameters(load_event("single-ecr-source.json"), user_parameters)
    aws.seed(event)

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert failure["message"].startswith(f"UserParameters is not valid Unicode: the string at {named}")


def test_an_output_key_with_an_unpaired_surrogate_is_named_and_nothing_is_sent(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    event["CodePipeline.job"]["data"]["outputArtifacts"][0]["location"]["s3Location"]["objectKey"] = "out\ud800"

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert '"data.outputArtifacts[0].location.s3Location.objectKey" is not valid Unicode' in failure["message"]


@pytest.mark.parametrize(
    ("files", "stack_default", "where"),
    [
        ({"imageDetail.json": {"ImageURI": "ghcr.io/acme/web:v7"}}, False, "file imageDetail.json"),
        ({"imageDetail.json": {"ImageURI": "ghcr.io/acme/web:v7"}}, True, "file imageDetail.json"),
        (
            {"imagedefinitions.json": [{"name": "web", "imageUri": "ghcr.io/acme/web:v7"}]},
            False,
            'file imagedefinitions.json, container "web"',
        ),
    ],
    ids=["short imageDetail.json", "short imageDetail.json, the stack's DefaultPin", "merged entry"],
)
def test_pin_digest_fails_a_job_whose_artifact_names_an_image_without_a_digest(
    aws: LocalAws,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, Any],
    stack_default: bool,
    where: str,
) -> None:
    # Given an artifact naming its image by tag alone, and a job pinned by digest (UserParameters or the stack)
    if stack_default:
        monkeypatch.setenv("IMAGEDEFS_DEFAULT_PIN", "digest")
    event = _single_source_with(aws, zip_files(files), None if stack_default else {"pin": "digest"})

    # When it runs
    failure = invoke(event).failure

    # Then the job fails, naming the artifact, the file and the image, and nothing is written
    assert failure["type"] == "JobFailed"
    assert failure["message"].startswith(
        f'Artifact "SourceArtifact", {where}: image ghcr.io/acme/web:v7 has a tag but no digest, and the job pins by '
        'digest (UserParameters "pin", or else the DefaultPin parameter of the function\'s stack'
    )
    assert failure["message"].endswith(
        ', pin by tag, or set {"verify": true} for the function to resolve the tag\'s digest in ECR (images in ECR '
        "only)."
    )
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)
