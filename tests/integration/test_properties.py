"""Property-based: whatever the artifacts and UserParameters hold, the job ends in exactly one valid report.

Invariants, for any imageDetail.json content, UserParameters and zip layout, hostile ones included
(compression methods, lying sizes and end records, duplicate and NUL names, deep nesting, long numbers,
duplicate keys, other encodings, zips that directory and streaming readers read differently):
- the handler returns normally and CodePipeline receives exactly one result, valid against its API model;
- a success leaves valid output files: UTF-8 JSON, at most 100 KB, unique valid container names, valid images;
- a hostile input is never an "Unexpected error": the failure names the artifact it refused.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import zipfile
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from devtools.local_aws import LocalAws, load_event, unzip_files, zip_files
from imagedefs.references import is_valid_container_name, parse_reference
from tests.hostile import (
    Entry,
    build_zip,
    duplicate_members,
    job_reading,
    renamed,
    with_declared_size,
    with_end_record,
    with_method_number,
    zip_with_method,
)
from tests.integration.conftest import Invoke
from tests.samples import REGISTRY

HEX = "0123456789abcdef"
path_component = st.from_regex(r"[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,4})?", fullmatch=True)
repository = st.lists(path_component, min_size=1, max_size=3).map("/".join)
digest = st.text(HEX, min_size=64, max_size=64).map(lambda hexes: f"sha256:{hexes}")
tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
# `make mutation` runs these once per mutant, and asks for fewer examples (IMAGEDEFS_TEST_EXAMPLES).
EXAMPLES_OVERRIDE = os.environ.get("IMAGEDEFS_TEST_EXAMPLES")


def examples(default: int) -> int:
    return int(EXAMPLES_OVERRIDE) if EXAMPLES_OVERRIDE else default


junk = st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(max_size=5), max_size=3))


@st.composite
def ecr_image_details(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed imageDetail.json documents, as an ECR source action writes them."""
    repo, image_digest = draw(repository), draw(digest)
    return {
        "ImageDigest": image_digest,
        "RepositoryName": repo,
        "ImageURI": f"{draw(st.sampled_from([REGISTRY, 'ghcr.io', 'localhost:5000']))}/{repo}@{image_digest}",
        "ImageTags": draw(st.lists(tag, max_size=4)),
        "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019",
    }


@st.composite
def image_details(draw: st.DrawFn) -> Any:
    """Mostly well-formed imageDetail.json documents, with fields dropped, broken or replaced by junk."""
    document = draw(ecr_image_details())
    if draw(st.integers(0, 3)) == 3:
        for field in draw(st.lists(st.sampled_from(sorted(document)), min_size=1, max_size=2, unique=True)):
            if draw(st.booleans()):
                del document[field]
            else:
                document[field] = draw(junk)
    return draw(junk) if draw(st.integers(0, 9)) == 9 else document


def valid_user_parameters(artifacts: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "containers": st.lists(st.sampled_from(["web", "api", "worker"]), min_size=2, max_size=2, unique=True).map(
                lambda names: dict(zip(artifacts, names, strict=True))
            ),
            "pin": st.sampled_from(["tag", "digest"]),
            "tag": st.sampled_from(["v.*", ".*", "[a-z]+"]),
            "file": st.sampled_from(["imagedefinitions.json", "out.json"]),
        },
    )


def user_parameters(artifacts: list[str]) -> st.SearchStrategy[str | None]:
    valid = valid_user_parameters(artifacts)
    containers = st.dictionaries(
        st.sampled_from([*artifacts, "Unknown"]), st.one_of(tag, st.text(max_size=10)), min_size=1, max_size=3
    )
    parameters = st.fixed_dictionaries(
        {},
        optional={
            "containers": containers,
            "pin": st.sampled_from(["tag", "digest", "sha"]),
            "tag": st.sampled_from(["v.*", "latest", "[", ".*"]),
            "outputs": st.dictionaries(st.sampled_from(["ImageDefinitions", "Other"]), st.lists(tag, max_size=2)),
            "format": st.sampled_from(["imagedefinitions", "imagedetail", "yaml"]),
            "file": st.sampled_from(["out.json", "../x", ""]),
            "extra": junk,
        },
    )
    # Mostly valid: a job that fails early says little about the rest of the path.
    return st.integers(0, 9).flatmap(
        lambda roll: (
            st.none()
            if roll < 3
            else valid.map(json.dumps)
            if roll < 7
            else parameters.map(json.dumps)
            if roll < 9
            else st.text(max_size=40)
        )
    )


def artifact_bodies(detail: Any) -> st.SearchStrategy[bytes]:
    as_json = json.dumps(detail).encode()
    layouts = [
        zip_files({"imageDetail.json": as_json, "source/app.py": "print()"}),
        zip_files({"nested/imageDetail.json": as_json, "README": "x"}),
        zip_files({"imagedefinitions.json": as_json}),
        zip_files({"imageDetail.json": b"\xff\xfe" + as_json}),
    ]
    return st.integers(0, 9).flatmap(
        lambda roll: (
            st.just(zip_files({"imageDetail.json": as_json}))
            if roll < 5
            else st.binary(max_size=64)
            if roll == 9
            else st.sampled_from(layouts)
        )
    )


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_job_ends_in_exactly_one_valid_report(aws: LocalAws, invoke: Invoke, data: st.DataObject) -> None:
    job_event = load_event("two-ecr-sources.json")
    job = job_event["CodePipeline.job"]
    job["id"] = str(uuid.uuid4())  # the double closes each job once reported
    configuration = job["data"]["actionConfiguration"]["configuration"]
    parameters = data.draw(user_parameters(["WebImage", "ApiImage"]))
    if parameters is None:
        configuration.pop("UserParameters")
    else:
        configuration["UserParameters"] = parameters
    aws.seed(job_event, artifacts={})
    for artifact in job["data"]["inputArtifacts"] + job["data"]["outputArtifacts"]:
        artifact["location"]["s3Location"]["objectKey"] = f"props/{uuid.uuid4()}"
    for artifact in job["data"]["inputArtifacts"]:
        location = artifact["location"]["s3Location"]
        aws.put(location["bucketName"], location["objectKey"], data.draw(artifact_bodies(data.draw(image_details()))))

    result = invoke(job_event)

    assert len(result.reports) == 1, "exactly one report per job"
    assert result.report.job_id == job["id"]
    assert not aws.double.rejected
    event("succeeded" if result.report.succeeded else result.failure["type"])
    if result.report.succeeded:
        _assert_valid_outputs(aws, job_event)


def buildspec_outcome(details: dict[str, dict[str, Any]], parameters: dict[str, Any]) -> tuple[str, Any]:
    """What the job must end in, computed apart from the function: the classic buildspec's recipe
    (repository = ImageURI up to "@", tag = ImageTags[0]) with the documented options on top.

    ("succeeded", (file name, entries)), or ("failed", failure type).
    """
    entries = []
    for artifact, detail in details.items():
        tags = detail["ImageTags"]
        if "tag" in parameters:
            tags = [tag for tag in tags if re.fullmatch(parameters["tag"], tag)]
            if not tags:
                return "failed", "JobFailed"
        repository = detail["ImageURI"].split("@")[0]
        by_digest = parameters.get("pin") == "digest" or not tags
        image = detail["ImageURI"] if by_digest else f"{repository}:{tags[0]}"
        name = parameters["containers"][artifact] if "containers" in parameters else repository.split("/")[-1]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", name):
            return "failed", "ConfigurationError"
        entries.append({"name": name, "imageUri": image})
    if len({entry["name"] for entry in entries}) < len(entries):
        return "failed", "ConfigurationError"
    return "succeeded", (parameters.get("file", "imagedefinitions.json"), entries)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_plain_ecr_sources_give_what_the_buildspec_recipe_gives(
    aws: LocalAws, invoke: Invoke, data: st.DataObject
) -> None:
    # Given two ECR source artifacts as the ECR source action zips them, and valid UserParameters (or none)
    job_event = load_event("two-ecr-sources.json")
    job = job_event["CodePipeline.job"]
    job["id"] = str(uuid.uuid4())
    parameters = data.draw(st.one_of(st.just({}), valid_user_parameters(["WebImage", "ApiImage"])))
    job["data"]["actionConfiguration"]["configuration"]["UserParameters"] = json.dumps(parameters)
    aws.seed(job_event, artifacts={})
    details = {}
    for artifact in job["data"]["inputArtifacts"]:
        location = artifact["location"]["s3Location"]
        location["objectKey"] = f"plain/{uuid.uuid4()}"
        detail = details[artifact["name"]] = data.draw(ecr_image_details())
        aws.put(location["bucketName"], location["objectKey"], zip_files({"imageDetail.json": detail}))
    job["data"]["outputArtifacts"][0]["location"]["s3Location"]["objectKey"] = f"plain/{uuid.uuid4()}"

    # When the function runs the job
    result = invoke(job_event)

    # Then it ends as the recipe says: the same file, or a failure of the same type
    outcome, expected = buildspec_outcome(details, parameters)
    event(outcome if outcome == "succeeded" else expected)
    if outcome == "failed":
        assert result.failure["type"] == expected
        return
    assert result.report.succeeded, result.report.request
    file_name, entries = expected
    assert {name: json.loads(content) for name, content in aws.output_files(job_event).items()} == {file_name: entries}


def hostile_json(detail: Any) -> st.SearchStrategy[bytes]:
    text = json.dumps(detail)
    return st.one_of(
        st.integers(1, 30_000).map(lambda depth: b"[" * depth + b"]" * depth),
        st.integers(1, 6_000).map(lambda digits: f'{{"ImageURI": {"7" * digits}}}'.encode()),
        st.sampled_from(["ImageURI", "ImageTags", "ImageDigest"]).map(
            lambda key: (text[:-1] + f', "{key}": "x"}}').encode()
        ),
        st.text(max_size=12).map(lambda tag: json.dumps({**detail, "ImageTags": [tag]}, ensure_ascii=False).encode())
        if isinstance(detail, dict)
        else st.just(text.encode()),
        st.sampled_from(["utf-16", "utf-8-sig", "latin-1"]).map(lambda codec: text.encode(codec, "replace")),
        st.just(b'{"ImageURI": NaN}'),
    )


@st.composite
def hostile_zips(draw: st.DrawFn, content: bytes) -> bytes:
    """An artifact zip whose layout or headers are hostile."""
    name = draw(st.sampled_from(["imageDetail.json", "imagedefinitions.json"]))
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
    body = zip_with_method(name, content, method)
    tampering = draw(st.integers(0, 6))
    if tampering == 1:
        body = with_declared_size(body, draw(st.integers(0, 2**32 - 1)))
    elif tampering == 2:
        body = with_end_record(body, draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 2**32 - 1)))
    elif tampering == 3:
        body = with_method_number(body, draw(st.sampled_from([1, 6, 9, 12, 14, 93, 98, 99])))
    elif tampering == 4:
        body = duplicate_members(name, content, draw(st.binary(max_size=40)))
    elif tampering == 5:
        body = renamed(body, name.encode(), name[:-1].encode() + draw(st.sampled_from([b"\0", b"/", b"\\"])))
    elif tampering == 6:
        body = draw(ambiguous_zips(name, content))
    return body


@st.composite
def ambiguous_zips(draw: st.DrawFn, name: str, content: bytes) -> bytes:
    """Zips that a directory reader and a streaming reader read differently (or, by chance, the same)."""
    other = draw(st.binary(max_size=40))
    alias = draw(st.sampled_from(["./", "/", "a//", "a\\..\\", "../", "C:"])) + name
    descriptor = draw(st.booleans())
    entry = Entry(name, content, method=draw(st.sampled_from([0, 8])), descriptor=descriptor)
    hidden = Entry(name, other, descriptor=descriptor)

    def stub_before(entry: Entry) -> bytes:
        # Prepended bytes that the directory's offsets count, or not, or in part (never more than the stub).
        stub = draw(st.binary(min_size=1, max_size=30))
        return build_zip([stub, entry], offsets_from=draw(st.integers(0, len(stub))))

    layouts = [
        lambda: build_zip([entry, Entry(alias, other)]),
        lambda: build_zip([entry, Entry(name.upper(), other)]),
        lambda: build_zip([entry, Entry(name, other, listed=False)]),
        lambda: build_zip([Entry("bundle", hidden.local_record(), method=0)], directory=[(hidden, 36)]),
        lambda: zip_files({name: other}) + zip_files({name: content}),
        lambda: stub_before(entry),
        lambda: build_zip([entry, draw(st.binary(min_size=1, max_size=30))]),
        lambda: build_zip(
            [Entry("a", b"1", descriptor=True, data=Entry("a", b"1").stored_data + hidden.local_record()), entry]
        ),
        lambda: build_zip([Entry(name, content, local={draw(st.sampled_from(["flags", "method", "crc", "size"])): 1})]),
    ]
    return draw(st.sampled_from(layouts))()


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_hostile_artifact_ends_in_exactly_one_report_naming_it(
    aws: LocalAws, invoke: Invoke, data: st.DataObject
) -> None:
    detail = data.draw(image_details())
    content = data.draw(st.one_of(hostile_json(detail), st.just(json.dumps(detail).encode())))
    job_event = job_reading(aws, data.draw(hostile_zips(content)))

    result = invoke(job_event)

    assert len(result.reports) == 1, "exactly one report per job"
    assert not aws.double.rejected
    event("succeeded" if result.report.succeeded else result.failure["type"])
    if not result.report.succeeded:
        assert "Unexpected error" not in result.failure["message"]
        assert 'Artifact "SourceArtifact"' in result.failure["message"]


def _assert_valid_outputs(aws: LocalAws, event: dict[str, Any]) -> None:
    for index, _ in enumerate(event["CodePipeline.job"]["data"]["outputArtifacts"]):
        (content,) = unzip_files(aws.output_object(event, index)["Body"].read()).values()
        assert len(content) <= 100 * 1024
        document = json.loads(content.decode("utf-8"))
        entries = (
            document if isinstance(document, list) else [{"name": "imagedetail", "imageUri": document["ImageURI"]}]
        )
        names = [entry["name"] for entry in entries]
        assert len(names) == len(set(names))
        for entry in entries:
            assert is_valid_container_name(entry["name"])
            assert parse_reference(entry["imageUri"]) is not None
