"""AUP alerts: one open alert per account and rule, and the lifecycle staff move it through."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import BigId, UtcDateTime


class AlertStatus(str, enum.Enum):
    open = "open"
    acknowledged = "acknowledged"  # a person is on it
    resolved = "resolved"  # dealt with; the rule crossing again opens a new alert
    dismissed = "dismissed"  # not a real problem


class Severity(str, enum.Enum):
    warning = "warning"
    critical = "critical"


OPEN_STATUSES = (AlertStatus.open, AlertStatus.acknowledged)
_OPEN = "status IN ('open', 'acknowledged')"


class Alert(db.Model):
    """The current reading of one AUP rule for one account, while the alert is open it is
    updated in place; `evidence` holds the ids of the events that made it."""

    __tablename__ = "alerts"
    __table_args__ = (
        # One open alert per account and rule; closed ones are history.
        Index("uq_alerts_open_account_rule", "account_id", "rule", unique=True,
              postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
        Index("ix_alerts_status_severity_id", "status", "severity", "id"),
        Index("ix_alerts_account_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[Severity] = mapped_column(Enum(Severity, native_enum=False, length=16))
    status: Mapped[AlertStatus] = mapped_column(Enum(AlertStatus, native_enum=False, length=16),
                                                default=AlertStatus.open)
    value: Mapped[float] = mapped_column(Float)  # the rate (or count) when last evaluated
    threshold: Mapped[float] = mapped_column(Float)  # the level of `severity` it crossed
    window_days: Mapped[int] = mapped_column()
    volume: Mapped[int] = mapped_column()  # sends in the window
    events: Mapped[int] = mapped_column()  # the rule's events in the window (complaints, ...)
    evidence: Mapped[list] = mapped_column(JSON, default=list)  # event ids, newest first
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledged_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(320))
    closed_note: Mapped[str | None] = mapped_column(Text)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
