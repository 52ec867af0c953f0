"""`make demo`: run the packaged function on sample jobs, as Lambda would, and tell what happened.

A job naming a "service" reads an ECS service, which the demo creates in moto first
(events/describe-task-definition.json is its task definition): deployed blue/green by CodeDeploy for format
"codedeploy" (events/blue-green.json), by ECS's rolling update otherwise (events/unknown-container.json, whose
container "frontend" the service lacks: the function refuses it). A job the function fails shows the report
CodePipeline receives and the message the pipeline owner reads.

The function is the `sam build` output, run by awslambdaric (Lambda's runtime interface client)
against a local Runtime API. S3 is moto's server and CodePipeline a double that validates every
request against the real API model, both on loopback, reached through boto3's AWS_ENDPOINT_URL_*
variables. No AWS account, no Docker. The function's own output (its structured log and its metrics in
CloudWatch's embedded metric format) goes to FUNCTION_LOG, and with --show-log to the screen as well, under
each job.
"""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path
from typing import Any

from devtools.local_aws import load_event, local_aws, sample_artifacts
from devtools.packaged_function import ROOT, PackagedFunction

FUNCTION_LOG = ROOT / ".aws-sam" / "demo-function.log"
# How wide the demo wraps the message a pipeline owner reads.
MESSAGE_WIDTH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events", nargs="+", help="sample jobs from events/, for example events/two-ecr-sources.json")
    parser.add_argument("--show-log", action="store_true", help="print each job's log and metrics under that job")
    arguments = parser.parse_args()
    function_log = ""
    for number, event_path in enumerate(arguments.events, start=1):
        if len(arguments.events) > 1:
            print(f"{'' if number == 1 else chr(10)}=== Job {number} of {len(arguments.events)}: {event_path} ===\n")
        job_log = _run_job(Path(event_path).name)
        function_log += job_log
        _tell_job_log(job_log, arguments.show_log)
    FUNCTION_LOG.write_text(function_log)


def _run_job(event_name: str) -> str:
    """Tell one job's story; return what the function wrote to its log."""
    event = load_event(event_name)
    job = event["CodePipeline.job"]
    artifacts = sample_artifacts()
    parameters = _user_parameters(job)
    blue_green = parameters.get("format") == "codedeploy"

    print(f"1. CodePipeline starts job {job['id']} (events/{event_name}).")
    print(f"   UserParameters: {job['data']['actionConfiguration']['configuration'].get('UserParameters', '(none)')}")
    for artifact in job["data"]["inputArtifacts"]:
        location = artifact["location"]["s3Location"]
        detail = artifacts.get(f"{location['bucketName']}/{location['objectKey']}", {}).get("imageDetail.json", {})
        print(f"   Input artifact {artifact['name']} (an ECR source) holds imageDetail.json:")
        print(f"     ImageURI  {detail.get('ImageURI')}\n     ImageTags {detail.get('ImageTags')}")

    with local_aws() as aws:
        aws.seed(event)
        environment = aws.environment
        if "service" in parameters:
            service_arn = aws.seed_service(controller="CODE_DEPLOY" if blue_green else "ECS")
            environment["IMAGEDEFS_ECS_SERVICES"] = service_arn
            deployed = "blue/green (deployment controller CODE_DEPLOY)" if blue_green else "by ECS's rolling update"
            print(
                f"   ECS service prod/shop is deployed {deployed} and runs task\n"
                "   definition shop:1 (containers web, api, log-router). The function's stack lets it read it:\n"
                f"   EcsServiceArns={service_arn}"
            )
        started = time.perf_counter()
        with PackagedFunction(environment) as function:
            result = function.invoke(event)
            cold_seconds = time.perf_counter() - started
            function_log = function.log
        print(
            f"\n2. Lambda starts the packaged function cold (.aws-sam/build, under awslambdaric) and runs the job: "
            f"{cold_seconds * 1000:.0f} ms from process start to answer. It returned {result.body}."
        )
        # The invocation succeeds whenever the job was reported; whether the job did is in the report.
        succeeded = any(report.succeeded for report in aws.double.reports)
        if not succeeded:
            outputs = ", ".join(artifact["name"] for artifact in job["data"]["outputArtifacts"])
            print(f"\n3. The job failed: nothing was written, output artifact {outputs} stays empty.")
        for index, artifact in enumerate(job["data"]["outputArtifacts"]):
            files = aws.output_files(event, index) if succeeded else {}
            if blue_green and files:
                _tell_blue_green_files(artifact["name"], files)
            for name, content in {} if blue_green else files.items():
                print(f"\n3. Output artifact {artifact['name']} now holds {name}, for the ECS deploy action:")
                print(_indent(json.loads(content), 3))
        print("\n4. CodePipeline received:")
        for report in aws.double.reports:
            print(f"   {report.operation}\n{_indent(report.request, 5)}")
            if not report.succeeded:
                _tell_failure(report.request["failureDetails"])
        for operation, problems in aws.double.rejected:
            print(f"   REJECTED {operation}: {problems}")
    return function_log


def _user_parameters(job: dict[str, Any]) -> dict[str, Any]:
    """The job's UserParameters as an object, or {} when they are none (a sample may hold any text)."""
    try:
        parameters = json.loads(job["data"]["actionConfiguration"]["configuration"].get("UserParameters", "{}"))
    except json.JSONDecodeError:
        return {}
    return parameters if isinstance(parameters, dict) else {}


def _tell_failure(failure: dict[str, str]) -> None:
    print(
        f"   The action fails ({failure['type']}), and the pipeline owner reads on it (the console's action\n"
        "   details, or GetPipelineState's errorDetails):"
    )
    indent = " " * 5
    print(
        textwrap.fill(
            failure["message"],
            MESSAGE_WIDTH,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def _tell_blue_green_files(artifact: str, files: dict[str, bytes]) -> None:
    print(f"\n3. Output artifact {artifact} now holds {', '.join(files)}, for the CodeDeployToECS action.")
    taskdef = json.loads(files["taskdef.json"])
    print(
        f"   taskdef.json: task definition {taskdef['family']} as RegisterTaskDefinition input (ARN, revision, status\n"
        f"   and the other read-only fields dropped; roles, ports, secrets, volumes, logging and tags kept), images:"
    )
    for container in taskdef["containerDefinitions"]:
        print(f"     {container['name']:<11} {container['image']}")
    print("   appspec.yaml:")
    print("\n".join("     " + line for line in files["appspec.yaml"].decode().splitlines()))


def _tell_job_log(job_log: str, show: bool) -> None:
    lines = job_log.splitlines()
    where = FUNCTION_LOG.relative_to(ROOT)
    if not show:
        print(
            f"\n5. The function wrote {len(lines)} lines to its log (CloudWatch Logs on AWS): its structured JSON log\n"
            f"   and its metrics in embedded metric format. They are in {where}; `make demo LOG=1` prints them here."
        )
        return
    print(f"\n5. The function's log for this job, as CloudWatch Logs would receive it (also in {where}):")
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            print(f"   {line}")
            continue
        kind = "Metrics (embedded metric format, turned into CloudWatch metrics)" if "_aws" in record else "Log record"
        print(f"   {kind}:\n{_indent(record, 5)}")


def _indent(document: Any, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in json.dumps(document, indent=2, ensure_ascii=False).splitlines())


if __name__ == "__main__":
    main()
