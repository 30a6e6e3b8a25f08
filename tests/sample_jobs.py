"""Jobs for tests, found by their dotted path (tests.sample_jobs.<name>) as a worker finds any job."""
from __future__ import annotations

import logging

from flask import g

from suppression.db import db

SEEN: list[dict] = []  # what each leave_traces job found (the worker runs jobs in this process)


def leave_traces(n: int) -> None:
    """Note what is left of earlier jobs in this job's app context and session, then leave some."""
    session = db.session()
    SEEN.append({"g": g.get("left_by"), "session": session.info.get("left_by")})
    g.left_by = session.info["left_by"] = n


def log_a_line(address: str) -> None:
    """Log a line naming `address`, as a job reading a bounce might."""
    logging.getLogger("workers.jobs").warning("working for %s", address)
