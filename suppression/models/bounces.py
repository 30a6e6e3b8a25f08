"""Soft bounces, one row each: counted per address over a window to decide a suppression."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import BigId, UtcDateTime


class SoftBounce(db.Model):
    __tablename__ = "soft_bounces"
    __table_args__ = (Index("ix_soft_bounces_address_at", "address", "at"),
                      UniqueConstraint("event_id", "address", name="uq_soft_bounces_event_address"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    event_id: Mapped[int] = mapped_column(BigId)  # with the address: one count per event, however often it runs
    account_id: Mapped[int | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
