"""A large input artifact costs its zip directory and one member, never a download of the whole object."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest

from devtools.faulty_s3 import Fault, FaultyS3
from devtools.local_aws import LocalAws, load_event
from tests.integration.conftest import Invoke
from tests.samples import image_detail, input_location

MAX_BYTES_READ = 256 * 1024


def test_reading_imagedetail_from_a_large_zip_fetches_a_small_part_of_it(
    aws: LocalAws, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an input artifact of 24 MB: a source bundle with imageDetail.json among its files
    event = load_event("single-ecr-source.json")
    aws.seed(event)
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("src/bundle.bin", os.urandom(24 * 1024 * 1024))
        archive.writestr("imageDetail.json", json.dumps(image_detail()))
        archive.writestr("src/README.md", "docs")
    aws.put(*input_location(event), bundle.getvalue())

    # When the job runs through a proxy that counts what S3 serves
    with FaultyS3(Fault(methods=frozenset()), upstream=aws.s3_url) as counting_proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", counting_proxy.url)
        report = invoke(event).report
        served = counting_proxy.bytes_served

    # Then it succeeds having read at most 256 KiB of the 24 MB
    assert report.succeeded
    assert 0 < served <= MAX_BYTES_READ
