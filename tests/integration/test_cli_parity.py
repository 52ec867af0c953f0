"""The command line and the action write the same file, and say the same thing, for the same inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import LocalAws, load_event, zip_files
from imagedefs.cli import main
from tests.integration.conftest import Invoke
from tests.samples import image_detail, input_location


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


def test_same_message_as_the_action(
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

    assert exit_code == 1
    assert capsys.readouterr().err.strip() == f"imagedefs: error: {failure['message']}"
