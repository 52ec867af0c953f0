"""template.yaml's AWS::ServerlessRepo::Application metadata meets the Serverless Application Repository's rules.

The rules are those of the AWS SAM Developer Guide ("AWS SAM template Metadata section properties") and of
SAR's CreateApplication API: lengths and patterns, a semantic version, license and readme files of at most
5 MB, and no intrinsic functions.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any, Final
from urllib.parse import urlparse

import pytest

import imagedefs
from tests.templates import ROOT, load_template

# semver.org's own regular expression for a version.
SEMANTIC_VERSION: Final = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
NAME: Final = re.compile(r"[a-zA-Z0-9\-]{1,140}")
AUTHOR: Final = re.compile(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?")
LABEL: Final = re.compile(r"[a-zA-Z0-9+\-_:/@]{1,127}")
MAX_LABELS: Final = 10
MAX_FILE_BYTES: Final = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    application: dict[str, Any] = load_template(ROOT / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"]
    return application


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    loaded: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return loaded


def test_values_are_plain_text_as_sar_reads_no_intrinsic_functions(metadata: dict[str, Any]) -> None:
    for key, value in metadata.items():
        values = value if key == "Labels" else [value]
        assert all(isinstance(item, str) for item in values), key


def test_name_description_and_author_fit_sar(metadata: dict[str, Any]) -> None:
    assert NAME.fullmatch(metadata["Name"])
    assert 1 <= len(metadata["Description"]) <= 256
    assert len(metadata["Author"]) <= 127
    assert AUTHOR.fullmatch(metadata["Author"])


def test_the_version_is_the_packages_and_semantic(project: dict[str, Any], metadata: dict[str, Any]) -> None:
    # pyproject.toml takes the version from the package (`imagedefs --version` prints it)
    assert project["dynamic"] == ["version"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "imagedefs.__version__"
    }
    assert SEMANTIC_VERSION.fullmatch(metadata["SemanticVersion"])
    assert metadata["SemanticVersion"] == imagedefs.__version__


def test_the_license_is_the_packages_and_its_file_says_so(metadata: dict[str, Any], project: dict[str, Any]) -> None:
    assert metadata["SpdxLicenseId"] == project["license"]["text"] == "MIT-0"
    assert (ROOT / metadata["LicenseUrl"]).read_text().startswith("MIT No Attribution\n")


@pytest.mark.parametrize("key", ["LicenseUrl", "ReadmeUrl"])
def test_license_and_readme_are_files_that_sam_package_can_upload(metadata: dict[str, Any], key: str) -> None:
    # Local paths, relative to the template; `sam package` uploads them to S3 and writes their s3:// URLs.
    path = ROOT / metadata[key]
    assert path.is_file()
    assert 0 < path.stat().st_size <= MAX_FILE_BYTES


def test_labels_fit_sar(metadata: dict[str, Any]) -> None:
    labels = metadata["Labels"]
    assert 1 <= len(labels) <= MAX_LABELS
    assert all(LABEL.fullmatch(label) for label in labels), labels
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("key", ["HomePageUrl", "SourceCodeUrl"])
def test_urls_are_https(metadata: dict[str, Any], key: str) -> None:
    url = urlparse(metadata[key])
    assert url.scheme == "https"
    assert url.netloc
