"""The worker process (`make worker`): each job in its own app context, its id on every log line."""
from __future__ import annotations

import io
import logging

from suppression.logs import RedactingFilter
from tests import sample_jobs
from tests.conftest import work
from workers import queues


def test_each_job_runs_in_its_own_app_context_and_database_session(redis_app):
    sample_jobs.SEEN.clear()
    with redis_app.app_context():
        for n in (1, 2, 3):
            queues.enqueue(queues.INBOUND, "tests.sample_jobs.leave_traces", n)
    work(redis_app)
    assert sample_jobs.SEEN == [{"g": None, "session": None}] * 3  # nothing left by the job before


def test_a_jobs_log_lines_show_its_id_and_never_an_address(redis_app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())  # as suppression.logs.configure sets up every root handler
    logging.getLogger().addHandler(handler)
    try:
        with redis_app.app_context():
            queues.enqueue(queues.INBOUND, "tests.sample_jobs.log_a_line", "alice@example.com", job_id="log-me")
        work(redis_app)
    finally:
        logging.getLogger().removeHandler(handler)
    [line] = [line for line in stream.getvalue().splitlines() if "working for" in line]
    assert line.endswith("WARNING workers.jobs [log-me] working for [address]")
    assert "alice" not in stream.getvalue()
