"""Fixtures of the fault tests: each scenario gets a deployment of its own (PostgreSQL, Redis,
gunicorn, workers) in a temporary directory, and a time limit. Nothing here touches the
PostgreSQL and Redis that `make test` uses."""
from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from faults.cluster import PG_BIN, deployment
from faults.scenario import SUMMARIES

# A scenario takes about a minute once its deployment is up (each step of that set-up has a
# time limit of its own); one that hangs fails here, and its processes are stopped all the same.
SCENARIO_TIMEOUT = 150


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """TimeoutError in the block once it runs past `seconds`."""
    def expired(signum, frame):
        raise TimeoutError(f"the scenario ran past {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def cluster():
    """(service, postgres, redis) of a fresh deployment, for SCENARIO_TIMEOUT; stopped afterwards."""
    if PG_BIN is None:
        pytest.fail("PostgreSQL's server binaries are not in /usr/lib/postgresql (apt-get install postgresql)")
    with tempfile.TemporaryDirectory(prefix="faults-") as directory, deployment(Path(directory)) as parts:
        try:
            with time_limit(SCENARIO_TIMEOUT):  # ended before the teardown, which it must not cut short
                yield parts
        finally:
            print(parts[0].logs())  # shown with the test's output when it fails


def pytest_terminal_summary(terminalreporter):
    """One line per scenario: requests, 2xx, 503, other answers, time to drain."""
    if SUMMARIES:
        terminalreporter.write_sep("-", "fault scenarios")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
