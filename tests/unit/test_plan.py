"""The one job flow and its planning: configuration and image files in, output files, summary and variables out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imagedefs.config import ActionConfig, EcsService, RegistryRule, Settings, parse_user_parameters
from imagedefs.errors import ArtifactContentError, ConfigurationError
from imagedefs.formats.image_files import parse_image_detail
from imagedefs.model import ContainerImage, ImageDefinition, LiveService, MergedDefinitions, OutputFile, Plan
from imagedefs.plan import build_plan, plan_job, select_inputs, unpicked_definitions
from imagedefs.references import parse_reference
from imagedefs.tag_pattern import TagPattern
from tests.samples import DIGEST_A, DIGEST_B, REGISTRY, image_detail

SETTINGS = Settings()


def detail(artifact: str, document: dict[str, Any]) -> Any:
    return parse_image_detail(artifact, json.dumps(document).encode())


def definition(name: str, image_uri: str) -> ImageDefinition:
    reference = parse_reference(image_uri)
    assert reference is not None
    return ImageDefinition(name, image_uri, reference)


def classic_buildspec(container: str, document: dict[str, Any]) -> dict[str, str]:
    """What the CodeBuild step wrote: repository = ImageURI up to '@', tag = ImageTags[0]."""
    repository = document["ImageURI"].split("@")[0]
    return {"name": container, "imageUri": f"{repository}:{document['ImageTags'][0]}"}


def test_default_options_write_what_the_classic_buildspec_wrote() -> None:
    # Given several ECR sources, as the classic multi-container buildspec handled them
    sources = {
        "WebImage": ("web", image_detail("shop/web", DIGEST_A, ["v1.4.2", "latest"])),
        "ApiImage": ("api", image_detail("shop/api", DIGEST_B, ["2026-11-28.1"])),
        "WorkerImage": ("worker", image_detail("team/shop/worker", "sha256:" + "c" * 64, ["latest", "v9"])),
    }
    config = parse_user_parameters(json.dumps({"containers": {a: c for a, (c, _) in sources.items()}}), SETTINGS)

    # When the action builds the output
    plan = build_plan([detail(a, d) for a, (_, d) in sources.items()], ["ImageDefinitions"], config, SETTINGS)

    # Then the file holds exactly what the buildspec's printf produced
    assert json.loads(plan.outputs[0].files[0].content) == [classic_buildspec(c, d) for c, d in sources.values()]
    assert [file.name for file in plan.outputs[0].files] == ["imagedefinitions.json"]


def test_without_containers_the_name_is_the_last_segment_of_the_repository() -> None:
    plan = build_plan([detail("Src", image_detail("team/shop/web-app"))], ["Out"], ActionConfig(), SETTINGS)
    assert plan.images[0].name == "web-app"


def test_a_repository_name_that_is_no_container_name_asks_for_containers() -> None:
    with pytest.raises(ConfigurationError, match=r'"web.app".*UserParameters "containers"'):
        build_plan([detail("Src", image_detail("shop/web.app"))], ["Out"], ActionConfig(), SETTINGS)


def test_tag_pattern_picks_the_first_fully_matching_tag() -> None:
    config = ActionConfig(tag_pattern=TagPattern.compile(r"v\d+", 'UserParameters "tag"'))
    plan = build_plan([detail("Src", image_detail(tags=["latest", "v12x", "v7", "v8"]))], ["Out"], config, SETTINGS)
    assert plan.images[0].image_uri == f"{REGISTRY}/shop/web:v7"
    assert plan.output_variables()["web_tag"] == "v7"


def test_an_untagged_image_falls_back_to_its_digest_and_says_so() -> None:
    plan = build_plan([detail("Src", image_detail(tags=[]))], ["Out"], ActionConfig(), SETTINGS)
    assert plan.images[0].image_uri == f"{REGISTRY}/shop/web@{DIGEST_A}"
    assert plan.summary() == f"web → {REGISTRY}/shop/web@{DIGEST_A} (image has no tag: pinned by digest)"
    assert "web_tag" not in plan.output_variables()


def test_no_tag_matching_the_pattern_names_the_pattern_and_the_tags() -> None:
    config = ActionConfig(tag_pattern=TagPattern.compile("release-.*", 'UserParameters "tag"'))
    with pytest.raises(ArtifactContentError, match=r'"release-\.\*" \(UserParameters "tag"\); its tags are "latest"'):
        build_plan([detail("Src", image_detail())], ["Out"], config, SETTINGS)


def test_merged_definitions_keep_their_names_and_images() -> None:
    merged = MergedDefinitions("Built", (definition("sidecar", "ghcr.io/acme/envoy:1.30"),))
    plan = build_plan([detail("Src", image_detail()), merged], ["Out"], ActionConfig(), SETTINGS)
    assert json.loads(plan.outputs[0].files[0].content) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:latest"},
        {"name": "sidecar", "imageUri": "ghcr.io/acme/envoy:1.30"},
    ]
    assert plan.output_variables()["sidecar_tag"] == "1.30"


def test_every_output_artifact_gets_every_container_by_default() -> None:
    plan = build_plan([detail("Src", image_detail())], ["A", "B"], ActionConfig(), SETTINGS)
    assert [(output.artifact, output.containers) for output in plan.outputs] == [("A", ("web",)), ("B", ("web",))]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"A": ["web"]}, r'^UserParameters "outputs" does not say which containers go to output artifact\(s\) "B"'),
        (
            {"A": ["web"], "B": ["db"]},
            r'^UserParameters "outputs" puts container\(s\) "db" into output artifact "B".*'
            r'Its containers are "web"',
        ),
        (
            {"A": ["web"], "B": ["web"], "C": ["web"]},
            r'^UserParameters "outputs" names "C", which is not an output '
            r'artifact of this action. Its output artifacts are "A", "B"',
        ),
    ],
)
def test_outputs_must_cover_every_output_with_known_containers(outputs: dict[str, Any], message: str) -> None:
    config = ActionConfig(outputs={k: tuple(v) for k, v in outputs.items()})
    with pytest.raises(ConfigurationError, match=message):
        build_plan([detail("Src", image_detail())], ["A", "B"], config, SETTINGS)


def test_registry_allow_list_accepts_hosts_accounts_and_account_regions() -> None:
    ecr = f"{REGISTRY}"
    assert RegistryRule("123456789012").allows(ecr)
    assert RegistryRule("123456789012:us-west-2").allows(ecr)
    assert not RegistryRule("123456789012:eu-west-1").allows(ecr)
    assert RegistryRule(ecr.upper()).allows(ecr)
    assert not RegistryRule("ghcr.io").allows(ecr)
    assert Settings().registry_allowed("anything.example.com")


def test_select_inputs_reads_only_the_mapped_artifacts() -> None:
    config = ActionConfig(containers={"Web": ("web",)})
    assert select_inputs(["Web", "Docs"], config) == (["Web"], ["Docs"])
    with pytest.raises(ConfigurationError, match=r"^The action has no input artifact") as raised:
        select_inputs([], ActionConfig())
    assert "Add the output artifact of each ECR source action as an input artifact of this Invoke" in str(raised.value)


def definitions_of_size(size: int) -> MergedDefinitions:
    """Entries whose imagedefinitions.json (indented JSON and a newline, as written) is exactly `size` bytes."""
    entries = [(f"c{i:03}", f"ghcr.io/acme/{'x' * 200}:1") for i in range(400)]
    while len(json.dumps([{"name": n, "imageUri": u} for n, u in entries], indent=2)) + 1 > size:
        entries.pop()
    missing = size - len(json.dumps([{"name": n, "imageUri": u} for n, u in entries], indent=2)) - 1
    name, uri = entries[-1]
    entries[-1] = (name, uri.replace(":1", "x" * missing + ":1"))
    return MergedDefinitions("Big", tuple(definition(name, uri) for name, uri in entries))


def test_an_output_of_100_kb_is_written_and_one_byte_more_is_refused() -> None:
    # Given merged entries that make the file exactly 100 KB, and one byte more
    at_limit = build_plan([definitions_of_size(102_400)], ["Out"], ActionConfig(), SETTINGS)
    assert len(at_limit.outputs[0].files[0].content) == 102_400
    # Then the larger one is refused, naming the output artifact, the file, its size and what to do
    with pytest.raises(ArtifactContentError) as raised:
        build_plan([definitions_of_size(102_401)], ["Out"], ActionConfig(), SETTINGS)
    assert 'Output artifact "Out": imagedefinitions.json would be 102401 bytes' in str(raised.value)
    assert "over the 100 KB that ECS accepts" in str(raised.value)
    assert 'Split the containers across output artifacts with UserParameters "outputs"' in str(raised.value)


def test_one_image_can_serve_several_containers() -> None:
    config = parse_user_parameters('{"containers": {"Src": ["web", "worker"]}}', SETTINGS)
    plan = build_plan([detail("Src", image_detail(tags=["v3"]))], ["Out"], config, SETTINGS)
    assert json.loads(plan.outputs[0].files[0].content) == [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v3"},
        {"name": "worker", "imageUri": f"{REGISTRY}/shop/web:v3"},
    ]
    assert plan.output_variables()["worker_tag"] == "v3"


def test_an_image_chosen_upstream_is_used_as_it_is() -> None:
    chosen = parse_image_detail("Built", json.dumps({"ImageURI": f"{REGISTRY}/team/api:v7"}).encode())
    config = parse_user_parameters('{"pin": "tag", "tag": "release-.*"}', SETTINGS)
    plan = build_plan([chosen], ["Out"], config, SETTINGS)
    assert json.loads(plan.outputs[0].files[0].content) == [{"name": "api", "imageUri": f"{REGISTRY}/team/api:v7"}]
    assert plan.summary() == f"api → {REGISTRY}/team/api:v7 (image chosen upstream: used as it is)"
    assert plan.output_variables() == {"api_imageUri": f"{REGISTRY}/team/api:v7", "api_tag": "v7"}


PINNED_BY_DIGEST = [
    pytest.param(parse_user_parameters('{"pin": "digest"}', SETTINGS), SETTINGS, id="UserParameters pin"),
    pytest.param(ActionConfig(pin="digest"), Settings(default_pin="digest"), id="the stack's DefaultPin"),
]


@pytest.mark.parametrize(("config", "settings"), PINNED_BY_DIGEST)
@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            parse_image_detail("Built", json.dumps({"ImageURI": "ghcr.io/acme/api:v7"}).encode()),
            id="a short imageDetail.json",
        ),
        pytest.param(MergedDefinitions("Built", (definition("api", "ghcr.io/acme/api:v7"),)), id="a merged entry"),
    ],
)
def test_pin_digest_refuses_an_image_that_has_a_tag_and_no_digest(
    config: ActionConfig, settings: Settings, source: Any
) -> None:
    # Given an artifact naming an image by tag alone, and a job pinned by digest (by UserParameters or the stack)
    # When the plan is made
    with pytest.raises(ArtifactContentError) as raised:
        build_plan([source], ["Out"], config, settings)
    # Then the job fails, naming the artifact, the file, the image and the promise, and how to keep it
    file = 'imagedefinitions.json, container "api"' if isinstance(source, MergedDefinitions) else "imageDetail.json"
    assert str(raised.value).startswith(
        f'Artifact "Built", file {file}: image ghcr.io/acme/api:v7 has a tag but no digest, and the job pins by '
        'digest (UserParameters "pin", or else the DefaultPin parameter of the function\'s stack (environment variable '
        "IMAGEDEFS_DEFAULT_PIN)), which promises that no tag is written. Write the image's digest into the file "
        "(<repository>@sha256:<64 hex digits>, as the ECR source action and `docker inspect --format "
        "'{{index .RepoDigests 0}}'` give it), pin by tag, or set {\"verify\": true} for the function to resolve the "
        "tag's digest in ECR (images in ECR only)."
    )


class FakeTagDigests:
    """The ECR gate's TagDigests as planning sees it: the digest of each tag in ECR, None outside ECR."""

    def __init__(self, digests: dict[str, str]) -> None:
        self.digests = digests
        self.asked: list[str] = []

    def __call__(self, image_uri: str) -> str | None:
        self.asked.append(image_uri)
        return self.digests.get(image_uri)


def test_pin_digest_with_verify_writes_the_digest_ecr_gives_for_a_tag_only_image() -> None:
    # Given a short imageDetail.json, a merged entry and an "images" entry naming ECR images by tag alone
    chosen = detail("Built", {"ImageURI": f"{REGISTRY}/shop/api:v7"})
    merged = MergedDefinitions("Defs", (definition("web", f"{REGISTRY}/shop/web"),))
    config = parse_user_parameters(
        json.dumps({"pin": "digest", "verify": True, "images": {"log": f"{REGISTRY}/shop/log:v3"}}), SETTINGS
    )
    resolver = FakeTagDigests(
        {f"{REGISTRY}/shop/api:v7": DIGEST_B, f"{REGISTRY}/shop/web": DIGEST_A, f"{REGISTRY}/shop/log:v3": DIGEST_A}
    )

    # When the job pins by digest with a resolver (verify)
    plan = build_plan([chosen, merged], ["Out"], config, SETTINGS, digest_resolver=resolver)

    # Then each image is written by the digest ECR gave, the summary says so, and the variables carry it
    assert json.loads(plan.outputs[0].files[0].content) == [
        {"name": "api", "imageUri": f"{REGISTRY}/shop/api@{DIGEST_B}"},
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web@{DIGEST_A}"},
        {"name": "log", "imageUri": f"{REGISTRY}/shop/log@{DIGEST_A}"},
    ]
    assert plan.summary() == (
        f"api → {REGISTRY}/shop/api@{DIGEST_B} (image chosen upstream: pinned by digest, its tag left out; digest of "
        f'tag "v7" resolved in ECR); web → {REGISTRY}/shop/web@{DIGEST_A} (digest of tag "latest" resolved in ECR); '
        f'log → {REGISTRY}/shop/log@{DIGEST_A} (digest of tag "v3" resolved in ECR)'
    )
    variables = plan.output_variables()
    assert (variables["api_digest"], variables["web_digest"], variables["log_digest"]) == (DIGEST_B, DIGEST_A, DIGEST_A)
    assert (variables["api_tag"], variables["log_tag"]) == ("v7", "v3")
    assert resolver.asked == [f"{REGISTRY}/shop/api:v7", f"{REGISTRY}/shop/web", f"{REGISTRY}/shop/log:v3"]


def test_pin_digest_asks_the_resolver_only_for_images_without_a_digest() -> None:
    resolver = FakeTagDigests({})
    merged = MergedDefinitions("Defs", (definition("web", f"{REGISTRY}/shop/web:v1@{DIGEST_A}"),))
    plan = build_plan([merged], ["Out"], ActionConfig(pin="digest"), SETTINGS, digest_resolver=resolver)
    assert plan.images[0].image_uri == f"{REGISTRY}/shop/web@{DIGEST_A}"
    assert plan.images[0].note is None
    assert resolver.asked == []


@pytest.mark.parametrize(
    ("source", "where"),
    [
        pytest.param(detail("Built", {"ImageURI": "ghcr.io/acme/api:v7"}), "file imageDetail.json", id="short"),
        pytest.param(
            MergedDefinitions("Built", (definition("api", "ghcr.io/acme/api:v7"),)),
            'file imagedefinitions.json, container "api"',
            id="merged",
        ),
    ],
)
def test_pin_digest_with_verify_refuses_a_tag_only_image_outside_ecr_saying_nothing_can_resolve_it(
    source: Any, where: str
) -> None:
    # Given an artifact naming an image outside ECR by tag alone, and a job pinned by digest with verify
    config = parse_user_parameters('{"pin": "digest", "verify": true}', SETTINGS)
    # When the plan is made
    with pytest.raises(ArtifactContentError) as raised:
        build_plan([source], ["Out"], config, SETTINGS, digest_resolver=FakeTagDigests({}))
    # Then the job fails saying verify cannot resolve it, and how to keep the promise
    assert str(raised.value) == (
        f'Artifact "Built", {where}: image ghcr.io/acme/api:v7 has a tag but no digest, and the job pins by digest '
        '(UserParameters "pin", or else the DefaultPin parameter of the function\'s stack (environment variable '
        'IMAGEDEFS_DEFAULT_PIN)), which promises that no tag is written, and UserParameters "verify" can resolve the '
        "digest of a tag only for an image in a private ECR registry (<account>.dkr.ecr.<region>.amazonaws.com) that "
        "the AllowedRegistries parameter of the function's stack (environment variable IMAGEDEFS_ALLOWED_REGISTRIES) "
        "allows, which registry ghcr.io is not: nothing can resolve it. Write the image's digest into the file "
        "(<repository>@sha256:<64 hex digits>, as the ECR source action and `docker inspect --format "
        "'{{index .RepoDigests 0}}'` give it), or pin by tag."
    )


def test_pin_digest_with_verify_never_looks_up_an_image_outside_the_allow_list() -> None:
    # Given an ECR image of another account named by tag alone, and an allow-list of the home account only
    other = "210987654321.dkr.ecr.us-west-2.amazonaws.com"
    settings = Settings.from_environment({"IMAGEDEFS_ALLOWED_REGISTRIES": "123456789012"})
    config = parse_user_parameters('{"pin": "digest", "verify": true}', settings)
    resolver = FakeTagDigests({f"{other}/shop/api:v7": DIGEST_B})
    # When the plan is made, Then ECR is not asked, and the job fails naming the allow-list
    with pytest.raises(ArtifactContentError, match=f"allows, which registry {other} is not: nothing can resolve it"):
        build_plan(
            [detail("Built", {"ImageURI": f"{other}/shop/api:v7"})], ["Out"], config, settings, digest_resolver=resolver
        )
    assert resolver.asked == []


@pytest.mark.parametrize(
    ("resolver", "ending"),
    [
        pytest.param(
            None, ', or set {"verify": true} for the function to resolve the tag\'s digest in ECR (images in ECR only).'
        ),
        pytest.param(FakeTagDigests({}), "."),
    ],
    ids=["without verify", "with verify, outside ECR"],
)
def test_pin_digest_refuses_an_images_entry_by_tag_alone_that_nothing_resolves(
    resolver: FakeTagDigests | None, ending: str
) -> None:
    config = parse_user_parameters('{"pin": "digest", "images": {"web": "ghcr.io/acme/web:v7"}}', SETTINGS)
    with pytest.raises(ConfigurationError) as raised:
        build_plan([], ["Out"], config, SETTINGS, digest_resolver=resolver)
    unresolved = (
        ', and UserParameters "verify" can resolve the digest of a tag only for an image in a private ECR registry '
        "(<account>.dkr.ecr.<region>.amazonaws.com) that the AllowedRegistries parameter of the function's stack "
        "(environment variable IMAGEDEFS_ALLOWED_REGISTRIES) allows, which registry ghcr.io is not: nothing can "
        "resolve it"
        if resolver
        else ""
    )
    assert str(raised.value) == (
        'UserParameters "images" for container "web" is ghcr.io/acme/web:v7, which has a tag but no digest, and the '
        f'job pins by digest (UserParameters "pin"){unresolved}. Give the digest, which ECRBuildAndPublish\'s '
        "#{Namespace.ECRImageDigestId} or the ECR source action's #{Namespace.ImageDigest} holds, for example "
        '{"images": {"web": {"repository": "#{Build.ECRRepositoryName}", "digest": "#{Build.ECRImageDigestId}"}}}'
        f"{ending}"
    )


@pytest.mark.parametrize(("config", "settings"), PINNED_BY_DIGEST)
def test_pin_digest_writes_images_named_as_they_are_in_digest_form(config: ActionConfig, settings: Settings) -> None:
    # Given a short imageDetail.json and a merged entry naming an image by tag and digest, and one by digest alone
    chosen = parse_image_detail("Built", json.dumps({"ImageURI": f"ghcr.io/acme/api:v7@{DIGEST_B}"}).encode())
    merged = MergedDefinitions(
        "Defs",
        (definition("web", f"ghcr.io/acme/web:v1@{DIGEST_A}"), definition("log", f"ghcr.io/acme/log@{DIGEST_B}")),
    )
    # When the job pins by digest
    plan = build_plan([chosen, merged], ["Out"], config, settings)
    # Then no tag is written: each image is <repository>@sha256:..., and the summary says where a tag was left out
    assert json.loads(plan.outputs[0].files[0].content) == [
        {"name": "api", "imageUri": f"ghcr.io/acme/api@{DIGEST_B}"},
        {"name": "web", "imageUri": f"ghcr.io/acme/web@{DIGEST_A}"},
        {"name": "log", "imageUri": f"ghcr.io/acme/log@{DIGEST_B}"},
    ]
    assert plan.summary().startswith(
        f"api → ghcr.io/acme/api@{DIGEST_B} (image chosen upstream: pinned by digest, its tag left out); web → "
    )


def test_an_image_chosen_upstream_keeps_its_digest_and_is_subject_to_the_allow_list() -> None:
    # Given an upstream image by tag and digest, in a registry outside the allow-list
    uri = f"ghcr.io/acme/api:v7@{DIGEST_B}"
    chosen = parse_image_detail("Built", json.dumps({"ImageURI": uri}).encode())
    plan = build_plan([chosen], ["Out"], ActionConfig(), SETTINGS)
    assert plan.output_variables() == {"api_imageUri": uri, "api_tag": "v7", "api_digest": DIGEST_B}
    # Then the allow-list refuses it, naming the artifact, the container and the registry
    settings = Settings.from_environment({"IMAGEDEFS_ALLOWED_REGISTRIES": "123456789012"})
    with pytest.raises(
        ArtifactContentError,
        match=r'^Artifact "Built": image .* for container "api" comes from '
        r"registry ghcr.io, which is not allowed",
    ):
        build_plan([chosen], ["Out"], ActionConfig(), settings)


def test_an_upstream_image_with_an_unusable_repository_name_asks_for_containers() -> None:
    chosen = parse_image_detail("Built", json.dumps({"ImageURI": "ghcr.io/acme/api.v2:7"}).encode())
    with pytest.raises(ConfigurationError, match=r'^Artifact "Built": the container name taken from repository'):
        build_plan([chosen], ["Out"], ActionConfig(), SETTINGS)


def test_containers_pick_entries_of_a_merged_file() -> None:
    merged = MergedDefinitions(
        "Built", (definition("web", "ghcr.io/acme/web:1"), definition("logrouter", "evil.example.com/miner:1"))
    )
    config = parse_user_parameters('{"containers": {"Built": "web"}}', SETTINGS)
    plan = build_plan([merged], ["Out"], config, SETTINGS)
    assert [image.name for image in plan.images] == ["web"]
    assert unpicked_definitions(merged, config) == ["logrouter"]
    assert unpicked_definitions(merged, ActionConfig()) == []


def test_the_allow_list_applies_to_merged_entries_and_digest_pins() -> None:
    settings = Settings.from_environment({"IMAGEDEFS_ALLOWED_REGISTRIES": "123456789012"})
    merged = MergedDefinitions("Built", (definition("sidecar", "ghcr.io/acme/envoy:1.30"),))
    with pytest.raises(
        ArtifactContentError, match=r"registry ghcr.io, which is not allowed \(allowed: 123456789012\)"
    ) as raised:
        build_plan([merged], ["Out"], ActionConfig(), settings)
    assert str(raised.value).startswith('Artifact "Built": image ghcr.io/acme/envoy:1.30 for container "sidecar"')
    assert "AllowedRegistries parameter" in str(raised.value)
    config = parse_user_parameters('{"pin": "digest"}', settings)
    assert build_plan([detail("Src", image_detail())], ["Out"], config, settings).images[0].digest == DIGEST_A


def test_output_variables_carry_each_containers_image_tag_and_digest() -> None:
    # Given one ECR image for two containers and one merged entry pinned by digest only
    merged = MergedDefinitions("Built", (definition("sidecar", f"ghcr.io/acme/envoy@{DIGEST_B}"),))
    config = parse_user_parameters('{"containers": {"Src": ["web", "worker"], "Built": "sidecar"}}', SETTINGS)
    # When the plan is made
    plan = build_plan([detail("Src", image_detail(tags=["v3"])), merged], ["Out"], config, SETTINGS)
    # Then each container has its URI, and its tag and digest where the image has them
    assert plan.output_variables() == {
        "web_imageUri": f"{REGISTRY}/shop/web:v3",
        "web_tag": "v3",
        "web_digest": DIGEST_A,
        "worker_imageUri": f"{REGISTRY}/shop/web:v3",
        "worker_tag": "v3",
        "worker_digest": DIGEST_A,
        "sidecar_imageUri": f"ghcr.io/acme/envoy@{DIGEST_B}",
        "sidecar_digest": DIGEST_B,
    }


def images_with_uris(*uri_lengths: int) -> tuple[ContainerImage, ...]:
    """Images named c000, c001, ... without tag or digest: each takes 13 + its URI's length in variables."""
    return tuple(
        ContainerImage(f"c{i:03}", "ghcr.io/acme/" + "a" * (length - 13), "Built", "ghcr.io")
        for i, length in enumerate(uri_lengths)
    )


def test_output_variables_are_left_out_only_past_122880_bytes_together() -> None:
    # Given 960 containers whose variables ("c000_imageUri" and its URI) take 128 bytes each: exactly the limit
    at_limit = Plan(images=images_with_uris(*[115] * 960), outputs=())
    # And the same with one URI a byte longer
    over = Plan(images=images_with_uris(116, *[115] * 959), outputs=())
    # Then all variables are reported at the limit, and none past it (the deploy needs only the file)
    assert len(at_limit.output_variables()) == 960
    assert sum(len(k) + len(v) for k, v in at_limit.output_variables().items()) == 122_880
    assert over.output_variables() == {}


def test_the_output_files_bytes_are_fixed_indented_json_with_a_final_newline() -> None:
    # Given one image, written in each format
    sources = [detail("Src", image_detail(tags=["v3"]))]
    uri = f"{REGISTRY}/shop/web:v3"
    # When the plan renders the files
    definitions = build_plan(sources, ["Out"], ActionConfig(), SETTINGS).outputs[0]
    blue_green = build_plan(sources, ["Out"], parse_user_parameters('{"format": "imagedetail"}', SETTINGS), SETTINGS)
    # Then the bytes are exactly these (a rerun of the job writes the same bytes)
    assert definitions.files == (
        OutputFile(
            "imagedefinitions.json", f'[\n  {{\n    "name": "web",\n    "imageUri": "{uri}"\n  }}\n]\n'.encode()
        ),
    )
    assert blue_green.outputs[0].files == (OutputFile("imageDetail.json", f'{{\n  "ImageURI": "{uri}"\n}}\n'.encode()),)


def test_an_untagged_image_pinned_by_digest_needs_no_note() -> None:
    config = parse_user_parameters('{"pin": "digest"}', SETTINGS)
    plan = build_plan([detail("Src", image_detail(tags=[]))], ["Out"], config, SETTINGS)
    assert plan.summary() == f"web → {REGISTRY}/shop/web@{DIGEST_A}"


def test_an_untagged_image_and_a_tag_pattern_say_there_are_no_tags() -> None:
    config = ActionConfig(tag_pattern=TagPattern.compile("v.*", 'UserParameters "tag"'))
    with pytest.raises(ArtifactContentError, match=r'^Artifact "Src": no tag of image .* its tags are none\. Push'):
        build_plan([detail("Src", image_detail(tags=[]))], ["Out"], config, SETTINGS)


def test_two_sources_for_one_container_name_both_artifacts() -> None:
    # Given two ECR sources whose repositories end in the same name
    sources = [detail("Shop", image_detail("shop/web")), detail("Blog", image_detail("blog/web", DIGEST_B))]
    # Then the container, both artifacts and the key that fixes it are named
    with pytest.raises(ConfigurationError) as raised:
        build_plan(sources, ["Out"], ActionConfig(), SETTINGS)
    assert 'Container "web" would get an image from both artifact "Shop" and artifact "Blog"' in str(raised.value)
    assert 'UserParameters "containers", for example {"containers":' in str(raised.value)


@pytest.mark.parametrize(
    ("registry", "function_region", "allowed"),
    [
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "us-west-2", True),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "us-west-2", False),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-northwest-1", True),
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "cn-north-1", False),
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com.cn", "cn-north-1", False),  # no such host
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com", "cn-north-1", False),  # no such host
        ("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", "us-west-2", False),
        ("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", "us-gov-east-1", True),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "", False),  # the command line without a region
    ],
)
def test_an_account_entry_matches_registries_of_the_functions_partition_only(
    registry: str, function_region: str, allowed: bool
) -> None:
    # Given the allow-list entry "123456789012" in a function running in function_region
    settings = Settings.from_environment(
        {"IMAGEDEFS_ALLOWED_REGISTRIES": "123456789012", "AWS_REGION": function_region}
    )
    # Then only the registries of that account in the function's own partition are allowed
    assert settings.registry_allowed(registry) is allowed


def test_a_registry_of_another_partition_is_allowed_by_naming_its_host() -> None:
    china = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
    settings = Settings.from_environment(
        {"IMAGEDEFS_ALLOWED_REGISTRIES": f"123456789012,{china}", "AWS_REGION": "us-east-1"}
    )
    assert settings.registry_allowed(china)


@pytest.mark.parametrize(
    ("containers", "names"),
    [
        ({"WebImage": "web", "ApiImage": "WEB"}, ('"web"', '"WEB"')),
        ({"WebImage": ["web", "Web"]}, ('"web"', '"Web"')),
    ],
)
def test_container_names_that_differ_only_in_case_are_a_configuration_error(
    containers: dict[str, Any], names: tuple[str, str]
) -> None:
    config = parse_user_parameters(json.dumps({"containers": containers}), SETTINGS)
    sources = [detail("WebImage", image_detail("shop/web")), detail("ApiImage", image_detail("shop/api", DIGEST_B))]
    sources = [source for source in sources if source.artifact in containers]
    with pytest.raises(ConfigurationError) as raised:
        build_plan(sources, ["Out"], config, SETTINGS)
    assert str(raised.value) == (
        f"Containers {names[0]} and {names[1]} differ only in case: name each container exactly as the task "
        "definition does (ECS compares names exactly), and only once."
    )


class RecordingNotes:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def inputs_ignored(self, artifacts: list[str]) -> None:
        self.events.append(f"ignored {artifacts}")

    def definitions_left_out(self, artifact: str, containers: list[str]) -> None:
        self.events.append(f"left out of {artifact}: {containers}")


def test_the_flow_notes_ignored_inputs_before_reading_and_left_out_entries_after() -> None:
    # Given three inputs, of which containers names two, one a merged imagedefinitions.json with an entry not picked
    config = parse_user_parameters('{"containers": {"Src": "web", "Merged": "api"}}', SETTINGS)
    merged = MergedDefinitions(
        "Merged", (definition("api", f"{REGISTRY}/shop/api:v2"), definition("sidecar", f"{REGISTRY}/shop/s:1"))
    )
    sources = {"Src": detail("Src", image_detail()), "Merged": merged}
    events: list[str] = []

    def read(name: str) -> Any:
        events.append(f"read {name}")
        return sources[name]

    def no_service(config: ActionConfig) -> Any:
        raise AssertionError("an imagedefinitions job reads no service")

    # When the one flow runs
    plan = plan_job(config, SETTINGS, ["Src", "Other", "Merged"], ["Out"], read, no_service, RecordingNotes(events))

    # Then it tells what it ignores when it knows it, reads only what it uses, and plans the picked containers
    assert events == ["ignored ['Other']", "read Src", "read Merged", "left out of Merged: ['sidecar']"]
    assert [image.name for image in plan.images] == ["web", "api"]


def test_the_flow_fetches_the_blue_green_service_for_format_codedeploy_only() -> None:
    asked: list[ActionConfig] = []

    def service(config: ActionConfig) -> Any:
        asked.append(config)
        raise ConfigurationError("no service here")

    for parameters in ('{"format": "imagedetail"}', "{}"):
        plan_job(
            parse_user_parameters(parameters, SETTINGS),
            SETTINGS,
            ["Src"],
            ["Out"],
            lambda _: detail("Src", image_detail()),
            service,
        )
    assert asked == []
    codedeploy = parse_user_parameters('{"format": "codedeploy", "service": "prod/web"}', SETTINGS)
    with pytest.raises(ConfigurationError, match="no service here"):
        plan_job(codedeploy, SETTINGS, ["Src"], ["Out"], lambda _: detail("Src", image_detail()), service)
    assert asked == [codedeploy]


TASK_DEFINITION_ARN = "arn:aws:ecs:us-west-2:123456789012:task-definition/shop:7"


def live(*containers: str, strategy: str | None = None) -> LiveService:
    return LiveService(
        service="prod/shop",
        task_definition=TASK_DEFINITION_ARN,
        described_as=f'the task definition {TASK_DEFINITION_ARN} of ECS service "prod/shop"',
        containers=containers,
        native_strategy=strategy,
    )


ROLLING = parse_user_parameters(
    '{"service": "prod/shop", "containers": {"Web": "web", "Api": ["api", "worker"]}}', SETTINGS
)
ROLLING_SOURCES = [
    detail("Web", image_detail("shop/web", DIGEST_A, ["v1"])),
    detail("Api", image_detail("shop/api", DIGEST_B, ["v2"])),
]


@pytest.mark.parametrize(
    ("strategy", "note"),
    [
        (None, 'containers checked against ECS service "prod/shop" (task definition shop:7)'),
        (
            "LINEAR",
            'containers checked against ECS service "prod/shop" (task definition shop:7), which ECS deploys with its '
            "LINEAR strategy",
        ),
    ],
)
def test_a_rolling_job_whose_containers_the_service_has_says_it_checked_them(strategy: str | None, note: str) -> None:
    # Given a service whose current task definition has every container the job writes, and one more
    service = live("log-router", "worker", "api", "web", strategy=strategy)

    # When the job is planned against it
    plan = build_plan(ROLLING_SOURCES, ["Out"], ROLLING, SETTINGS, live_service=service)

    # Then the file is the one without the check, and the summary says what was checked, after the images
    assert plan.outputs == build_plan(ROLLING_SOURCES, ["Out"], ROLLING, SETTINGS).outputs
    assert plan.summary() == (
        f"web → {REGISTRY}/shop/web:v1; api → {REGISTRY}/shop/api:v2; worker → {REGISTRY}/shop/api:v2; {note}"
    )


def test_every_container_the_service_lacks_is_refused_with_the_containers_it_has() -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_plan(ROLLING_SOURCES, ["Out"], ROLLING, SETTINGS, live_service=live("web", "log-router"))

    assert str(raised.value) == (
        'The job writes container(s) "api", "worker" into the image definitions, which the task definition '
        f'{TASK_DEFINITION_ARN} of ECS service "prod/shop" does not have: the ECS deploy action, which makes the new '
        'revision from that task definition, would fail with "The AWS ECS container api does not exist". Its '
        'containers are "web", "log-router": name those with UserParameters "containers", or set UserParameters '
        '"service" to the service this pipeline deploys.'
    )


def test_names_are_compared_exactly_and_a_container_given_in_images_is_named_there() -> None:
    # Given a container from an artifact whose name differs in case, and one given in "images"
    config = parse_user_parameters(
        json.dumps({"service": "prod/shop", "images": {"Web": f"{REGISTRY}/shop/web:v1"}}), SETTINGS
    )
    sources = [detail("Src", image_detail("shop/api", DIGEST_B, ["v2"]))]

    with pytest.raises(ConfigurationError) as raised:
        build_plan(sources, ["Out"], config, SETTINGS, live_service=live("web"))

    assert 'container(s) "api", "Web" into' in str(raised.value)
    assert 'name those with UserParameters "containers" or UserParameters "images", or set' in str(raised.value)


def test_only_the_containers_written_are_checked() -> None:
    # Given "outputs" that writes the web container only (the others go nowhere)
    config = parse_user_parameters(
        json.dumps({"service": "prod/shop", "containers": {"Web": "web"}, "outputs": {"Out": ["web"]}}), SETTINGS
    )

    plan = build_plan(ROLLING_SOURCES[:1], ["Out"], config, SETTINGS, live_service=live("web"))

    assert plan.outputs[0].containers == ("web",)


def test_the_flow_reads_the_live_service_for_a_rolling_job_that_names_one() -> None:
    asked: list[EcsService] = []

    def service(named: EcsService) -> LiveService:
        asked.append(named)
        return live("web")

    def blue_green(config: ActionConfig) -> Any:
        raise AssertionError("a rolling job renders no blue/green files")

    read = lambda _: detail("Src", image_detail("shop/web"))  # noqa: E731 - one line
    plain = plan_job(
        parse_user_parameters("{}", SETTINGS), SETTINGS, ["Src"], ["Out"], read, blue_green, live_service=service
    )
    assert asked == []
    assert plain.notes == ()
    checked = plan_job(
        parse_user_parameters('{"service": "prod/shop"}', SETTINGS),
        SETTINGS,
        ["Src"],
        ["Out"],
        read,
        blue_green,
        live_service=service,
    )
    assert asked == [EcsService("prod", "shop")]
    assert checked.notes == ('containers checked against ECS service "prod/shop" (task definition shop:7)',)
