"""The action as a pipeline owner sees it: the artifact it writes and the result CodePipeline receives."""

from __future__ import annotations

import json

import pytest

from devtools.local_aws import LocalAws, load_event, zip_files
from tests.hostile import job_reading
from tests.integration.conftest import Invoke, LambdaContext
from tests.samples import REGISTRY, image_detail, input_location, with_user_parameters


def test_two_ecr_sources_write_the_classic_two_container_imagedefinitions(aws: LocalAws, invoke: Invoke) -> None:
    # Given the two-container sample job
    event = load_event("two-ecr-sources.json")
    aws.seed(event)

    # When the function runs it
    result = invoke(event)

    # Then the output artifact holds exactly the two containers, pinned by tag
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v1.4.2"},
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:v2.0.1"},
    ]
    # And CodePipeline received one success with the summary, the request id and the variables
    report = result.report
    assert report.succeeded
    assert report.request["executionDetails"] == {
        "summary": f"web → {REGISTRY}/shop/web:v1.4.2; api → {REGISTRY}/shop/api:v2.0.1",
        "externalExecutionId": LambdaContext.aws_request_id,
        "percentComplete": 100,
    }
    variables = report.request["outputVariables"]
    assert variables["web_imageUri"] == f"{REGISTRY}/shop/web:v1.4.2"
    assert variables["web_tag"] == "v1.4.2"
    assert variables["api_digest"].startswith("sha256:3c2d1e0f")
    assert result.returned == {"jobId": event["CodePipeline.job"]["id"], "report": "reported"}


def test_single_source_names_the_container_after_the_repository(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)

    invoke(event)

    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "dk-image-repo", "imageUri": f"{REGISTRY}/dk-image-repo:latest"}
    ]


def test_kms_encrypted_pipeline_uploads_with_the_jobs_key(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("kms-encrypted.json")
    aws.seed(event)

    result = invoke(event)

    assert result.report.succeeded
    written = aws.output_object(event)
    assert written["ServerSideEncryption"] == "aws:kms"
    assert written["SSEKMSKeyId"] == event["CodePipeline.job"]["data"]["encryptionKey"]["id"]
    assert json.loads(aws.output_files(event)["imagedefinitions.json"])[0]["imageUri"].endswith(
        "@" + "sha256:1f0f5d1e0b7a4e6a9c2d3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e"
    )


def test_bad_user_parameters_fail_as_configuration_error_naming_the_valid_keys(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("bad-user-parameters.json")
    aws.seed(event)

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert '"pinned"' in failure["message"]
    assert '"containers", "pin", "tag", "outputs", "format", "file"' in failure["message"]
    assert failure["externalExecutionId"] == LambdaContext.aws_request_id


def test_a_rerun_of_a_reported_job_is_left_alone(aws: LocalAws, invoke: Invoke) -> None:
    # Given a job that was already run and reported
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    first = invoke(event)
    first_output = aws.output_object(event)["Body"].read()

    # When Lambda delivers the same event again
    second = invoke(event)

    # Then nothing is raised, no second result reaches CodePipeline, and the artifact is byte-identical
    assert first.report.succeeded
    assert second.reports == []
    assert second.returned["report"] == "already_closed"
    assert aws.output_object(event)["Body"].read() == first_output
    assert any(
        record.get("message", "").startswith("Job was already reported or is gone (a duplicate delivery)")
        for record in second.log_records
    )
    duplicate = next(record for record in second.log_records if "DuplicateDeliveries" in record)
    assert duplicate["DuplicateDeliveries"] == [1.0]
    assert {"Name": "DuplicateDeliveries", "Unit": "Count"} in duplicate["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert not any("JobsSucceeded" in record for record in second.log_records)


def test_outputs_split_containers_across_output_artifacts(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("two-ecr-sources.json")
    data = event["CodePipeline.job"]["data"]
    api_output = json.loads(json.dumps(data["outputArtifacts"][0]))
    api_output["name"] = "ApiDefinitions"
    api_output["location"]["s3Location"]["objectKey"] = "my-pipeline/ApiDefini/out9"
    data["outputArtifacts"][0]["name"] = "WebDefinitions"
    data["outputArtifacts"].append(api_output)
    with_user_parameters(
        event,
        {
            "containers": {"WebImage": "web", "ApiImage": "api"},
            "outputs": {"WebDefinitions": ["web"], "ApiDefinitions": ["api"]},
        },
    )
    aws.seed(event)

    assert invoke(event).report.succeeded

    assert json.loads(aws.output_files(event, 0)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v1.4.2"}
    ]
    assert json.loads(aws.output_files(event, 1)["imagedefinitions.json"]) == [
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api:v2.0.1"}
    ]


def test_blue_green_format_writes_imagedetail_json(aws: LocalAws, invoke: Invoke) -> None:
    event = with_user_parameters(load_event("single-ecr-source.json"), {"format": "imagedetail", "pin": "digest"})
    aws.seed(event)

    invoke(event)

    files = aws.output_files(event)
    assert list(files) == ["imageDetail.json"]
    assert json.loads(files["imageDetail.json"]) == {
        "ImageURI": f"{REGISTRY}/dk-image-repo@sha256:1f0f5d1e0b7a4e6a9c2d3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e"
    }


def test_an_input_holding_imagedefinitions_json_is_merged_as_is(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("two-ecr-sources.json")
    with_user_parameters(event, None)
    aws.seed(event)
    bucket, key = input_location(event, 1)
    aws.put(
        bucket,
        key,
        zip_files({"imagedefinitions.json": [{"name": "sidecar", "imageUri": "public.ecr.aws/nginx/nginx:1.27"}]}),
    )

    invoke(event)

    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v1.4.2"},
        {"name": "sidecar", "imageUri": "public.ecr.aws/nginx/nginx:1.27"},
    ]


@pytest.mark.parametrize(
    ("tags", "user_parameters", "image", "summary_note"),
    [
        (["latest", "v3.1.0"], {"tag": r"v\d+\.\d+\.\d+"}, "shop/web:v3.1.0", ""),
        ([], {}, "shop/web@" + "sha256:" + "a" * 64, "(image has no tag: pinned by digest)"),
        (["v1"], {"pin": "digest"}, "shop/web@" + "sha256:" + "a" * 64, ""),
    ],
)
def test_pin_and_tag_choose_the_image(
    aws: LocalAws, invoke: Invoke, tags: list[str], user_parameters: dict[str, str], image: str, summary_note: str
) -> None:
    event = with_user_parameters(
        load_event("single-ecr-source.json"), {"containers": {"SourceArtifact": "web"}, **user_parameters}
    )
    aws.seed(event, {"/".join(input_location(event)): {"imageDetail.json": image_detail(tags=tags)}})

    report = invoke(event).report

    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/{image}"}
    ]
    assert report.request["executionDetails"]["summary"].endswith(
        f"{REGISTRY}/{image}" + (f" {summary_note}" if summary_note else "")
    )


def test_function_level_defaults_apply_unless_user_parameters_override(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEDEFS_DEFAULT_PIN", "digest")
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    invoke(event)
    assert "@sha256:" in json.loads(aws.output_files(event)["imagedefinitions.json"])[0]["imageUri"]

    overridden = with_user_parameters(load_event("two-ecr-sources.json"), {"pin": "tag"})
    aws.seed(overridden)
    invoke(overridden)
    assert json.loads(aws.output_files(overridden)["imagedefinitions.json"])[0]["imageUri"].endswith(":v1.4.2")


def test_logs_and_metrics_carry_the_job_the_artifacts_and_the_outcome(aws: LocalAws, invoke: Invoke) -> None:
    good = load_event("two-ecr-sources.json")
    aws.seed(good)
    bad = load_event("bad-user-parameters.json")

    records = invoke(good).log_records + invoke(bad).log_records

    written = next(record for record in records if record.get("message") == "Image definitions written")
    assert written["correlation_id"] == good["CodePipeline.job"]["id"]
    assert written["input_artifacts"] == ["WebImage", "ApiImage"]
    assert written["output_artifacts"] == ["ImageDefinitions"]
    assert written["images"]["web"] == f"{REGISTRY}/shop/web:v1.4.2"
    assert written["outcome"] == "succeeded"
    assert written["outputs"] == {"ImageDefinitions": ["web", "api"]}
    metrics = [record for record in records if "_aws" in record]
    assert any(record.get("JobsSucceeded") == [1.0] for record in metrics)
    assert any(
        record.get("JobsFailed") == [1.0] and record.get("FailureType") == "ConfigurationError" for record in metrics
    )
    failed = next(record for record in records if record.get("message") == "Job failed")
    assert (failed["level"], failed["outcome"], failed["failure_type"]) == ("WARNING", "failed", "ConfigurationError")
    assert failed["reason"].startswith("UserParameters has unknown key(s)")
    # And failures are counted in all, too, besides by type; every metric is a count
    assert any(record.get("JobsFailed") == [1.0] and "FailureType" not in record for record in metrics)
    units = {
        (metric["Name"], metric["Unit"])
        for record in metrics
        for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert {("JobsSucceeded", "Count"), ("JobsFailed", "Count")} <= units
    assert all(unit == "Count" for _, unit in units)
    assert not any("DuplicateDeliveries" in record or "ReportsNotDelivered" in record for record in metrics)


def test_output_variables_past_codepipelines_limit_are_left_out_with_a_warning(aws: LocalAws, invoke: Invoke) -> None:
    # Given a merged imagedefinitions.json of 200 containers with long names and tags: a file of about 87 KB,
    # whose output variables would come to about 158,000 bytes
    event = job_reading(aws, b"", {})
    entries = [{"name": f"c{i:03}" + "x" * 251, "imageUri": "ghcr.io/acme/app:" + "t" * 128} for i in range(200)]
    aws.put(*input_location(event), zip_files({"imagedefinitions.json": entries}))

    # When the job runs
    result = invoke(event)

    # Then the deploy still gets its file, the report carries no variables, and the log says why
    assert result.report.succeeded
    assert "outputVariables" not in result.report.request
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == entries
    assert any(
        record.get("level") == "WARNING"
        and record["message"].startswith("Output variables left out")
        and "CodePipeline's 122,880-byte limit" in record["message"]
        for record in result.log_records
    )


def test_a_job_with_few_variables_reports_them_without_a_warning(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    result = invoke(event)
    assert result.report.request["outputVariables"]["dk-image-repo_tag"] == "latest"
    assert not any(record.get("level") == "WARNING" for record in result.log_records)


def test_input_artifacts_that_containers_leaves_out_are_not_read_and_are_logged(aws: LocalAws, invoke: Invoke) -> None:
    # Given two sources, of which containers names only one
    event = with_user_parameters(load_event("two-ecr-sources.json"), {"containers": {"WebImage": "web"}})
    aws.seed(event)

    # When the job runs
    result = invoke(event)

    # Then only that one is written, and the log names the one left out, with the job's artifacts
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v1.4.2"}
    ]
    ignored = next(record for record in result.log_records if "ignored_artifacts" in record)
    assert ignored["ignored_artifacts"] == ["ApiImage"]
    assert ignored["message"].startswith("Input artifacts not named in containers")
    assert ignored["input_artifacts"] == ["WebImage", "ApiImage"]
    assert not any("left_out_containers" in record for record in result.log_records)


def test_a_rerun_of_a_failed_job_counts_a_duplicate_not_a_second_failure(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("bad-user-parameters.json")
    aws.seed(event)
    assert invoke(event).failure["type"] == "ConfigurationError"

    second = invoke(event)

    assert second.reports == []
    assert any(record.get("DuplicateDeliveries") == [1.0] for record in second.log_records)
    assert not any("JobsFailed" in record for record in second.log_records)


def test_an_artifact_holding_both_image_files_is_read_for_its_image_detail_and_the_summary_says_so(
    aws: LocalAws, invoke: Invoke
) -> None:
    # Given an artifact holding an imageDetail.json and an imagedefinitions.json (a build that wrote both)
    event = with_user_parameters(load_event("single-ecr-source.json"), None)
    files = {
        "imagedefinitions.json": [{"name": "web", "imageUri": "ghcr.io/other/web:9"}],
        "imageDetail.json": image_detail(tags=["v3"]),
    }
    aws.seed(event, {"/".join(input_location(event)): files})

    # When the job runs
    report = invoke(event).report

    # Then the imageDetail.json is read, and the summary CodePipeline shows names the rule
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v3"}
    ]
    assert report.request["executionDetails"]["summary"] == (
        f'web → {REGISTRY}/shop/web:v3 (artifact "SourceArtifact" holds both imageDetail.json and '
        "imagedefinitions.json: imageDetail.json read, imagedefinitions.json ignored)"
    )
