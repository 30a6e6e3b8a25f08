"""Inbound events: every message and provider payload, stored raw before anything reads it."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import BigId, UtcDateTime


class EventStatus(str, enum.Enum):
    pending = "pending"  # stored, not yet (successfully) processed
    processed = "processed"
    failed = "failed"  # unreadable, or failed every retry: kept for a person, replayable
    ignored = "ignored"  # read, and nothing to do (a delivery report, a not-spam report)


class Event(db.Model):
    """One inbound message or provider event. `dedupe_key` makes the same message or provider
    event, delivered twice, one row."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # mail, ses, sendgrid, mailgun, postmark
    kind: Mapped[str] = mapped_column(String(16), default="auto")  # what the sender said it is
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[EventStatus] = mapped_column(Enum(EventStatus, native_enum=False, length=16),
                                                default=EventStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[dict | None] = mapped_column(JSON)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
