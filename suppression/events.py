"""The only writer of inbound events: store first, then read, then record what was found."""
from __future__ import annotations

import hashlib
from contextlib import nullcontext
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import defer

from suppression.db import db, dialect, on_own_connection, pyformat, utcnow
from suppression.errors import NotFound
from suppression.models import Event, EventStatus, Outcome, Payload

SOURCES = ("mail", "ses", "sendgrid", "mailgun", "postmark")
KINDS = ("auto", "bounce", "complaint", "seed", "unsubscribe")


def mail_key(raw: bytes) -> str:
    """The dedupe key of a raw message: the same bytes (whatever their line ends) are one event."""
    canonical = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").strip()
    return "mail:" + hashlib.sha256(canonical).hexdigest()


def store(source: str, payloads: list[tuple[bytes, str]], kind: str = "auto") -> list[tuple[int, bool]]:
    """Store messages, (raw bytes, dedupe key) pairs, as pending events, each with its raw bytes,
    all or none: for each, (its id, True), or for one stored before, (that event's id, False). In
    the caller's transaction, except on PostgreSQL, where this is the documented hot path of every
    bounce: its own connection in autocommit, committed when this returns."""
    return store_messages(source, [(raw, key, kind) for raw, key in payloads])


def store_messages(source: str, messages: list[tuple[bytes, str, str]]) -> list[tuple[int, bool]]:
    """`store` for messages of different kinds, (raw bytes, dedupe key, kind) triples: several
    messages stored together (the LMTP listener's) share one transaction and one commit."""
    rows = [{"source": source, "kind": kind, "dedupe_key": key[:200], "raw": raw, "received_at": utcnow()}
            for raw, key, kind in messages]
    if dialect() != "postgresql":
        return [_store_in_session(_insert(), row) for row in rows]
    # Outside the ORM session: one event (a message) is one statement in autocommit, with no
    # BEGIN or COMMIT round trips. Storing is idempotent (the dedupe key), so a database blip
    # gets one more try on a new connection rather than a 503.
    def run(driver) -> list[tuple[int, bool]]:
        with driver.transaction() if len(rows) > 1 else nullcontext(), driver.cursor() as cursor:
            return [_store_on_driver(cursor, row) for row in rows]
    return on_own_connection(run, retry=True)


def store_payload(source: str, raw: bytes, found: list[tuple[str, dict]]) -> list[tuple[int, bool]]:
    """Store a provider's payload once, and each event found in it, (dedupe key, finding), as a
    pending event of that payload: for each, (its id, True), or for one stored before, (that
    event's id, False). A payload none of whose events is new is not stored. In the caller's
    transaction."""
    received_at = utcnow()
    stored = [_store_in_session(_insert_found(), {"source": source, "dedupe_key": key[:200], "finding": finding,
                                                  "received_at": received_at}) for key, finding in found]
    new = [event_id for event_id, is_new in stored if is_new]
    if new:
        # The payload after its events, once one is known to be new: a redelivery leaves no
        # payload behind, and nothing is ever deleted (which would scan events for references).
        payload = Payload(source=source, raw=raw, received_at=received_at)
        db.session.add(payload)
        db.session.flush()
        db.session.execute(update(Event).where(Event.id.in_(new)).values(payload_id=payload.id))
    return stored


_INSERT = ("INSERT INTO events (source, kind, dedupe_key, raw, status, attempts, received_at) "
           "VALUES (:source, :kind, :dedupe_key, :raw, 'pending', 0, :received_at) "
           "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
_INSERT_PG = pyformat(_INSERT)
_EXISTING_PG = "SELECT id FROM events WHERE dedupe_key = %(dedupe_key)s"
_INSERT_FOUND = ("INSERT INTO events (source, kind, dedupe_key, finding, status, attempts, received_at) "
                 "VALUES (:source, 'auto', :dedupe_key, :finding, 'pending', 0, :received_at) "
                 "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")


def _store_on_driver(cursor, row: dict) -> tuple[int, bool]:
    new = cursor.execute(_INSERT_PG, row).fetchone()
    if new is not None:
        return new[0], True
    return cursor.execute(_EXISTING_PG, row).fetchone()[0], False


def _store_in_session(statement, row: dict) -> tuple[int, bool]:
    new_id = db.session.execute(statement, row).scalar()
    if new_id is not None:
        return new_id, True
    return db.session.scalar(select(Event.id).where(Event.dedupe_key == row["dedupe_key"])), False


@lru_cache(maxsize=1)
def _insert():
    # Compiled once per process (a dialect insert construct is compiled per call).
    columns = Event.__table__.c
    return text(_INSERT).bindparams(bindparam("raw", type_=columns.raw.type),
                                    bindparam("received_at", type_=columns.received_at.type))


@lru_cache(maxsize=1)
def _insert_found():
    columns = Event.__table__.c
    return text(_INSERT_FOUND).bindparams(bindparam("finding", type_=columns.finding.type),
                                          bindparam("received_at", type_=columns.received_at.type))


def status_of(event_id: int) -> str:
    """The event's status alone (not its raw bytes)."""
    return EventStatus(db.session.scalar(select(Event.status).where(Event.id == event_id))).value


def get(event_id: int) -> Event:
    """The event, or NotFound."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(f"no event {event_id}")
    return event


def finish(event: Event, status: EventStatus, *, classification: dict | None = None,
           account_id: int | None = None, outcome: Outcome | None = None, error: str | None = None) -> None:
    """Record the outcome of reading `event` (in the caller's transaction)."""
    event.status, event.error = status, (error or None) and error[:2000]
    event.classification = classification
    event.account_id, event.outcome = account_id, outcome
    event.processed_at = utcnow()


def evidence(account_id: int, outcome: Outcome, limit: int = 100) -> list[Event]:
    """The account's events that counted as `outcome`, newest first."""
    return list(db.session.scalars(select(Event).where(Event.account_id == account_id, Event.outcome == outcome)
                                   .order_by(Event.id.desc()).limit(limit)))


def raw_heads(event_ids: list[int], size: int) -> dict[int, tuple[bytes, int]]:
    """For each event: the first `size` bytes of its raw message and its whole length (a list of
    evidence shows the start of each, not megabytes of each)."""
    if not event_ids:
        return {}
    rows = db.session.execute(select(Event.id, func.substr(Event.raw, 1, size), func.length(Event.raw))
                              .where(Event.id.in_(event_ids)))
    return {event_id: (bytes(head or b""), length or 0) for event_id, head, length in rows}


def by_ids(event_ids: list[int]) -> list[Event]:
    """The events, in the order given, without their raw bytes (a list of evidence, not a viewer)."""
    found = {event.id: event for event in db.session.scalars(
        select(Event).where(Event.id.in_(event_ids)).options(defer(Event.raw)))} if event_ids else {}
    return [found[event_id] for event_id in event_ids if event_id in found]


def recent(account_id: int, limit: int = 50) -> list[Event]:
    """The account's latest events that counted against it, newest first, without raw bytes."""
    return list(db.session.scalars(select(Event).where(Event.account_id == account_id, Event.outcome.is_not(None))
                                   .options(defer(Event.raw), defer(Event.classification), defer(Event.finding))
                                   .order_by(Event.id.desc()).limit(limit)))


def count_attempt(event_id: int) -> None:
    """One more try at reading the event, if it is pending (commit it before the reading, so
    that a crash leaves a trace). Not counted (nor waited for) while another transaction holds it."""
    db.session.flush()  # an event this transaction has just finished is not pending any more
    db.session.execute(_count_attempt(), {"event_id": event_id})


def count_attempts(event_ids: list[int]) -> None:
    """`count_attempt` for a batch of events, in one statement (the seeds queue's batches)."""
    if event_ids:
        db.session.execute(update(Event).where(Event.id.in_(event_ids), Event.status == EventStatus.pending)
                           .values(attempts=Event.attempts + 1).execution_options(synchronize_session=False))


@lru_cache(maxsize=1)
def _count_attempt():
    # One row by its key, outside the ORM, built once: it runs for every event a worker reads. An
    # IN list over the locking subquery can be planned as a scan of the table, and the ORM's bulk
    # update costs a millisecond of its own.
    table = Event.__table__
    held = (select(table.c.id).where(table.c.id == bindparam("event_id"), table.c.status == EventStatus.pending.value)
            .with_for_update(skip_locked=True).scalar_subquery())
    return update(table).where(table.c.id == held).values(attempts=table.c.attempts + 1)


def relaxed_commit() -> None:
    """Let this transaction's commit return before its WAL reaches the disk (PostgreSQL). Only
    for work that is replayed when lost: processing an event, whose stored event stays pending."""
    if dialect() == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit = off"))


def claim(event_id: int) -> Event | None:
    """The event, locked until the caller's transaction ends; None while another transaction
    holds it (PostgreSQL; SQLite has one writer at a time anyway). NotFound if there is none."""
    event = db.session.scalar(select(Event).where(Event.id == event_id).with_for_update(skip_locked=True))
    if event is None:
        get(event_id)
    return event


def claim_pending(event_ids: list[int]) -> list[Event]:
    """The pending events among `event_ids`, in id order, locked until the caller's transaction
    ends; those another transaction holds are left out (PostgreSQL)."""
    if not event_ids:
        return []
    return list(db.session.scalars(select(Event).where(Event.id.in_(event_ids), Event.status == EventStatus.pending)
                                   .order_by(Event.id).with_for_update(skip_locked=True)))


def failed(limit: int = 100) -> list[Event]:
    """Events that could not be read, oldest first."""
    return list(db.session.scalars(select(Event).where(Event.status == EventStatus.failed)
                                   .order_by(Event.id).limit(limit)))


def stale_pending(received_before: datetime, after_id: int = 0, limit: int = 1000) -> list[int]:
    """Pending events received before `received_before` (Redis was down, or a worker died), with
    ids above `after_id`, in id order: the next `limit` of them."""
    return list(db.session.scalars(select(Event.id).where(Event.status == EventStatus.pending,
                                                          Event.received_at < received_before,
                                                          Event.id > after_id)
                                   .order_by(Event.id).limit(limit)))


def reopen(event_id: int) -> Event:
    """Make a failed (or any) event pending again with no attempts counted, for a replay: one parked
    after its attempts gets them all again."""
    event = get(event_id)
    event.status, event.error, event.processed_at = EventStatus.pending, None, None
    event.attempts = 0
    return event
