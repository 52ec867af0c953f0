"""imageDetail.json and imagedefinitions.json: what the action accepts, and what it says about the rest."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from imagedefs.errors import ArtifactContentError
from imagedefs.formats.image_files import parse_image_definitions, parse_image_detail, source_from_file
from imagedefs.model import ChosenImage, ImageDetail
from imagedefs.references import is_valid_container_name, parse_reference
from tests.samples import DIGEST_A, DIGEST_B, REGISTRY, documented_image_detail, image_detail


def test_the_documented_ecr_source_output_is_read() -> None:
    document = documented_image_detail()

    detail = parse_image_detail("SourceArtifact", json.dumps(document).encode())

    assert isinstance(detail, ImageDetail)
    assert detail.tags == ("latest",)
    assert detail.reference.registry == "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    assert detail.reference.repository == "dk-image-repo"
    assert detail.digest == document["ImageDigest"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ImageURI": None}, 'field "ImageURI" must be a non-empty string, not null'),
        ({"ImageURI": f"{REGISTRY}/shop/web"}, f'field "ImageURI" is "{REGISTRY}/shop/web", which is not'),
        ({"ImageURI": f"shop/web@{DIGEST_A}"}, "digest form <registry>/<repository>@sha256:<64 hex digits> as the ECR"),
        (
            {"ImageURI": f"{REGISTRY}/Shop/web@{DIGEST_A}"},
            'source fields). Use the output artifact of an ECR source action, or write {"ImageURI": ...} alone.',
        ),
        (
            {"ImageDigest": "sha256:ABC"},
            '"ImageDigest" is "sha256:ABC"; it must be "sha256:" followed by 64 lowercase hex',
        ),
        ({"ImageDigest": 5}, 'field "ImageDigest" must be a non-empty string'),
        ({"ImageDigest": DIGEST_B}, f'"ImageDigest" ({DIGEST_B}) differs from the digest in "ImageURI" ({DIGEST_A})'),
        ({"ImageDigest": DIGEST_B}, "Rerun the ECR source action."),
        ({"RepositoryName": "shop/api"}, '"RepositoryName" ("shop/api") is not the repository of "ImageURI"'),
        ({"RepositoryName": "shop/api"}, "the file does not describe one image. Rerun the ECR source action."),
        ({"RepositoryName": ""}, 'field "RepositoryName" must be a non-empty string, not str ""'),
        ({"RegistryId": "210987654321"}, "Rerun the ECR source action"),
        ({"ImageTags": "latest"}, '"ImageTags" must be a list of tags'),
        ({"ImageTags": ["-bad"]}, '"ImageTags" holds "-bad", which is not a valid Docker tag'),
    ],
)
def test_malformed_fields_are_named(change: dict[str, Any], message: str) -> None:
    document = {**image_detail(), **change}
    with pytest.raises(ArtifactContentError) as raised:
        parse_image_detail("WebImage", json.dumps(document).encode())
    assert str(raised.value).startswith('Artifact "WebImage", file imageDetail.json: ')
    assert message in str(raised.value)
    if message.endswith("."):  # the advice that closes the message
        assert str(raised.value).endswith(message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"a": }', "not valid JSON (Expecting value at line 1 column 7)"),
        (b" " * (100 * 1024 + 1), "larger than 100 KB"),
    ],
)
def test_unreadable_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ArtifactContentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_image_detail("WebImage", data)


def test_imagedefinitions_entries_are_validated() -> None:
    good = [{"name": "web", "imageUri": "ghcr.io/acme/web:1.0"}]
    assert parse_image_definitions("Built", json.dumps(good).encode())[0].image_uri == "ghcr.io/acme/web:1.0"
    with pytest.raises(ArtifactContentError, match=r'entry 0: field "imageUri" is "ghcr.io/Acme/web:1.0"'):
        parse_image_definitions("Built", json.dumps([{"name": "web", "imageUri": "ghcr.io/Acme/web:1.0"}]).encode())
    with pytest.raises(ArtifactContentError, match="non-empty JSON array"):
        parse_image_definitions("Built", b"[]")


@pytest.mark.parametrize(
    ("reference", "registry", "repository", "tag", "digest"),
    [
        (f"{REGISTRY}/shop/web:v1", REGISTRY, "shop/web", "v1", None),
        (f"{REGISTRY}/shop/web@{DIGEST_A}", REGISTRY, "shop/web", None, DIGEST_A),
        ("localhost:5000/web:1", "localhost:5000", "web", "1", None),
        ("nginx:1.27", "docker.io", "nginx", "1.27", None),
        ("library/nginx", "docker.io", "library/nginx", None, None),
        (f"acme/web:2@{DIGEST_A}", "docker.io", "acme/web", "2", DIGEST_A),
        ("localhost/web:1", "localhost", "web", "1", None),
        (f"ghcr.io/{'a' * 247}:{'t' * 128}@{DIGEST_A}", "ghcr.io", "a" * 247, "t" * 128, DIGEST_A),
    ],
)
def test_references_follow_dockers_grammar(
    reference: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    parsed = parse_reference(reference)
    assert parsed is not None
    assert (parsed.registry, parsed.repository, parsed.tag, parsed.digest) == (registry, repository, tag, digest)
    # Only a first component that looks like a host names a registry
    assert parsed.explicit_registry is (registry != "docker.io")


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "Shop/web",
        "shop//web",
        "shop/web:",
        "shop/web:-x",
        "shop/web@sha256:abc",
        "shop/web:" + "t" * 129,
        "a b",
        f"ghcr.io/{'a' * 248}:{'t' * 128}@{DIGEST_A}",  # 457 characters: one more than Docker accepts
    ],
)
def test_invalid_references_are_refused(reference: str) -> None:
    assert parse_reference(reference) is None


def test_container_names_follow_ecs_rules() -> None:
    assert is_valid_container_name("web_app-1")
    assert not is_valid_container_name("web.app")
    assert not is_valid_container_name("")
    assert not is_valid_container_name("x" * 256)


@pytest.mark.parametrize(
    "image_uri",
    [
        f"{REGISTRY}/shop/web:v1.2",
        f"{REGISTRY}/shop/web@{DIGEST_A}",
        f"{REGISTRY}/shop/web:v1.2@{DIGEST_A}",
        "nginx:1.27",
    ],
)
def test_an_imagedetail_with_only_imageuri_is_an_image_chosen_upstream(image_uri: str) -> None:
    chosen = parse_image_detail("Built", json.dumps({"ImageURI": image_uri}).encode())
    assert isinstance(chosen, ChosenImage)
    assert (chosen.artifact, chosen.image_uri) == ("Built", image_uri)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"ImageURI": f"{REGISTRY}/shop/web"}, "not an image reference with a tag or a digest"),
        ({"ImageURI": f"{REGISTRY}/shop/web:v1-\u00e9"}, "not an image reference with a tag or a digest"),
        ({"ImageURI": f"{REGISTRY}/shop/web:v1", "ImageDigest": DIGEST_A}, "not an image in digest form"),
        ({**image_detail(), "RegistryId": "210987654321"}, '"RegistryId" ("210987654321") is not the account'),
        ({**image_detail(), "RegistryId": 1234}, 'Artifact "WebImage", file imageDetail.json: field "RegistryId" must'),
        ({k: v for k, v in image_detail().items() if k != "ImageTags"}, 'field "ImageTags" is missing'),
    ],
)
def test_a_file_with_ecr_fields_must_agree_with_them(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ArtifactContentError, match=re.escape(message)):
        parse_image_detail("WebImage", json.dumps(document).encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'[{"name": "api", "imageUri": "a/b:1"}, {"name": "web", "imageUri": "a/b:1"}, '
            b'{"name": "web", "imageUri": "a/c:1"}]',
            (
                'Artifact "Built", file imagedefinitions.json, entry 2: container "web" is also entry 1',
                "Give each container one entry.",
            ),
        ),
        (
            '[{"name": "w\u00e9b", "imageUri": "a/b:1"}]'.encode(),
            ('entry 0: field "name" is "w\\u00e9b"', "(1-255 letters, digits, hyphens and underscores)."),
        ),
        (
            '[{"name": "web", "imageUri": "a/b:v1-\u00e9"}]'.encode(),
            ('field "imageUri" is "a/b:v1-\\u00e9"', "<registry>/<repository>[:<tag>][@sha256:<digest>]."),
        ),
        (b'["web"]', 'Artifact "Built", file imagedefinitions.json, entry 0: must be an object {"name"'),
        (b'[{"imageUri": "a/b:1"}]', 'Artifact "Built", file imagedefinitions.json, entry 0: field "name" is missing'),
        (b'[{"name": "web"}]', 'Artifact "Built", file imagedefinitions.json, entry 0: field "imageUri" is missing'),
        (b'[{"name": "web", "imageUri": "a/b:1", "imageUri": "evil/miner:1"}]', 'key "imageUri" appears more'),
    ],
)
def test_imagedefinitions_are_refused_when_ambiguous_or_not_ascii(data: bytes, message: str | tuple[str, ...]) -> None:
    with pytest.raises(ArtifactContentError) as raised:
        parse_image_definitions("Built", data)
    parts = (message,) if isinstance(message, str) else message
    for part in parts:
        assert part in str(raised.value)
    if parts[-1].endswith("."):  # the rule or advice that closes the message
        assert str(raised.value).endswith(parts[-1])


def test_a_utf8_byte_order_mark_is_allowed() -> None:
    parsed = parse_image_detail("Web", b"\xef\xbb\xbf" + json.dumps(image_detail()).encode())
    assert isinstance(parsed, ImageDetail)
    assert (parsed.image_uri, parsed.tags) == (image_detail()["ImageURI"], ("latest",))


def test_a_missing_image_tags_field_is_said_to_be_missing() -> None:
    document = image_detail()
    del document["ImageTags"]

    with pytest.raises(ArtifactContentError) as raised:
        parse_image_detail("WebImage", json.dumps(document).encode())

    assert str(raised.value) == (
        'Artifact "WebImage", file imageDetail.json: field "ImageTags" is missing (a list of tags; it may be empty).'
    )


def test_an_upstream_image_without_tag_or_digest_is_refused_naming_it() -> None:
    with pytest.raises(ArtifactContentError) as raised:
        parse_image_detail("Built", b'{"ImageURI": "ghcr.io/acme/web"}')
    assert 'Artifact "Built", file imageDetail.json: field "ImageURI" is "ghcr.io/acme/web"' in str(raised.value)


def test_a_long_wrong_value_is_shown_cut_to_80_characters() -> None:
    # Given a field holding a long value of the wrong kind
    document = {**image_detail(), "ImageTags": "v" * 200}
    # When the file is read; Then the message shows the kind and the value's first 80 characters, no more
    with pytest.raises(ArtifactContentError) as raised:
        parse_image_detail("Web", json.dumps(document).encode())
    assert f'"ImageTags" must be a list of tags, not str "{"v" * 79} (a list' in str(raised.value)


def test_a_file_of_100_kb_is_read_and_a_byte_more_is_refused_naming_it() -> None:
    text = json.dumps(image_detail()).encode()
    exactly = text[:-1] + b" " * (102_400 - len(text)) + b"}"
    parsed = parse_image_detail("Web", exactly)
    assert isinstance(parsed, ImageDetail)
    assert parsed.repository_name == "shop/web"
    with pytest.raises(
        ArtifactContentError, match=r'^Artifact "Web", file imageDetail.json: the file is larger than 100 KB'
    ):
        parse_image_detail("Web", exactly + b" ")


def test_an_invalid_tag_is_refused_with_the_rule() -> None:
    with pytest.raises(ArtifactContentError) as raised:
        parse_image_detail("Web", json.dumps({**image_detail(), "ImageTags": ["ok", "t" * 129]}).encode())
    assert f'"ImageTags" holds "{"t" * 129}", which is not a valid Docker tag' in str(raised.value)
    assert str(raised.value).endswith("at most 128 characters, not starting with . or -).")


@pytest.mark.parametrize(
    ("file_name", "document", "where"),
    [
        ("imageDetail.json", {**image_detail(), "ImageTags": ["\ud800"]}, '"ImageTags[0]"'),
        ("imageDetail.json", {"ImageURI": "registry/repo:v\udc001"}, '"ImageURI"'),
        ("imageDetail.json", {**image_detail(), "Extra\ud800": 1}, "a key of the top-level object"),
        ("imagedefinitions.json", [{"name": "web\udfff", "imageUri": "repo:tag"}], '"[0].name"'),
    ],
)
def test_a_string_with_an_unpaired_surrogate_is_refused_naming_where(file_name: str, document: Any, where: str) -> None:
    # Given a file whose JSON escapes a lone surrogate (json.dumps writes "\ud800")
    with pytest.raises(ArtifactContentError) as raised:
        source_from_file("WebImage", file_name, json.dumps(document).encode())
    # Then the artifact, file and place are named, in a message that encodes
    message = str(raised.value)
    assert message.startswith(f'Artifact "WebImage", file {file_name}: the file is not valid Unicode: ')
    assert where in message
    message.encode("utf-8")
