"""Jobs: module-level functions taking ids, run by RQ workers (or inline without Redis).

Each job is idempotent: it may run twice or die half way (RQ does not promise exactly once);
the events table is the truth, and every effect is an upsert or guarded by the event id.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from suppression import events
from suppression.db import db
from suppression.models import EventStatus
from workers import effects, reading
from workers.app import app_context

MAX_ATTEMPTS = 8  # then the event is parked as failed for a person to look at
log = logging.getLogger(__name__)


def process_event(event_id: int) -> str:
    """Read one stored event and apply what it says; its final status."""
    with app_context():
        events.count_attempt(event_id)
        event = events.get(event_id)
        if event.status != EventStatus.pending:
            return event.status.value  # done before: a duplicate enqueue, or a replay of a finished one
        if event.attempts > MAX_ATTEMPTS:
            events.finish(event, EventStatus.failed, error=f"gave up after {MAX_ATTEMPTS} attempts")
            db.session.commit()
            return EventStatus.failed.value
        try:
            verdict = reading.read(event)
        except reading.Unreadable as exc:
            events.finish(event, EventStatus.failed, error=str(exc))
            db.session.commit()
            return EventStatus.failed.value
        status, account_id = effects.apply(event.id, verdict)
        events.finish(event, status, classification=verdict.classification.as_json(), account_id=account_id)
        db.session.commit()
        return status.value


def sweep_pending(older_than_seconds: int = 300) -> int:
    """Enqueue events left pending (Redis was down at ingest, a worker died); how many."""
    from workers.queues import enqueue_event
    with app_context():
        stale = events.stale_pending(timedelta(seconds=older_than_seconds))
        db.session.commit()
        for event_id in stale:
            enqueue_event(event_id, unless_waiting=True)
        if stale:
            log.info("swept %d pending events (config %s)", len(stale), current_app.name)
        return len(stale)
