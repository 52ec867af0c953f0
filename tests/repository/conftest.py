"""The repository's own files (template, packaging, docs) are checked with sockets disabled, as unit tests are."""

from tests.unit.conftest import _no_network  # noqa: F401
