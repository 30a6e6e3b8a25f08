"""Jobs for tests, found by their dotted path (tests.sample_jobs.<name>) as a worker finds any job."""
from __future__ import annotations

import logging
import time

from flask import g
from sqlalchemy import text

from suppression.db import db
from workers import queues

SEEN: list[dict] = []  # what each leave_traces job found (the worker runs jobs in this process)


def leave_traces(n: int) -> None:
    """Note what is left of earlier jobs in this job's app context and session, then leave some."""
    session = db.session()
    SEEN.append({"g": g.get("left_by"), "session": session.info.get("left_by")})
    g.left_by = session.info["left_by"] = n


def log_a_line(address: str) -> None:
    """Log a line naming `address`, as a job reading a bounce might."""
    logging.getLogger("workers.jobs").warning("working for %s", address)


def note(path: str, word: str) -> None:
    """Append `word` to the file at `path`: a trace a test can read from outside the worker."""
    with open(path, "a") as file:
        file.write(word + "\n")


def slow_then_queue(path: str, seconds: float) -> None:
    """Note the start, take `seconds`, then queue a `note` of "followed" (as a batch queues its next)."""
    note(path, "started")
    time.sleep(seconds)
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", path, "followed")
    note(path, "done")


def sleep_in_database(path: str, seconds: float) -> None:
    """Note the start, hold a database statement for `seconds`, note the end."""
    note(path, "started")
    db.session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
    note(path, "done")
