"""Hostile artifacts, UserParameters and events: each ends in exactly one report that names what was refused."""

from __future__ import annotations

import importlib
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from devtools.local_aws import LocalAws, load_event, zip_files
from tests.hostile import (
    Entry,
    build_zip,
    duplicate_members,
    job_reading,
    many_entries,
    renamed,
    with_declared_size,
    with_end_record,
    with_method_number,
    with_unicode_path,
    with_version_needed,
    zip_with_method,
)
from tests.integration.conftest import Invoke
from tests.samples import DIGEST_A, REGISTRY, image_detail, with_user_parameters

DETAIL = json.dumps(image_detail()).encode()
BOMB = b"\0" * (20 * 1024 * 1024)  # inflates to 20 MB; its header will say 300 bytes


@pytest.mark.parametrize(
    ("body", "expected_parts"),
    [
        pytest.param(
            with_declared_size(zip_with_method("imageDetail.json", BOMB, zipfile.ZIP_BZIP2), 300),
            ["file imageDetail.json", "zip method 12", "only stored and deflate"],
            id="bzip2 bomb with a lying size",
        ),
        pytest.param(
            with_declared_size(zip_with_method("imageDetail.json", BOMB, zipfile.ZIP_LZMA), 300),
            ["zip method 14"],
            id="lzma bomb with a lying size",
        ),
        pytest.param(
            with_method_number(zip_with_method("imageDetail.json", DETAIL, zipfile.ZIP_STORED), 9),
            ["zip method 9"],
            id="deflate64",
        ),
        pytest.param(
            with_declared_size(zip_with_method("imageDetail.json", BOMB, zipfile.ZIP_DEFLATED), 300),
            ["file imageDetail.json", "cannot be read from the zip"],
            id="deflate bomb with a lying size",
        ),
        pytest.param(
            zip_with_method("imageDetail.json", BOMB, zipfile.ZIP_DEFLATED),
            ["file imageDetail.json", "larger than 100 KB"],
            id="deflate bomb with an honest size",
        ),
        pytest.param(
            with_version_needed(zip_files({"imageDetail.json": DETAIL}), 64),
            ["is not a zip file this function reads (zip file version 6.4)"],
            id="zip format version 6.4",
        ),
        pytest.param(
            with_end_record(many_entries(20_000), 1, 1_000_000),
            ["zip directory of 1 entries and 1000000 bytes (room for 21739 entries)"],
            id="end record claiming 1 entry before 20,000",
        ),
        pytest.param(
            many_entries(20_000),
            ["zip directory of 20000 entries", "at most 10000 entries"],
            id="20,000 entries",
        ),
        pytest.param(
            zip_files({f"{index}{'x' * 30_000}": b"" for index in range(40)}),
            ["zip directory of 40 entries and 120", "1024 KB are read"],
            id="few entries with huge names",
        ),
        pytest.param(
            with_end_record(zip_files({"imageDetail.json": DETAIL}), 1, 0x7FFF_FFFF),
            ["2147483647 bytes", "1024 KB are read"],
            id="end record claiming a 2 GB directory",
        ),
        pytest.param(
            with_end_record(zip_files({"imageDetail.json": DETAIL}), 60_000, 100),
            ["zip directory of 60000 entries"],
            id="end record claiming 60,000 entries",
        ),
        pytest.param(
            duplicate_members("imageDetail.json", DETAIL, json.dumps(image_detail("evil/miner")).encode()),
            ['holds "imageDetail.json" 2 times', "ambiguous"],
            id="imageDetail.json twice",
        ),
        pytest.param(
            renamed(zip_files({"imageDetail.jsonXold": DETAIL}), b"imageDetail.jsonXold", b"imageDetail.json\0old"),
            ["file name with a NUL character"],
            id="member name with a NUL",
        ),
        pytest.param(
            zip_files({"imageDetail.json": b"[" * 50_000 + b"]" * 50_000}),
            ["file imageDetail.json", "nested too deeply"],
            id="JSON nested 50,000 deep",
        ),
        pytest.param(
            zip_files({"imageDetail.json": DETAIL[:-1] + b', "ImageSizeInBytes": ' + b"9" * 5000 + b"}"}),
            ["file imageDetail.json", "a number 5000 characters long"],
            id="5,000-digit number",
        ),
        pytest.param(
            zip_files(
                {
                    "imageDetail.json": DETAIL[:-1]
                    + b', "ImageURI": "evil.example.com/miner@'
                    + DIGEST_A.encode()
                    + b'"}'
                }
            ),
            ["file imageDetail.json", 'key "ImageURI" appears more than once'],
            id="duplicate key in imageDetail.json",
        ),
        pytest.param(
            zip_files({"imageDetail.json": image_detail(tags=["v1-\u00e9"])}),
            ['"ImageTags" holds "v1-\\u00e9"', "not a valid Docker tag"],
            id="non-ASCII tag",
        ),
        pytest.param(
            zip_files({"imageDetail.json": {**image_detail(), "ImageURI": 5}}),
            ['file imageDetail.json: field "ImageURI" must be a non-empty string, not int 5'],
            id="ImageURI a number",
        ),
        pytest.param(
            zip_files({"imagedefinitions.json": '[{"name": "web", "imageUri": "a/b:1", "name": "api"}]'}),
            ["file imagedefinitions.json", 'key "name" appears more than once'],
            id="duplicate key in imagedefinitions.json",
        ),
    ],
)
def test_hostile_artifacts_fail_the_job_naming_what_was_refused(
    aws: LocalAws, invoke: Invoke, body: bytes, expected_parts: list[str]
) -> None:
    result = invoke(job_reading(aws, body))

    assert result.failure["type"] == "JobFailed"
    assert 'Artifact "SourceArtifact"' in result.failure["message"]
    for part in expected_parts:
        assert part in result.failure["message"]
    assert result.returned["report"] == "reported"


EVIL = json.dumps(image_detail("evil/miner")).encode()
HIDDEN = Entry("imageDetail.json", EVIL, descriptor=True)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), Entry("./imageDetail.json", EVIL)]),
            'holds a file named "./imageDetail.json"',
            id="./imageDetail.json beside imageDetail.json",
        ),
        pytest.param(
            build_zip([Entry("/imageDetail.json", EVIL), Entry("imageDetail.json", DETAIL)]),
            'holds a file named "/imageDetail.json", an absolute path',
            id="/imageDetail.json beside imageDetail.json",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), Entry("IMAGEDETAIL.JSON", EVIL)]),
            'holds both "imageDetail.json" and "IMAGEDETAIL.JSON"',
            id="IMAGEDETAIL.JSON beside imageDetail.json",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL), Entry("imageDetail.json", EVIL, listed=False)]),
            "bytes that its directory does not list between",
            id="a local entry the directory does not list",
        ),
        pytest.param(
            build_zip([Entry("bundle", HIDDEN.local_record(), method=0)], directory=[(HIDDEN, 36)]),
            'bytes before its first entry "imageDetail.json"',
            id="an entry hidden inside another entry's data",
        ),
        pytest.param(
            zip_files({"imageDetail.json": EVIL}) + zip_files({"imageDetail.json": DETAIL}),
            "other data was put before the zip (a self-extracting stub, or another zip)",
            id="two concatenated zips",
        ),
        pytest.param(
            build_zip(
                [Entry("app.py", b"1", descriptor=True, data=Entry("x", b"1").stored_data + HIDDEN.local_record())]
            ),
            'holds "app.py", whose deflate data does not end where its compressed size says',
            id="an entry after a deflate stream that ends early",
        ),
        pytest.param(
            build_zip([Entry("imageDetail.json", DETAIL, local={"name": b"imageDetail.jsoX"})]),
            "whose local header and directory entry disagree on its name",
            id="a local header naming another file",
        ),
    ],
)
def test_zips_that_zip_readers_read_differently_fail_the_job_naming_why(
    aws: LocalAws, invoke: Invoke, body: bytes, expected: str
) -> None:
    # Given an input artifact whose zip one reader (zipfile, unzip) reads otherwise than another (a streaming one)
    event = job_reading(aws, body)
    location = event["CodePipeline.job"]["data"]["inputArtifacts"][0]["location"]["s3Location"]

    # When the job runs
    result = invoke(event)

    # Then it fails naming the artifact, its S3 location and why, and writes nothing
    assert result.failure["type"] == "JobFailed"
    prefix = f'Artifact "SourceArtifact" (s3://{location["bucketName"]}/{location["objectKey"]}, {len(body)} bytes) '
    assert result.failure["message"].startswith(prefix)
    assert expected in result.failure["message"]
    assert "so the zip is refused" in result.failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


def test_a_zip_with_data_descriptors_as_builds_write_it_is_read(aws: LocalAws, invoke: Invoke) -> None:
    # Given a zip as CodeBuild or a streaming writer makes it: deflate and stored entries, each with a data descriptor
    body = build_zip(
        [
            Entry("src/app.py", b"print()" * 200, descriptor=True),
            Entry("imageDetail.json", DETAIL, descriptor=True),
            Entry("bin/tool", bytes(range(256)) * 20, method=0, descriptor=True, descriptor_signature=False),
        ]
    )

    result = invoke(job_reading(aws, body))

    assert result.report.succeeded


BACKTRACKING_TAG = "a" * 40 + "-"


def test_a_name_cut_at_a_nul_in_a_unicode_path_field_is_never_read(aws: LocalAws, invoke: Invoke) -> None:
    # Python 3.13's zipfile reads the Unicode Path field and cuts it at the NUL; 3.11 sees "x.json" only
    body = with_unicode_path("x.json", b"imageDetail.json\0evil", DETAIL)

    failure = invoke(job_reading(aws, body)).failure

    # Then both refuse it alike, naming the field and the name it gives
    assert failure["type"] == "JobFailed"
    assert (
        'holds "x.json", whose directory entry has a Unicode Path extra field (0x7075) that names it '
        '"imageDetail.json\\u0000evil", which readers that honour the field' in failure["message"]
    )


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+", "(a*)*b", "([a-z]+)*[0-9]", "(?:a|a?)+x"])
def test_a_tag_pattern_that_backtracks_is_refused_within_the_time_limit(
    aws: LocalAws, invoke: Invoke, pattern: str
) -> None:
    # Given an image whose tag makes the pattern backtrack exponentially
    event = job_reading(aws, zip_files({"imageDetail.json": image_detail(tags=[BACKTRACKING_TAG])}))

    # When the action's UserParameters use that pattern
    failure = invoke(with_user_parameters(event, {"tag": pattern})).failure

    # Then it is refused, naming the pattern, the tag and why
    assert failure["type"] == "ConfigurationError"
    assert f'UserParameters "tag" {json.dumps(pattern)} was refused' in failure["message"]
    assert f'tag "{BACKTRACKING_TAG}" took more than 1 s' in failure["message"]
    assert "backtracks catastrophically" in failure["message"]


def test_a_default_tag_pattern_that_backtracks_names_the_stack_parameter(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEDEFS_DEFAULT_TAG_PATTERN", "(a|a)+$")
    event = job_reading(aws, zip_files({"imageDetail.json": image_detail(tags=[BACKTRACKING_TAG])}))

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert "the DefaultTagPattern parameter of the function's stack (environment variable" in failure["message"]
    assert '"(a|a)+$" was refused' in failure["message"]


def _mutate(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set (or, with ..., delete) the field at a dotted path under the job."""

    def apply(job: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = job
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is ...:
            del target[last]
        else:
            target[last] = value

    return apply


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_mutate("data", ...), '"data" is missing'),
        (_mutate("data.artifactCredentials", "AKIA-a-string"), '"data.artifactCredentials" must be an object, not a'),
        (
            _mutate("data.artifactCredentials.secretAccessKey", 12345),
            '"data.artifactCredentials.secretAccessKey" must be a string, not a number',
        ),
        (_mutate("data.artifactCredentials.sessionToken", ...), '"data.artifactCredentials.sessionToken" is missing'),
        (_mutate("data.inputArtifacts", {}), '"data.inputArtifacts" must be a list, not an object'),
        (_mutate("data.inputArtifacts.0.location", ...), '"data.inputArtifacts[0].location" is missing'),
        (
            _mutate("data.outputArtifacts.0.location.s3Location.bucketName", ""),
            '"data.outputArtifacts[0].location.s3Location.bucketName" must be a string, not an empty string',
        ),
        (_mutate("data.encryptionKey", {"id": 5, "type": "KMS"}), '"data.encryptionKey.id" must be a string'),
        (
            _mutate("data.encryptionKey", {"id": "k\u00e9y\ud800\n", "type": "KMS"}),
            '"data.encryptionKey.id" is not a KMS key id',
        ),
        (_mutate("data.encryptionKey", {"id": "k" * 100_000, "type": "KMS"}), '"data.encryptionKey.id" is not a KMS'),
        (
            _mutate("data.actionConfiguration.configuration.UserParameters", 5),
            '"data.actionConfiguration.configuration.UserParameters" must be a string, not a number',
        ),
    ],
)
def test_a_malformed_event_with_a_job_id_is_reported_naming_the_field(
    aws: LocalAws, invoke: Invoke, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    event = load_event("kms-encrypted.json")
    aws.seed(event)
    change(event["CodePipeline.job"])

    result = invoke(event)

    assert result.failure["type"] == "JobFailed"
    assert "The job event from CodePipeline is malformed" in result.failure["message"]
    assert expected in result.failure["message"]
    assert "12345" not in result.failure["message"] and "AKIA" not in result.failure["message"]
    assert "Traceback" not in result.log


def test_an_invalid_bucket_name_in_the_event_is_no_retryable_failure(aws: LocalAws, invoke: Invoke) -> None:
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    event["CodePipeline.job"]["data"]["inputArtifacts"][0]["location"]["s3Location"]["bucketName"] = "no such/bucket!"

    failure = invoke(event).failure

    assert failure["type"] == "JobFailed"
    assert 'reading input artifact "SourceArtifact"' in failure["message"]
    assert "Invalid bucket name" in failure["message"]
    assert "a retry cannot help" in failure["message"]


def test_containers_pick_entries_of_a_merged_file_and_nothing_else_is_written(aws: LocalAws, invoke: Invoke) -> None:
    # Given an earlier action's imagedefinitions.json that adds a container nobody asked for
    merged = [
        {"name": "web", "imageUri": f"{REGISTRY}/shop/web:v2"},
        {"name": "logrouter", "imageUri": "evil.example.com/miner:latest"},
    ]
    event = job_reading(aws, zip_files({"imagedefinitions.json": merged}), {"containers": {"SourceArtifact": "web"}})

    # When the action names only "web" for that artifact
    result = invoke(event)

    # Then only "web" is written, and the log says what was left out
    assert result.report.succeeded
    assert json.loads(aws.output_files(event)["imagedefinitions.json"]) == [merged[0]]
    left_out = [record for record in result.log_records if record.get("left_out_containers")]
    assert left_out[0]["left_out_containers"] == ["logrouter"]
    assert left_out[0]["artifact"] == "SourceArtifact"
    assert left_out[0]["message"].startswith("Entries of a merged imagedefinitions.json not named in containers")


def test_a_container_picked_from_a_merged_file_must_be_in_it(aws: LocalAws, invoke: Invoke) -> None:
    merged = [{"name": "web", "imageUri": f"{REGISTRY}/shop/web:v2"}]
    event = job_reading(
        aws, zip_files({"imagedefinitions.json": merged}), {"containers": {"SourceArtifact": ["web", "worker"]}}
    )

    failure = invoke(event).failure

    assert failure["type"] == "ConfigurationError"
    assert (
        'picks container(s) "worker" from Artifact "SourceArtifact", file imagedefinitions.json' in failure["message"]
    )
    assert 'Its entries are "web"' in failure["message"]


def test_event_logging_cannot_be_turned_on_to_print_the_credentials(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator who sets Powertools' standard switch to log every event
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    from handlers import image_definitions

    importlib.reload(image_definitions)  # the decorator reads the setting when the handler is defined
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    credentials = event["CodePipeline.job"]["data"]["artifactCredentials"]

    result = invoke(event)

    assert result.report.succeeded
    assert credentials["secretAccessKey"] not in result.log
    assert credentials["sessionToken"] not in result.log
    assert "artifactCredentials" not in result.log
