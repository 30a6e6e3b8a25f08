"""Jobs: module-level functions taking ids, run by RQ workers (or inline without Redis).

Each job is idempotent: it may run twice or die half way (RQ does not promise exactly once);
the events table is the truth. An event is claimed (a row lock, on PostgreSQL) before it is
read, so two workers never apply one event at once, and a finished event is left alone.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from suppression import aup, events
from suppression.db import db, utcnow
from suppression.models import EventStatus
from workers import alerting, batches, effects, reading, seed_jobs

MAX_ATTEMPTS = 8  # then the event is parked as failed for a person to look at
SWEEP_BATCH = 1000  # stranded events read and queued at a time, until none is left
log = logging.getLogger(__name__)


def process_ready() -> int:
    """Process a batch of the events waiting in Redis (workers/batches.py); how many."""
    event_ids = batches.take_ready()
    try:
        _count_attempt(event_ids[0] if event_ids else None)
        db.session.commit()
    except Exception:  # taken off the list: each must be retried, or it waits for the sweeper
        db.session.rollback()
        log.exception("a batch of %d events could not start; retrying each on its own", len(event_ids))
        for event_id in event_ids:
            batches.retry_later(event_id)
        return 0
    counted: set[int] = set()  # accounts whose counters changed: judged once, after the batch
    seeds_found: list[int] = []  # seed messages: handed to the seeds queue together, after the batch
    ahead = True  # this event's attempt is counted already (with the previous event's effects)
    for event_id, following in zip(event_ids, [*event_ids[1:], None], strict=True):
        try:
            if not ahead:
                _count_attempt(event_id)
                db.session.commit()
            counted |= _process(event_id, following, seeds_found)[1]
            ahead = True
        except Exception:  # not this batch's other events' problem: this one is retried alone
            db.session.rollback()
            log.exception("event %s: processing failed; retrying it on its own", event_id)
            batches.retry_later(event_id)
            ahead = False  # the next event's attempt went with this rollback
    seed_jobs.hand_over(seeds_found)
    alerting.request_evaluation(sorted(counted))
    return len(event_ids)


def process_event(event_id: int) -> str:
    """Read one stored event and apply what it says; its status afterwards."""
    _count_attempt(event_id)
    db.session.commit()
    status, counted = _process(event_id)
    alerting.request_evaluation(sorted(counted))
    return status


def evaluate_account(account_id: int) -> int:
    """Judge one account against the AUP (asked for after events counted against it); how many
    of its alerts opened or escalated."""
    return _evaluate([account_id])


def evaluate_accounts() -> int:
    """Judge every account with recent counts or an open alert (workers/schedule.py)."""
    return _evaluate(None)


def _evaluate(account_ids: list[int] | None) -> int:
    outcome = aup.evaluate(account_ids)
    db.session.commit()
    alerting.announce(outcome)  # after the commit: what is announced is there to see
    return len(outcome.changes)


def notify(kind: str, alert_id: int) -> None:
    """Send one notification to ALERT_WEBHOOK_URL; a failure raises, and RQ retries it."""
    alerting.send(kind, alert_id)


def _count_attempt(event_id: int | None) -> None:
    # One more try at reading this event, committed before it is read: a worker that dies while
    # reading it leaves a trace on it alone, and the events after it in the batch stay unread.
    if event_id is not None:
        events.count_attempt(event_id)


def _process(event_id: int, following: int | None = None,
             seeds_found: list[int] | None = None) -> tuple[str, set[int]]:
    """The event's status afterwards, and the account it counted against (if it counted). The
    attempt at `following`, the batch's next event, is counted in the same commit: one commit an
    event, not two. A seed message is left pending for the seeds queue: added to `seeds_found`
    (handed over by the caller), or handed over now."""
    # Everything below is one transaction that a replay repeats, so its commit need not wait
    # for the disk: if the database crashes first, the event is still pending and is swept.
    events.relaxed_commit()
    event = events.claim(event_id)
    if event is None:
        _done(following)
        return EventStatus.pending.value, set()  # another worker has it right now
    if event.status != EventStatus.pending:
        _done(following)
        return event.status.value, set()  # done before: queued twice, or a replay of a finished one
    if event.attempts > MAX_ATTEMPTS:
        events.finish(event, EventStatus.failed, error=f"gave up after {MAX_ATTEMPTS} attempts")
        _done(following)
        return EventStatus.failed.value, set()
    try:
        verdict = reading.read(event)
    except reading.Unreadable as exc:
        events.finish(event, EventStatus.failed, error=str(exc))
        _done(following)
        return EventStatus.failed.value, set()
    if verdict.seed:
        event.kind = "seed"  # routed: the seeds job audits it, and it stays pending until then
        _done(following)
        if seeds_found is None:
            seed_jobs.hand_over([event_id])
        else:
            seeds_found.append(event_id)
        return EventStatus.pending.value, set()
    applied = effects.apply(event.id, verdict)
    events.finish(event, applied.status, classification=verdict.classification.as_json(),
                  account_id=applied.account_id, outcome=applied.outcome)
    _done(following)
    return applied.status.value, {applied.account_id} if applied.outcome else set()


def _done(following: int | None) -> None:
    _count_attempt(following)
    db.session.commit()


def sweep_pending(older_than_seconds: int | None = None) -> int:
    """Queue again every event left pending longer than `older_than_seconds` (SWEEP_AFTER_SECONDS
    by default: Redis was down at ingest, a worker died), in batches of SWEEP_BATCH; how many.
    Those still waiting on the ready list (behind a backlog) are not queued a second time."""
    seconds = current_app.config["SWEEP_AFTER_SECONDS"] if older_than_seconds is None else older_than_seconds
    received_before = utcnow() - timedelta(seconds=seconds)
    try:
        queued = batches.waiting()
    except RedisError:  # then nothing can be queued either; the next sweep tries again
        queued = set()
    found, after_id = 0, 0
    while page := events.stale_pending(received_before, after_id, SWEEP_BATCH):
        db.session.commit()
        stranded = [event_id for event_id in page if event_id not in queued]
        batches.enqueue_events(stranded)
        found, after_id = found + len(stranded), page[-1]
    if queued:
        batches.drain()
    log.info("swept %d pending events received over %d s ago", found, seconds)
    return found
