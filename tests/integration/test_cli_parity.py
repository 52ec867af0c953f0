"""The command line and the action write the same file, and say the same thing, for the same inputs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import LocalAws, load_event, zip_files
from imagedefs.cli import main
from tests.integration.conftest import Invoke
from tests.samples import image_detail, input_location, with_user_parameters


def _artifacts_on_disk(aws: LocalAws, event: dict[str, Any], folder: Path) -> list[str]:
    """Each input artifact's zip, saved as <artifact>.zip, as CodeBuild or a user would have it."""
    paths = []
    for index, artifact in enumerate(event["CodePipeline.job"]["data"]["inputArtifacts"]):
        bucket, key = input_location(event, index)
        path = folder / f"{artifact['name']}.zip"
        path.write_bytes(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        paths.append(str(path))
    return paths


def test_same_output_as_the_action(
    aws: LocalAws, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    invoke(event)
    action_output = aws.output_files(event)["imagedefinitions.json"]
    parameters = json.loads(event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"])
    monkeypatch.chdir(tmp_path)

    assert main([*_artifacts_on_disk(aws, event, tmp_path), "--containers", json.dumps(parameters["containers"])]) == 0

    assert (tmp_path / "imagedefinitions.json").read_bytes() == action_output


def test_the_actions_message_naming_the_zip_given(
    aws: LocalAws, invoke: Invoke, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    broken = {key: value for key, value in image_detail("shop/api").items() if key != "ImageTags"}
    aws.put(*input_location(event, 1), zip_files({"imageDetail.json": broken}))
    failure = invoke(event).failure
    monkeypatch.chdir(tmp_path)

    exit_code = main(
        [*_artifacts_on_disk(aws, event, tmp_path), "--container", "WebImage=web", "--container", "ApiImage=api"]
    )

    # Then the command line says what the action says, naming the zip the user gave where the file is
    assert exit_code == 1
    zip_path = tmp_path / "ApiImage.zip"
    named = failure["message"].replace("file imageDetail.json:", f"file imageDetail.json in {zip_path}:")
    assert named != failure["message"]
    assert capsys.readouterr().err.strip() == f"imagedefs: error: {named}"


@pytest.mark.parametrize(
    "first_parameters",
    [{"format": "imagedetail"}, {"format": "imagedetail", "pin": "digest"}, {}, {"pin": "digest"}],
    ids=["imagedetail by tag", "imagedetail by digest", "imagedefinitions", "imagedefinitions by digest"],
)
def test_every_format_the_action_writes_is_read_back_with_the_same_images(
    aws: LocalAws, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_parameters: dict[str, Any]
) -> None:
    # Given a job that wrote its output in one of the formats
    first = with_user_parameters(load_event("single-ecr-source.json"), first_parameters)
    aws.seed(first)
    assert invoke(first).report.succeeded
    written = aws.output_object(first)["Body"].read()
    images = _image_uris_in(aws.output_files(first))

    # When the next job takes that output as its input artifact, and so does the command line
    second = load_event("single-ecr-source.json")
    second["CodePipeline.job"]["id"] = str(uuid.uuid4())
    aws.put(*input_location(second), written)
    second_report = invoke(second).report
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Chained.zip").write_bytes(written)
    assert main(["Chained.zip", "--output", "again.json"]) == 0

    # Then both write the same images
    assert second_report.succeeded
    assert [entry["imageUri"] for entry in json.loads(aws.output_files(second)["imagedefinitions.json"])] == images
    assert [entry["imageUri"] for entry in json.loads((tmp_path / "again.json").read_text())] == images


def _image_uris_in(files: dict[str, bytes]) -> list[str]:
    (content,) = files.values()
    document = json.loads(content)
    return [entry["imageUri"] for entry in document] if isinstance(document, list) else [document["ImageURI"]]
