"""Polling seed mailboxes: each new message is stored as a seed event (audited like one that came
by the inbound path) with where it was found, and each mailbox's progress is kept on its seed.

A mailbox that fails (wrong password, server down, a time-out) records its error on its seed,
which staff see, and waits before its next try (doubling from a minute up to an hour); the
others are polled all the same. Messages are stored before the state moves past them, so a
crash between the two reads them again, and the events' dedupe keys make that harmless.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from seedlist import imap, secrets
from suppression import events, placements
from suppression.db import db, utcnow
from suppression.models import Placement, Seed, SeedStatus

FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Polled:
    seed_id: int
    new_event_ids: list[int]
    error: str | None = None


def due(now: datetime | None = None) -> list[int]:
    """Active seeds with a mailbox whose next poll is due, oldest first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(Seed.id).where(Seed.status == SeedStatus.active, Seed.mailbox_sealed.is_not(None),
                              or_(Seed.mailbox_next_poll_at.is_(None), Seed.mailbox_next_poll_at <= now))
        .order_by(Seed.id)))


def poll(seed: Seed) -> Polled:
    """Read the seed's mailbox for new messages; store them, their placement and the new state
    (in the caller's transaction, except the events, which events.store may commit at once)."""
    config = current_app.config
    try:
        fetched, states = imap.read_new(
            secrets.unseal(seed.mailbox_sealed), seed.provider, _states(seed), timeout=float(config["SEED_IMAP_TIMEOUT"]),
            allow_plain_loopback=bool(config["SEED_IMAP_ALLOW_PLAIN_LOOPBACK"]),
            cafile=config["SEED_IMAP_CAFILE"] or None, max_messages=int(config["SEED_IMAP_MAX_MESSAGES"]))
    except (imap.MailboxError, secrets.SealedUnreadable) as exc:
        return _failed(seed, _describe(exc))
    stored = events.store("mail", [(f.raw, events.mail_key(f.raw)) for f in fetched], "seed") if fetched else []
    placed = set(db.session.scalars(select(Placement.event_id).where(
        Placement.event_id.in_([event_id for event_id, _ in stored])))) if stored else set()
    for message, (event_id, _) in zip(fetched, stored, strict=True):
        if event_id not in placed:  # read before, and stored, but the poll that read it did not finish
            placements.record(event_id, seed.id, message.folder, message.placement)
            placed.add(event_id)
    seed.mailbox_state = {folder: {"uidvalidity": s.uidvalidity, "last_uid": s.last_uid} for folder, s in states.items()}
    seed.mailbox_checked_at, seed.mailbox_error, seed.mailbox_failures, seed.mailbox_next_poll_at = (
        utcnow(), None, 0, None)
    return Polled(seed.id, [event_id for event_id, new in stored if new])


def _states(seed: Seed) -> dict[str, imap.FolderState]:
    return {folder: imap.FolderState(int(s["uidvalidity"]), int(s["last_uid"]))
            for folder, s in (seed.mailbox_state or {}).items()}


def _describe(exc: Exception) -> str:
    if isinstance(exc, imap.MailboxError):
        return f"{exc.kind}: {exc.detail}"[:500]
    return f"keys: {exc}"[:500]


def _failed(seed: Seed, error: str) -> Polled:
    seed.mailbox_failures = (seed.mailbox_failures or 0) + 1
    wait = min(FIRST_BACKOFF * 2 ** (seed.mailbox_failures - 1), MAX_BACKOFF)
    seed.mailbox_checked_at, seed.mailbox_error = utcnow(), error
    seed.mailbox_next_poll_at = seed.mailbox_checked_at + wait
    log.warning("seed %s: mailbox not read (%s); next try in %d s", seed.id, error.split(":", 1)[0],
                wait.total_seconds())
    return Polled(seed.id, [], error)
