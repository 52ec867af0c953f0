"""One job with in-memory S3: when CodePipeline cannot take the result, the handler raises, counts and logs it."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.local_aws import load_event, zip_files
from imagedefs.action import handle_job
from imagedefs.budget import TimeBudget
from imagedefs.config import Wording
from imagedefs.errors import ReportNotDeliveredError
from imagedefs.job import ArtifactCredentials, job_id_of
from imagedefs.observability import logger, metrics
from tests.samples import image_detail
from tests.timing import SCHEDULING_SLACK_SECONDS
from tests.unit.test_s3_artifacts import InMemoryS3


class UnreachableCodePipeline:
    """A reporter whose CodePipeline never takes the result: it refuses, or answers only after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def _report(self, *args: Any) -> str:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
            return "reported"
        raise ReportNotDeliveredError("CodePipeline refused the job result")

    succeed = fail = _report


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    metrics.clear_metrics()
    yield printed
    logger.removeHandler(handler)  # type: ignore[attr-defined]
    metrics.clear_metrics()


def run(reporter: Any, remaining_millis: int = 60_000, delay: float = 0.0) -> str:
    s3 = InMemoryS3(zip_files({"imageDetail.json": image_detail()}))

    def artifact_client(credentials: ArtifactCredentials, budget: TimeBudget) -> Any:
        time.sleep(delay)  # a slow start: the work budget may be spent before the first S3 call
        return s3

    event = load_event("single-ecr-source.json")
    job_id = job_id_of(event)
    assert job_id is not None
    return handle_job(
        event=event,
        job_id=job_id,
        request_id="req-1",
        budget=TimeBudget.from_remaining_millis(remaining_millis),
        environ={},
        artifact_client=artifact_client,
        ecs_reader=_no_ecs,
        ecr_reader=_no_ecr,
        assumed_role=_no_role,
        reporter=reporter,
    )


def _no_ecs(budget: TimeBudget, wording: Wording, role: Any) -> Any:
    raise AssertionError("an imagedefinitions job reads no ECS")


def _no_role(target: Any, **_: Any) -> Any:
    raise AssertionError("a job without a role assumes none")


def _no_ecr(budget: TimeBudget, wording: Wording, role: Any) -> Any:
    raise AssertionError("a job without verify or failOnSeverity reads no ECR")


def test_a_result_codepipeline_refuses_is_raised_counted_and_logged(log: io.StringIO) -> None:
    # Given a job that succeeds, and a CodePipeline that refuses its result
    reporter = UnreachableCodePipeline()
    # When the job runs; Then the handler raises (so that Lambda retries), after one try at the report
    with pytest.raises(ReportNotDeliveredError, match="refused"):
        run(reporter)
    assert reporter.calls == 1
    assert metrics.metric_set["ReportsNotDelivered"]["Value"] == [1.0]
    assert metrics.metric_set["ReportsNotDelivered"]["Unit"] == "Count"
    assert "JobsSucceeded" not in metrics.metric_set
    assert '"message":"The job\'s result could not be reported; raising so that Lambda retries' in log.getvalue()


def test_a_report_that_would_outlast_lambdas_deadline_is_abandoned(log: io.StringIO) -> None:
    # Given half a second left and a CodePipeline that answers after two
    started = time.monotonic()
    with pytest.raises(ReportNotDeliveredError, match=r"^CodePipeline did not answer before the function's deadline"):
        run(UnreachableCodePipeline(delay=10.0), remaining_millis=500)
    # Then the handler gives up before Lambda's deadline, and says so
    assert time.monotonic() - started < 0.5 + SCHEDULING_SLACK_SECONDS
    assert metrics.metric_set["ReportsNotDelivered"]["Value"] == [1.0]


class RecordingReporter:
    def __init__(self) -> None:
        self.failures: list[tuple[str, str]] = []

    def fail(self, job_id: str, failure_type: str, message: str, request_id: str) -> str:
        self.failures.append((failure_type, message))
        return "reported"


def test_once_the_work_budget_is_spent_no_artifact_is_read_and_the_failure_is_reported(log: io.StringIO) -> None:
    # Given 4 s left (2.8 s of work, 1.2 s kept to report: room for a busy machine) and a start that takes 3 s
    reporter = RecordingReporter()
    # When the job runs
    assert run(reporter, remaining_millis=4_000, delay=3.0) == "reported"
    # Then the input is not read, and the failure is reported within the reserve
    ((failure_type, message),) = reporter.failures
    assert failure_type == "SystemUnavailable"
    assert 'ran out of time before reading input artifact "SourceArtifact"' in message
