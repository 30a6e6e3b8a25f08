"""Fixtures of the fault tests: each scenario gets a deployment of its own (PostgreSQL, Redis,
gunicorn, workers) in a temporary directory, and a time limit. Nothing here touches the
PostgreSQL and Redis that `make test` uses."""
from __future__ import annotations

import signal
import tempfile
from pathlib import Path

import pytest

from faults.cluster import PG_BIN, deployment
from faults.scenario import SUMMARIES

# A scenario takes about a minute; one that hangs is stopped (and its processes with it) here.
SCENARIO_TIMEOUT = 150


@pytest.fixture
def cluster():
    """(service, postgres, redis) of a fresh deployment, stopped after the test."""
    if PG_BIN is None:
        pytest.fail("PostgreSQL's server binaries are not in /usr/lib/postgresql (apt-get install postgresql)")
    with tempfile.TemporaryDirectory(prefix="faults-") as directory, deployment(Path(directory)) as parts:
        try:
            yield parts
        finally:
            print(parts[0].logs())  # shown with the test's output when it fails


@pytest.fixture(autouse=True)
def time_limit():
    """Fail a scenario that runs past SCENARIO_TIMEOUT; its fixtures still stop every process."""
    def expired(signum, frame):
        raise TimeoutError(f"the scenario ran past {SCENARIO_TIMEOUT} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(SCENARIO_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def pytest_terminal_summary(terminalreporter):
    """One line per scenario: requests, 2xx, 503, other answers, time to drain."""
    if SUMMARIES:
        terminalreporter.write_sep("-", "fault scenarios")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
