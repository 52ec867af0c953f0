"""UserParameters "images": images handed over as pipeline variables (ECRBuildAndPublish, ECR source, any action)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imagedefs.config import RegistryRule, Settings, parse_user_parameters
from imagedefs.errors import ConfigurationError
from imagedefs.formats.codedeploy import BlueGreenService, LoadBalancerTarget
from imagedefs.plan import build_plan, plan_job
from tests.samples import DIGEST_A, DIGEST_B, REGISTRY, image_detail
from tests.unit.test_plan import detail

ACCOUNT = "123456789012"
HOME = Settings(region="us-west-2")
HEX = "a" * 64
# What ECRBuildAndPublish emits, as AWS documents its variables: the repository name, the manifest's sha256 digest.
BUILD_VARIABLES = {"ECRRepositoryName": "shop/web", "ECRImageDigestId": DIGEST_A}


def configured(parameters: dict[str, Any] | str, settings: Settings = HOME, account: str | None = ACCOUNT) -> Any:
    raw = parameters if isinstance(parameters, str) else json.dumps(parameters)
    return parse_user_parameters(raw, settings, account_id=account)


def written(parameters: dict[str, Any], settings: Settings = HOME, sources: list[Any] | None = None) -> Any:
    config = configured(parameters, settings)
    return build_plan(sources or [], ["Definitions"], config, settings)


def definitions(plan: Any) -> Any:
    return json.loads(plan.outputs[0].files[0].content)


def test_build_and_publish_variables_write_the_ecs_deploys_file_with_no_input_artifact() -> None:
    # Given the Invoke action's UserParameters as CodePipeline resolved ECRBuildAndPublish's variables into it
    typed = '{"images": {"web": {"repository": "#{Build.ECRRepositoryName}", "digest": "#{Build.ECRImageDigestId}"}}}'
    resolved = typed.replace("#{Build.ECRRepositoryName}", BUILD_VARIABLES["ECRRepositoryName"]).replace(
        "#{Build.ECRImageDigestId}", BUILD_VARIABLES["ECRImageDigestId"]
    )
    config = configured(resolved)

    # When the job runs with no input artifact
    plan = plan_job(config, HOME, [], ["Definitions"], lambda name: pytest.fail(name), lambda _: pytest.fail())

    # Then the file names the image in the job's account and the function's region, by digest, and says why
    assert definitions(plan) == [{"name": "web", "imageUri": f"{REGISTRY}/shop/web@{DIGEST_A}"}]
    assert plan.summary() == f"web → {REGISTRY}/shop/web@{DIGEST_A} (image has no tag: pinned by digest)"
    assert plan.output_variables() == {"web_imageUri": f"{REGISTRY}/shop/web@{DIGEST_A}", "web_digest": DIGEST_A}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"{REGISTRY}/shop/web@{DIGEST_A}", f"{REGISTRY}/shop/web@{DIGEST_A}"),
        (f"{REGISTRY}/shop/web:v5", f"{REGISTRY}/shop/web:v5"),
        ("ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2"),
        ({"repository": "shop/web", "digest": HEX}, f"{REGISTRY}/shop/web@{DIGEST_A}"),
        ({"repository": "shop/web", "tag": "v5"}, f"{REGISTRY}/shop/web:v5"),
        ({"repository": "shop/web", "tag": "v5", "digest": DIGEST_A}, f"{REGISTRY}/shop/web:v5"),
        ({"repository": "web", "tag": "v5", "registry": "public.ecr.aws/team"}, "public.ecr.aws/team/web:v5"),
        ({"repository": "app", "tag": "1", "registry": "registry.internal:5000"}, "registry.internal:5000/app:1"),
    ],
)
def test_every_form_of_image_is_written_as_a_full_reference(image: Any, expected: str) -> None:
    assert definitions(written({"images": {"web": image}})) == [{"name": "web", "imageUri": expected}]


@pytest.mark.parametrize(
    ("region", "registry"),
    [
        ("eu-west-1", "210987654321.dkr.ecr.eu-west-1.amazonaws.com"),
        ("cn-north-1", "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_a_bare_repository_is_in_the_jobs_account_and_the_functions_region(region: str, registry: str) -> None:
    settings = Settings.from_environment({"AWS_REGION": region})
    config = configured({"images": {"web": {"repository": "shop/web", "tag": "v5"}}}, settings, "210987654321")
    assert config.images["web"].image_uri == f"{registry}/shop/web:v5"


@pytest.mark.parametrize(("settings", "account"), [(HOME, None), (Settings(), ACCOUNT)])
def test_a_bare_repository_without_account_or_region_needs_a_registry(settings: Settings, account: str | None) -> None:
    with pytest.raises(ConfigurationError, match=r'has no "registry", and the job names no account and region'):
        configured({"images": {"web": {"repository": "shop/web", "tag": "v5"}}}, settings, account)


def test_images_and_artifacts_mix_each_container_from_one_place() -> None:
    parameters = {"containers": {"ApiImage": "api"}, "images": {"web": {"repository": "shop/web", "digest": HEX}}}
    plan = written(parameters, sources=[detail("ApiImage", image_detail("shop/api", DIGEST_B, ["v2"]))])
    assert [(image.name, image.image_uri) for image in plan.images] == [
        ("api", f"{REGISTRY}/shop/api:v2"),
        ("web", f"{REGISTRY}/shop/web@{DIGEST_A}"),
    ]


def test_a_container_named_in_containers_and_in_images_names_both() -> None:
    parameters = {"containers": {"WebImage": "web"}, "images": {"web": f"{REGISTRY}/shop/web:v5"}}
    with pytest.raises(ConfigurationError) as raised:
        configured(parameters)
    assert str(raised.value).startswith(
        'Container "web" gets an image from both UserParameters "images" and artifact "WebImage" '
        '(UserParameters "containers")'
    )


def test_a_container_an_artifact_gives_by_default_and_images_gives_names_both() -> None:
    with pytest.raises(ConfigurationError) as raised:
        written({"images": {"web": f"{REGISTRY}/shop/web:v5"}}, sources=[detail("WebImage", image_detail("shop/web"))])
    assert str(raised.value).startswith(
        'Container "web" gets an image from both artifact "WebImage" and UserParameters "images"'
    )


def test_the_allow_list_applies_to_images_given_directly() -> None:
    settings = Settings(allowed_registries=(RegistryRule(ACCOUNT),), region="us-west-2")
    with pytest.raises(ConfigurationError) as raised:
        written({"images": {"web": "ghcr.io/org/app:1.2"}}, settings)
    assert str(raised.value).startswith(
        'UserParameters "images" for container "web": image ghcr.io/org/app:1.2 for container "web" comes from '
        "registry ghcr.io, which is not allowed (allowed: 123456789012)."
    )
    assert written({"images": {"web": {"repository": "shop/web", "digest": HEX}}}, settings).images


def test_pin_digest_with_only_a_tag_says_which_variable_gives_the_digest() -> None:
    with pytest.raises(ConfigurationError) as raised:
        written({"pin": "digest", "images": {"web": {"repository": "shop/web", "tag": "v5"}}})
    message = str(raised.value)
    assert message.startswith(f'UserParameters "images" for container "web" is {REGISTRY}/shop/web:v5, which has a tag')
    assert "ECRBuildAndPublish's #{Namespace.ECRImageDigestId}" in message
    assert "#{Namespace.ImageDigest}" in message


def test_pin_digest_writes_no_tag_of_an_image_with_both() -> None:
    plan = written({"pin": "digest", "images": {"web": {"repository": "shop/web", "tag": "v5", "digest": DIGEST_A}}})
    assert definitions(plan) == [{"name": "web", "imageUri": f"{REGISTRY}/shop/web@{DIGEST_A}"}]
    assert plan.output_variables()["web_tag"] == "v5"


def test_imagedetail_format_writes_the_direct_image() -> None:
    plan = written({"format": "imagedetail", "images": {"web": {"repository": "shop/web", "digest": HEX}}})
    assert json.loads(plan.outputs[0].files[0].content) == {"ImageURI": f"{REGISTRY}/shop/web@{DIGEST_A}"}


def test_codedeploy_format_sets_the_direct_image_in_the_live_task_definition() -> None:
    config = configured({"format": "codedeploy", "service": "prod/web", "images": {"web": f"{REGISTRY}/shop/web:v5"}})
    service = BlueGreenService(
        described_as='the task definition web:3 of ECS service "prod/web"',
        task_definition={"family": "web", "containerDefinitions": [{"name": "web", "image": "old:1"}]},
        tags=(),
        load_balancer=LoadBalancerTarget("web", 8080),
    )
    plan = build_plan([], ["Definitions"], config, HOME, service)
    files = {file.name: file.content for file in plan.outputs[0].files}
    assert json.loads(files["taskdef.json"])["containerDefinitions"] == [
        {"name": "web", "image": f"{REGISTRY}/shop/web:v5"}
    ]


@pytest.mark.parametrize(
    ("parameters", "reference"),
    [
        (
            {"images": {"web": {"repository": "#{Build.ECRRepositoryName}", "digest": HEX}}},
            "#{Build.ECRRepositoryName}",
        ),
        ({"images": {"web": f"{REGISTRY}/shop/web@#{{Buld.ECRImageDigestId}}"}}, "#{Buld.ECRImageDigestId}"),
        ({"images": {"#{Source.RepositoryName}": f"{REGISTRY}/shop/web:v5"}}, "#{Source.RepositoryName}"),
        ({"containers": {"Src": "#{Src.Name}"}}, "#{Src.Name}"),
        ({"outputs": {"Out": ["#{X.y}"]}}, "#{X.y}"),
        ({"file": "#{X.file}.json"}, "#{X.file}"),
        ({"format": "codedeploy", "service": "prod/#{Deploy.Service}"}, "#{Deploy.Service}"),
        ({"pin": "#{Vars.pin}"}, "#{Vars.pin}"),
    ],
)
def test_a_variable_codepipeline_did_not_resolve_is_named_with_how_to_fix_it(
    parameters: dict[str, Any], reference: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        configured(parameters)
    message = str(raised.value)
    assert f"holds {json.dumps(reference)}, a pipeline variable that CodePipeline did not resolve" in message
    assert "Give the upstream action a namespace" in message


def test_free_text_may_hold_a_literal_variable_syntax() -> None:
    assert configured({"tag": "v#{2}"}).tag_pattern is not None


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (f" {REGISTRY}/shop/web:v5", "with whitespace or a line break around it"),
        (f"{REGISTRY}/shop/web:v5\r\n", "with whitespace or a line break around it"),
        ({"repository": "shop/web", "digest": HEX + "\n"}, 'field "digest" is'),
        (f"{REGISTRY}/shop/ web:v5", "which is not a Docker image reference"),
        (f"{REGISTRY}/shop/web:v5\nghcr.io/x:1", "which is not a Docker image reference"),
        (f"{REGISTRY}/shop/wéb:v5", "which is not a Docker image reference"),
        (REGISTRY + "/" + "a" * 10_240 + ":v5", "... (10,"),
        ({"repository": "shop/web", "digest": "a" * 63}, "which is not the image manifest's sha256 digest"),
        ({"repository": "shop/web", "digest": "sha512:" + "a" * 128}, "which is not the image manifest's sha256"),
        ({"repository": "shop/web", "digest": "A" * 64}, "which is not the image manifest's sha256 digest"),
        ({"repository": "shop/web", "tag": "v5", "registry": "evil.example/../x"}, "which Docker's grammar refuses"),
        ({"repository": "shop/web", "tag": "v5", "registry": "host:port"}, "which Docker's grammar refuses"),
        ({"repository": "shop/web", "tag": "v5", "registry": "notahost"}, "which Docker's grammar refuses"),
        ({"repository": f"{REGISTRY}/shop/web", "tag": "v5"}, "which names a registry"),
        ({"repository": "Shop/Web", "tag": "v5"}, "which Docker's grammar refuses"),
        ({"repository": "shop/web", "tag": "-v5"}, "which Docker's grammar refuses"),
        ({"repository": "shop/web"}, 'needs "repository" and "digest" or "tag"'),
        ({"repository": "shop/web", "tag": "v5", "digests": HEX}, 'unknown field(s) "digests"'),
        ({"repository": "shop/web", "tag": 5}, 'field "tag" must be a string, not a number'),
        ({"repository": ["shop/web"], "tag": "v5"}, 'field "repository" must be a string, not a list'),
        ({"repository": "", "tag": "v5"}, 'field "repository" is empty'),
        (5, "must be an image reference (a string) or an object"),
        (None, "must be an image reference (a string) or an object"),
        ("shop/web:v5", "which names no registry: write the full reference"),
        (f"{REGISTRY}/shop/web", "which has neither a tag nor a digest"),
    ],
)
def test_hostile_images_are_refused_naming_the_container(image: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        configured({"images": {"web": image}})
    text = str(raised.value)
    assert text.startswith('UserParameters "images" for container "web"')
    assert message in text
    assert len(text) < 1_000


@pytest.mark.parametrize("value", [[], {}, "web", 5])
def test_images_must_be_a_non_empty_object(value: Any) -> None:
    with pytest.raises(ConfigurationError, match=r'^UserParameters "images" must be a non-empty object'):
        configured({"images": value})


def test_a_container_name_that_ecs_refuses_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r'^UserParameters "images" names container "web app", which is not'):
        configured({"images": {"web app": f"{REGISTRY}/shop/web:v5"}})


def test_resolved_user_parameters_of_several_kilobytes_are_read() -> None:
    # Given 60 containers whose digests CodePipeline resolved: far over the 1,000 characters typed
    images = {f"c{index}": {"repository": "shop/web", "digest": DIGEST_A} for index in range(60)}
    raw = json.dumps({"images": images})
    assert len(raw) > 5_000

    # When the job plans them, Then every container gets its image
    plan = build_plan([], ["Definitions"], configured(raw), HOME)
    assert len(definitions(plan)) == 60


def test_a_mistyped_images_key_is_pointed_to_images() -> None:
    with pytest.raises(ConfigurationError, match=r'unknown key\(s\) "image"\. .* Images are given with "images"'):
        configured({"image": {"web": f"{REGISTRY}/shop/web:v5"}})


def test_containers_naming_an_artifact_of_a_job_with_no_input_is_refused() -> None:
    config = configured({"containers": {"ApiImage": "api"}, "images": {"web": f"{REGISTRY}/shop/web:v5"}})
    with pytest.raises(ConfigurationError) as raised:
        plan_job(config, HOME, [], ["Definitions"], lambda name: pytest.fail(name), lambda _: pytest.fail())
    assert str(raised.value) == (
        'UserParameters "containers" names "ApiImage", which is not an input artifact of this action. It has no '
        "input artifact."
    )


def test_a_job_with_no_input_and_no_images_says_both_ways_to_give_an_image() -> None:
    with pytest.raises(ConfigurationError) as raised:
        plan_job(configured({}), HOME, [], ["Definitions"], lambda name: pytest.fail(name), lambda _: pytest.fail())
    assert 'or give each container\'s image in UserParameters "images", for example' in str(raised.value)
