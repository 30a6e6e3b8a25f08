"""Inbound events: every message and provider payload, stored raw before anything reads it.

A message is one event, its raw bytes on the event row. A provider's payload (a webhook's body)
may hold many events (an SES notification for three recipients, a SendGrid batch): it is
stored once, in `payloads`, and each event of it holds what the adapter found for it."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import BigId, UtcDateTime


class EventStatus(str, enum.Enum):
    pending = "pending"  # stored, not yet (successfully) processed
    processed = "processed"
    failed = "failed"  # unreadable, or failed every retry: kept for a person, replayable
    ignored = "ignored"  # read, and nothing to do (a delivery report, a not-spam report)


class Outcome(str, enum.Enum):
    """What a processed event counted against its dealer: the evidence an AUP alert links to.
    An event with several recipients counts as the weightiest of what it did."""

    complaint = "complaint"
    hard_bounce = "hard_bounce"
    unsubscribe = "unsubscribe"
    soft_bounce = "soft_bounce"
    trap_hit = "trap_hit"  # mail to a trap seed
    optout_ignored = "optout_ignored"  # mail to an opted-out seed after the grace period
    seed_finding = "seed_finding"  # a seed message that broke a content rule


class Payload(db.Model):
    """A provider's webhook body as it arrived, kept as evidence for its events."""

    __tablename__ = "payloads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # ses, sendgrid, mailgun, postmark
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Event(db.Model):
    """One inbound message or provider event. `dedupe_key` makes the same message or provider
    event, delivered twice, one row."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_id", "status", "id"),
                      Index("ix_events_account_outcome_id", "account_id", "outcome", "id"),
                      # An account's latest counted events, whatever they counted as (the console).
                      Index("ix_events_account_counted_id", "account_id", "id",
                            postgresql_where=text("outcome IS NOT NULL"), sqlite_where=text("outcome IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # mail, ses, sendgrid, mailgun, postmark
    kind: Mapped[str] = mapped_column(String(16), default="auto")  # what the sender said it is
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # a message's bytes; None for a provider event
    # A provider event: the payload it came in, and what the provider's adapter found for it at
    # ingest (classification, opt-out and its list, SNS subscription URL, time), so that the
    # worker acts on it without parsing the payload again. None for messages and older events.
    payload_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payloads.id", ondelete="SET NULL"))
    finding: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[EventStatus] = mapped_column(Enum(EventStatus, native_enum=False, length=16),
                                                default=EventStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[dict | None] = mapped_column(JSON)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    outcome: Mapped[Outcome | None] = mapped_column(Enum(Outcome, native_enum=False, length=16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
