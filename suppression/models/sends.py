"""Send volume reported by senders: the denominators of the AUP rates."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import BigId, UtcDateTime


class SendReport(db.Model):
    """One report of sends, kept so that a retried report (the same Idempotency-Key) counts once."""

    __tablename__ = "send_reports"
    __table_args__ = (UniqueConstraint("account_id", "idempotency_key", name="uq_send_reports_account_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))  # of the report's body: the same key with another body is refused
    count: Mapped[int] = mapped_column()
    day: Mapped[date] = mapped_column(Date)
    campaign: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
