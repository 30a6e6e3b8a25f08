"""The seeds queue's jobs: auditing seed messages, opt-out seeds' one-click POSTs, and DNS checks
made again. Module-level functions taking ids, like workers/jobs.py.

Seed messages are routed by the inbound batch job (workers/jobs.py: mail to a seed's address, or
stored with kind=seed) and handed over here, a batch at a time: an audit waits on DNS and, for an
opt-out seed, on a dealer's web server, and bounces must not wait behind it. A batch is one
transaction (one statement a table for the whole batch, not one a message); when it fails, it
is rolled back and each message is tried again on its own, with RQ's retries.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from seedlist import findings, mailboxes, optouts
from suppression import counters, events
from suppression.db import db
from suppression.models import EventStatus, Seed, SeedOptOut
from workers import alerting, queues, reading, seeds

MAX_ATTEMPTS = 8  # then the message is parked as failed for a person to look at (as workers/jobs.py)
RETRY_SECONDS = 30
log = logging.getLogger(__name__)


def hand_over(event_ids: list[int]) -> None:
    """Queue the audit of these stored seed messages (after the commit that routed them)."""
    if not event_ids:
        return
    job_id = f"seed-event-{event_ids[0]}" if len(event_ids) == 1 else None  # one waiting job per swept message
    try:
        queues.enqueue(queues.SEEDS, "workers.seed_jobs.audit_seeds", event_ids, job_id=job_id, unique=bool(job_id))
    except DuplicateJobError:
        pass
    except RedisError as exc:  # they stay pending: the sweep routes them again
        log.warning("%d seed messages not queued, Redis is unavailable: %s", len(event_ids), type(exc).__name__)


def audit_seeds(event_ids: list[int]) -> int:
    """Audit a batch of stored seed messages, in one transaction; how many were audited now."""
    # The attempts are committed first (a message that kills its worker is parked after
    # MAX_ATTEMPTS), without waiting for the disk: a count lost in a crash only allows a retry more.
    events.relaxed_commit()
    events.count_attempts(event_ids)
    db.session.commit()
    try:
        results = _audit_batch(event_ids)
        db.session.commit()
    except Exception:
        db.session.rollback()
        if len(event_ids) == 1:
            raise  # RQ tries it again, with backoff
        log.exception("a batch of %d seed messages failed; retrying each on its own", len(event_ids))
        for event_id in event_ids:
            _retry_alone(event_id)
        return 0
    for optout_id in [r.optout_id for r in results if r.optout_id is not None]:
        queues.enqueue(queues.SEEDS, "workers.seed_jobs.seed_optout", optout_id)
    alerting.request_evaluation(sorted({r.account_id for r in results if r.counts}))
    return len(results)


def audit_seed(event_id: int) -> int:
    """Audit one stored seed message (a retry, or a sweep)."""
    return audit_seeds([event_id])


def _audit_batch(event_ids: list[int]) -> list[seeds.Result]:
    # A replay of the whole batch is harmless: the events are pending until this commits.
    events.relaxed_commit()
    results = []
    with db.session.no_autoflush:  # the batch's rows are written together, at the commit
        for event in events.claim_pending(event_ids):  # the others: audited before, or another worker's
            result = _audit_one(event)
            if result is not None:
                results.append(result)
    _count(results)
    return results


def _audit_one(event) -> seeds.Result | None:
    if event.attempts > MAX_ATTEMPTS:
        events.finish(event, EventStatus.failed, error=f"gave up after {MAX_ATTEMPTS} attempts")
        return None
    try:
        recipients = reading.recipients(event.raw or b"")
    except reading.Unreadable:
        recipients = ()
    result = seeds.audit_event(event, recipients)
    events.finish(event, EventStatus.processed, classification=result.summary, account_id=result.account_id,
                  outcome=result.outcome)
    return result


def _count(results: list[seeds.Result]) -> None:
    """Bump the counters the batch's messages counted, one statement per account and counter."""
    totals = Counter((r.account_id, counter) for r in results if r.account_id is not None for counter in r.counts)
    for (account_id, counter), amount in sorted(totals.items()):
        counters.bump(account_id, counter, amount)


def _retry_alone(event_id: int) -> None:
    try:
        queues.enqueue(queues.SEEDS, "workers.seed_jobs.audit_seed", event_id, job_id=f"seed-event-{event_id}",
                       unique=True, delay=timedelta(seconds=RETRY_SECONDS))
    except (DuplicateJobError, RedisError):
        pass  # one is waiting already, or the sweep will find the message pending


def seed_optout(optout_id: int) -> str:
    """Perform an opt-out seed's one-click unsubscribe; its outcome. A time-out or connection
    error raises, and RQ tries again (RETRY); the grace period runs from the request either way."""
    optout = db.session.get(SeedOptOut, optout_id)
    if optout is None or optouts.finished(optout):
        return optout.outcome if optout is not None else "gone"
    answer = optouts.perform(optout)
    db.session.commit()
    log.info("opt-out %s: one-click POST %s (%s)", optout_id, answer.outcome, answer.status)
    if not optouts.finished(optout):
        raise RuntimeError(f"opt-out {optout_id}: {answer.outcome}: {answer.detail}")
    return answer.outcome


def recheck_seeds() -> int:
    """Check again the DNS rules of seed messages audited while DNS did not answer; how many."""
    done = 0
    for event_id in findings.dns_pending():
        result = seeds.recheck(events.get(event_id))
        _count([result])
        db.session.commit()
        alerting.request_evaluation([result.account_id] if result.counts else [])
        done += 1
    return done


def poll_mailboxes() -> int:
    """Queue a poll of every seed mailbox that is due (workers/schedule.py); how many."""
    due = mailboxes.due()
    db.session.commit()
    for seed_id in due:
        try:
            queues.enqueue(queues.SEEDS, "workers.seed_jobs.poll_mailbox", seed_id, job_id=f"seed-mailbox-{seed_id}",
                           unique=True, retry=None)
        except DuplicateJobError:
            pass  # the previous poll of that mailbox is still waiting
    return len(due)


def poll_mailbox(seed_id: int) -> int:
    """Read one seed's mailbox, store what is new, and hand it to the audit; how many were new."""
    seed = db.session.get(Seed, seed_id)
    if seed is None or seed.mailbox_sealed is None:
        return 0
    polled = mailboxes.poll(seed)
    db.session.commit()
    hand_over(polled.new_event_ids)
    return len(polled.new_event_ids)
