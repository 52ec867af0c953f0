"""A stalled or unreachable S3, slow tag patterns and a slow cold start still end in one report, or a raise, before
Lambda's deadline."""

from __future__ import annotations

import copy
import json
import re
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event
from handlers import image_definitions
from imagedefs.aws.codepipeline import codepipeline_client
from imagedefs.errors import ReportNotDeliveredError
from imagedefs.tag_pattern import SLOW_PATTERN
from tests.integration.conftest import Invoke
from tests.samples import image_detail, with_user_parameters
from tests.timing import SCHEDULING_SLACK_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

REMAINING_MILLIS = 6_000


def test_a_stalled_s3_is_reported_before_the_deadline(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an S3 endpoint that accepts requests and never answers in time, and 6 s left before Lambda's timeout
    event = load_event("single-ecr-source.json")
    with FaultyS3(Fault(status=200, code="Stalled", stall_seconds=30)) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        started = time.monotonic()

        # When the job runs
        failure = invoke(event, remaining_millis=REMAINING_MILLIS).failure
        elapsed = time.monotonic() - started
        attempts = s3.requests

    # Then it retried, gave up and reported SystemUnavailable with time to spare
    assert failure["type"] == "SystemUnavailable"
    assert "ReadTimeoutError" in failure["message"]
    assert attempts >= 2
    assert elapsed < REMAINING_MILLIS / 1000


def test_an_unreachable_s3_is_retried_then_system_unavailable(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    started = time.monotonic()

    failure = invoke(load_event("single-ecr-source.json"), remaining_millis=REMAINING_MILLIS).failure

    assert failure["type"] == "SystemUnavailable"
    assert "Could not reach S3" in failure["message"]
    assert time.monotonic() - started < REMAINING_MILLIS / 1000


def test_no_s3_call_starts_once_the_budget_is_spent(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job with no time left at all
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    with FaultyS3(Fault(delay_seconds=0.01), upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)

        # When it runs, then nothing is sent to S3, and the handler raises at once, so that Lambda's retry,
        # with a whole timeout, runs the job
        with pytest.raises(ReportNotDeliveredError, match="did not answer before the function's deadline"):
            invoke(event, remaining_millis=0)
        assert s3.requests == 0

    # And the report, abandoned at the deadline, may still reach CodePipeline: then Lambda's retry finds the job
    # closed and leaves it alone (waited for here, so that it cannot land in the next test)
    waited_until = time.monotonic() + 5
    while not aws.double.reports and time.monotonic() < waited_until:
        time.sleep(0.05)
    assert [report.request["failureDetails"]["type"] for report in aws.double.reports] == ["SystemUnavailable"]


@pytest.mark.parametrize(
    ("fault", "remaining_millis", "expected"),
    [
        pytest.param(
            Fault(trickle="body"), 6_000, ("still running at the deadline",), id="body trickled a byte at a time"
        ),
        pytest.param(Fault(trickle="headers"), 6_000, ("still running at the deadline",), id="headers trickled"),
        pytest.param(
            Fault(stall_mid_body_seconds=30), 6_000, ("Could not reach S3",), id="stall in the middle of the body"
        ),
        # Each answer 0.6 s late, within the 0.87 s read timeout such a budget gives; a loaded machine can push one
        # past it, which ends in botocore's ReadTimeoutError instead: one report before the deadline either way
        pytest.param(
            Fault(delay_seconds=0.6),
            2_000,
            ("still running at the deadline", "ReadTimeoutError"),
            id="every answer late",
        ),
    ],
)
def test_a_slow_s3_cannot_push_the_report_past_the_deadline(
    aws: LocalAws,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    remaining_millis: int,
    expected: tuple[str, ...],
) -> None:
    # Given S3 that answers slowly in one of the ways socket timeouts cannot catch, and a two-artifact job
    event = load_event("two-ecr-sources.json")
    aws.seed(event)
    with FaultyS3(fault, upstream=aws.s3_url) as s3:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
        started = time.monotonic()

        # When the job runs
        result = invoke(event, remaining_millis=remaining_millis)
        elapsed = time.monotonic() - started

    # Then exactly one SystemUnavailable report went out at the deadline, saying so, and nothing was written
    assert result.failure["type"] == "SystemUnavailable"
    assert any(phrase in result.failure["message"] for phrase in expected)
    assert "not a zip" not in result.failure["message"]
    assert elapsed < remaining_millis / 1000 + SCHEDULING_SLACK_SECONDS
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


SLOW_PATTERN_TEXT = "a*a*a*a*"  # backtracks polynomially: O(n^4) steps on a tag of n a's that it does not match


def tags_taking(seconds: float) -> list[str]:
    """Tags that SLOW_PATTERN_TEXT takes about `seconds` to try on this machine now; the last one it matches."""
    regex = re.compile(SLOW_PATTERN_TEXT)
    started = time.monotonic()
    regex.fullmatch("a" * 60 + "-")
    once = time.monotonic() - started
    return [f"{'a' * 60}-{number}" for number in range(max(1, round(seconds / once)))] + ["aaaa"]


def five_images(aws: LocalAws, tags: list[str]) -> dict[str, Any]:
    """A job with five input artifacts (CodePipeline's most), each an image with these tags."""
    event = load_event("two-ecr-sources.json")
    data = event["CodePipeline.job"]["data"]
    template = data["inputArtifacts"][0]
    data["inputArtifacts"] = []
    artifacts: dict[str, dict[str, Any]] = {}
    for number in range(5):
        artifact = copy.deepcopy(template)
        artifact["name"] = f"Image{number}"
        location = artifact["location"]["s3Location"]
        location["objectKey"] = f"my-pipeline/Image{number}/zip"
        data["inputArtifacts"].append(artifact)
        files = {"imageDetail.json": image_detail(repository=f"shop/web{number}", tags=tags)}
        artifacts[f"{location['bucketName']}/{location['objectKey']}"] = files
    aws.seed(event, artifacts)
    return event


def test_slow_tag_matching_across_several_images_is_blamed_on_the_pattern_before_the_deadline(
    aws: LocalAws, invoke: Invoke
) -> None:
    # Given five images whose tags take the pattern about 0.45 s each, and 1.4 s left: less work time (0.98 s) than
    # a match's own limit (1 s), and than all five images together take, though each alone matches in time
    event = with_user_parameters(five_images(aws, tags_taking(0.45)), {"tag": SLOW_PATTERN_TEXT})
    started = time.monotonic()

    # When the job runs
    failure = invoke(event, remaining_millis=1_400).failure
    elapsed = time.monotonic() - started

    # Then exactly one report went out before Lambda's deadline, naming the pattern and blaming it, not S3
    assert elapsed < 1.4 + SCHEDULING_SLACK_SECONDS
    assert failure["type"] == "SystemUnavailable"
    assert f'while matching UserParameters "tag" "{SLOW_PATTERN_TEXT}" against tag' in failure["message"]
    assert failure["message"].endswith(SLOW_PATTERN)
    assert "S3" not in failure["message"]
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.output_object(event)


def test_tag_matching_that_takes_the_time_left_fails_the_job_naming_the_pattern(aws: LocalAws, invoke: Invoke) -> None:
    # Given images whose tag makes the pattern backtrack without end, and less work time (0.98 s) than a match's
    # own limit (1 s)
    event = with_user_parameters(five_images(aws, ["a" * 40 + "-"]), {"tag": "(a|aa)+"})
    started = time.monotonic()

    # When the job runs
    failure = invoke(event, remaining_millis=1_400).failure

    # Then matching stops at the budget's end, and the one report says so, naming the pattern and the tag
    assert time.monotonic() - started < 1.4 + SCHEDULING_SLACK_SECONDS
    assert failure["type"] == "SystemUnavailable"
    assert failure["message"].startswith(
        f'The function ran out of time while matching UserParameters "tag" "(a|aa)+" against tag "{"a" * 40}-"'
    )
    assert failure["message"].endswith(SLOW_PATTERN)


def slow_to_compile() -> str:
    """A pattern that fits in UserParameters (1,000 characters with the JSON around it) and takes seconds to compile:
    character classes spanning the BMP, under (?i). A fresh one each time, out of re's cache."""
    return f"(?i){time.monotonic_ns()}" + "[ -\uffff]" * 194


@pytest.mark.parametrize(
    ("remaining_millis", "failure_type", "expected"),
    [
        pytest.param(60_000, "ConfigurationError", "was refused: compiling it took more than 1 s", id="its own limit"),
        pytest.param(1_200, "SystemUnavailable", "ran out of time while compiling", id="little time left"),
    ],
)
def test_a_1000_character_pattern_slow_to_compile_is_refused_within_the_budget(
    aws: LocalAws, invoke: Invoke, remaining_millis: int, failure_type: str, expected: str
) -> None:
    # Given a 1,000-character UserParameters whose tag pattern takes seconds to compile
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    user_parameters = json.dumps({"tag": slow_to_compile()}, ensure_ascii=False)
    assert len(user_parameters) <= 1000
    started = time.monotonic()

    # When the job runs
    failure = invoke(with_user_parameters(event, user_parameters), remaining_millis=remaining_millis).failure

    # Then it is refused at compiling's own limit (1 s) or the budget's end, whichever comes first (the message says
    # which), naming the pattern, before Lambda's deadline
    assert time.monotonic() - started < remaining_millis / 1000 + SCHEDULING_SLACK_SECONDS
    assert failure["type"] == failure_type
    assert expected in failure["message"]
    assert 'UserParameters "tag" "(?i)' in failure["message"]
    assert "S3" not in failure["message"]


def test_a_cold_start_with_little_time_left_and_a_silent_codepipeline_raises_before_lambdas_deadline(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cold start whose CodePipeline client takes 1 s to build (a small function's share of a CPU), a
    # CodePipeline that never answers, and 5 s left
    event = load_event("single-ecr-source.json")
    aws.seed(event)

    def cold_client() -> CodePipelineClient:
        time.sleep(1.0)
        return codepipeline_client()

    monkeypatch.setattr(image_definitions, "codepipeline_client", cold_client)
    with FaultyS3(Fault(status=200, code="Stalled", stall_seconds=30)) as silent_codepipeline:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", silent_codepipeline.url)
        started = time.monotonic()

        # When the job runs, then the handler raises (so that Lambda retries) before Lambda's deadline: the second
        # spent building the client counts against the time to report in
        with pytest.raises(ReportNotDeliveredError, match="did not answer before the function's deadline"):
            invoke(event, remaining_millis=5_000)
        assert time.monotonic() - started < 5.0 + SCHEDULING_SLACK_SECONDS
