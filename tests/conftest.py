"""Shared by every test session, including the several that mutation testing runs in one process."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _logger_writes_to_this_sessions_output() -> Iterator[None]:
    """Point the function's logger at this session's standard output.

    Powertools' handler keeps the stream that was standard output when it was created: in a second pytest
    session of the same process (mutmut runs many) that is the first session's capture, closed by then.
    """
    from imagedefs.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        # Not setStream(): it flushes the old stream first, which fails when that stream is closed.
        handler.stream = sys.stdout
    yield
