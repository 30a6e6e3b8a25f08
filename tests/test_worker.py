"""The worker process (`make worker`): each job in its own app context."""
from __future__ import annotations

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
