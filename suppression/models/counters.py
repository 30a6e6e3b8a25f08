"""Per-account daily counters: the numerators and denominators of the AUP rates."""
from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db

COUNTERS = ("sends", "hard_bounces", "soft_bounces", "complaints", "unsubscribes", "trap_hits", "seed_findings",
            "optout_violations", "auth_failure_reports")


def _counter() -> Mapped[int]:
    return mapped_column(BigInteger, default=0, server_default="0")


class DailyCount(db.Model):
    """One row per account and UTC day; bumped in the transaction of the change it counts."""

    __tablename__ = "daily_counts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sends: Mapped[int] = _counter()
    hard_bounces: Mapped[int] = _counter()
    soft_bounces: Mapped[int] = _counter()
    complaints: Mapped[int] = _counter()
    unsubscribes: Mapped[int] = _counter()
    trap_hits: Mapped[int] = _counter()
    seed_findings: Mapped[int] = _counter()  # seed messages that broke a content rule
    optout_violations: Mapped[int] = _counter()  # mail to an opted-out seed after the grace period
    # DMARC failure reports (ARF auth-failure, RFC 6591) about the account's mail: its authentication
    # health. Not a complaint and no AUP rule: anyone can forge a dealer's From domain.
    auth_failure_reports: Mapped[int] = _counter()
