"""The example pipeline source -> ECRBuildAndPublish -> this Invoke action -> ECS deploy, end to end: images handed
over as pipeline variables, with no input artifact."""

from __future__ import annotations

import json

from devtools.local_aws import LocalAws, load_event
from tests.integration.conftest import Invoke
from tests.repository.test_example_pipeline import actions
from tests.samples import REGISTRY, with_user_parameters
from tests.templates import ROOT, load_template


def test_the_build_and_publish_pipelines_invoke_action_writes_the_ecs_deploys_file_from_the_builds_variables(
    aws: LocalAws, invoke: Invoke
) -> None:
    # Given the example's Invoke action, with no input artifact, and ECRBuildAndPublish's variables as AWS
    # documents them: the repository's name, and the sha256 digest of the image manifest
    pipeline = load_template(ROOT / "examples" / "build-and-publish-pipeline.yaml")
    by_provider = actions(pipeline)
    build, invoke_action, deploy = by_provider["ECRBuildAndPublish"], by_provider["Lambda"], by_provider["ECS"]
    assert "OutputArtifacts" not in build and "InputArtifacts" not in invoke_action
    variables = {"ECRRepositoryName": "shop/web", "ECRImageDigestId": "sha256:" + "4f" * 32}
    parameters = invoke_action["Configuration"]["UserParameters"]
    assert len(parameters) <= 1_000  # CodePipeline's limit on the typed field
    for name, value in variables.items():
        parameters = parameters.replace(f"#{{{build['Namespace']}.{name}}}", value)
    event = with_user_parameters(load_event("build-and-publish.json"), parameters)
    aws.seed(event)

    # When CodePipeline invokes the function with the resolved text
    invocation = invoke(event)

    # Then the deploy action's input artifact holds the file it reads, naming the pushed image by digest
    assert invocation.report.succeeded
    (output,) = invoke_action["OutputArtifacts"]
    assert deploy["InputArtifacts"] == [output]
    assert json.loads(aws.output_files(event)[deploy["Configuration"]["FileName"]]) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web@{variables['ECRImageDigestId']}"}
    ]


def test_a_variable_left_unresolved_fails_the_job_once_naming_it(aws: LocalAws, invoke: Invoke) -> None:
    # Given an Invoke action whose upstream action has no namespace "Build": CodePipeline leaves the text as typed
    parameters = {"images": {"web": {"repository": "shop/web", "digest": "#{Build.ECRImageDigestId}"}}}
    event = with_user_parameters(load_event("build-and-publish.json"), parameters)
    aws.seed(event)

    invocation = invoke(event)

    assert invocation.failure["type"] == "ConfigurationError"
    assert invocation.failure["message"].startswith(
        'UserParameters "images" holds "#{Build.ECRImageDigestId}", a pipeline variable that CodePipeline did not '
        "resolve"
    )


def test_resolved_user_parameters_of_several_kilobytes_write_every_container(aws: LocalAws, invoke: Invoke) -> None:
    # Given 80 containers typed as #{...} references (under 1,000 characters each action) and resolved to 8 KB
    images = {f"c{index}": {"repository": "shop/web", "digest": "sha256:" + "e" * 64} for index in range(80)}
    event = with_user_parameters(load_event("build-and-publish.json"), {"images": images})
    assert len(event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"]) > 8_000
    aws.seed(event)

    invocation = invoke(event)

    assert invocation.report.succeeded
    assert len(json.loads(aws.output_files(event)["imagedefinitions.json"])) == 80
