"""The running job's id on every line a worker logs (Redash's `CurrentJobFilter`)."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from rq import get_current_job

# A line logged outside any job (RQ's own, the scheduler's) shows "-".
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(job_id)s] %(message)s"


class CurrentJobFilter(logging.Filter):
    """Sets `job_id` on each record: the id of the job that was running when it was logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = get_current_job()  # this thread's: set by RQ while a job's function runs
        record.job_id = job.id if job is not None else "-"
        return True


def install(handlers: Iterable[logging.Handler]) -> None:
    """Have `handlers` show the job id on each line: the root logger's, so that every record
    (ours, the domain's, RQ's) gets it, and the redacting filter already on them still applies."""
    formatter = logging.Formatter(FORMAT)
    for handler in handlers:
        if not any(isinstance(f, CurrentJobFilter) for f in handler.filters):
            handler.addFilter(CurrentJobFilter())
        handler.setFormatter(formatter)
