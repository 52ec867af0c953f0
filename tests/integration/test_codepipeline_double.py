"""The CodePipeline double over HTTP: the JSON protocol that botocore versions before RPC v2 CBOR speak."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from devtools.codepipeline_double import CodePipelineDoubleServer

JOB_ID = "0b4a6c3e-5d2f-4e8a-9b1c-7d6e5f4a3b21"


def test_the_double_also_speaks_the_json_protocol_of_older_botocore() -> None:
    with CodePipelineDoubleServer() as server:

        def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(  # noqa: S310 - loopback
                server.url,
                data=json.dumps(body).encode(),
                headers={
                    "X-Amz-Target": "CodePipeline_20150709.PutJobFailureResult",
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            try:
                with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        good = {"jobId": JOB_ID, "failureDetails": {"type": "JobFailed", "message": "m"}}
        assert post(good) == (200, {})
        assert post(good)[1]["__type"] == "InvalidJobStateException"
        assert post({"jobId": JOB_ID})[1]["__type"] == "ValidationException"
        assert server.double.reports[0].request == good
