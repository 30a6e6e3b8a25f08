"""Jobs run inline, with no Redis configured (the embedded default): right after the commit
they follow, in the caller's app context."""
from __future__ import annotations

import logging

from rq.utils import import_attribute

from suppression.db import db

log = logging.getLogger(__name__)


def run(func: str, *args) -> object:
    """Run the job `func` here and now; what it returned, or None if it failed (logged, and its
    transaction rolled back: what it was about stays stored, for a retry or the sweeper)."""
    # Found by its dotted path, as a worker finds it: the queues sit below the jobs they queue.
    job = import_attribute(func)
    try:
        return job(*args)
    except Exception:  # noqa: BLE001 - the caller's request has committed already; it must not fail now
        db.session.rollback()
        log.exception("job %s%r failed inline", func, args)
        return None
