"""Jobs for tests, found by their dotted path (tests.sample_jobs.<name>) as a worker finds any job."""
from __future__ import annotations

from flask import g

from suppression.db import db

SEEN: list[dict] = []  # what each leave_traces job found (the worker runs jobs in this process)


def leave_traces(n: int) -> None:
    """Note what is left of earlier jobs in this job's app context and session, then leave some."""
    session = db.session()
    SEEN.append({"g": g.get("left_by"), "session": session.info.get("left_by")})
    g.left_by = session.info["left_by"] = n
