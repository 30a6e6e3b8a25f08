"""Seeds: addresses the service controls, what arrived at them, and what the audit found.

A seed's mailbox (an IMAP URL with its password) is kept only sealed with the SEED_KEYS
(seedlist/secrets.py); the table holds no credential in the clear."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import BigId, UtcDateTime


class SeedKind(str, enum.Enum):
    monitor = "monitor"  # handed out: goes into each campaign
    trap = "trap"  # never handed out: mail to it means a bought or scraped list
    optout = "optout"  # handed out, unsubscribes on first mail: later mail means opt-outs are ignored


class SeedStatus(str, enum.Enum):
    active = "active"
    retired = "retired"  # kept for its history; never handed out, and no longer protected


class FindingSeverity(str, enum.Enum):
    info = "info"
    warning = "warning"
    critical = "critical"


class Seed(db.Model):
    __tablename__ = "seeds"
    __table_args__ = (Index("ix_seeds_status_kind", "status", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)  # normalized
    kind: Mapped[SeedKind] = mapped_column(Enum(SeedKind, native_enum=False, length=16))
    provider: Mapped[str] = mapped_column(String(32), default="own")  # gmail, outlook, yahoo, own, ...
    mailbox_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # the IMAP URL, sealed
    mailbox_host: Mapped[str | None] = mapped_column(String(300))  # what staff may see of it: scheme://host:port
    status: Mapped[SeedStatus] = mapped_column(Enum(SeedStatus, native_enum=False, length=16),
                                               default=SeedStatus.active)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Reading the mailbox (seedlist/imap.py): per folder its UIDVALIDITY and the last UID read;
    # the last poll, its error if it failed (staff see it), and when to try again (backoff).
    mailbox_state: Mapped[dict | None] = mapped_column(JSON)
    mailbox_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    mailbox_error: Mapped[str | None] = mapped_column(Text)
    mailbox_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    mailbox_next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SeedAssignment(db.Model):
    """A seed handed to an account for one campaign: stable (asked again, the same seeds), and the
    list placement reports count arrivals against."""

    __tablename__ = "seed_assignments"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200), primary_key=True)
    seed_id: Mapped[int] = mapped_column(ForeignKey("seeds.id", ondelete="CASCADE"), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SeedMessage(db.Model):
    """One audited message at a seed: who sent it, for which campaign, and every rule's result."""

    __tablename__ = "seed_messages"
    __table_args__ = (Index("ix_seed_messages_account_at", "account_id", "received_at"),
                      Index("ix_seed_messages_seed_at", "seed_id", "received_at"),
                      Index("ix_seed_messages_dns_pending", "dns_pending"))

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    seed_id: Mapped[int | None] = mapped_column(ForeignKey("seeds.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    campaign: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    results: Mapped[dict] = mapped_column(JSON)  # rule -> pass | fail | unknown (rules that did not apply: absent)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # DNS did not answer for some rule (unknown): checked again (workers/schedule.py) until it
    # does, or SEED_DNS_RETRIES checks have been made.
    dns_pending: Mapped[bool] = mapped_column(default=False)
    dns_checks: Mapped[int] = mapped_column(default=0)
    counted: Mapped[bool] = mapped_column(default=False)  # counted once in the account's seed_findings


class Finding(db.Model):
    """A rule a seed message broke, with the message's event as evidence."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_account_id", "account_id", "id"),
                      Index("ix_findings_seed_id", "seed_id", "id"),
                      Index("ix_findings_rule_id", "rule", "id"),
                      Index("ix_findings_event_id", "event_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("events.id", ondelete="CASCADE"))
    seed_id: Mapped[int | None] = mapped_column(ForeignKey("seeds.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[FindingSeverity] = mapped_column(Enum(FindingSeverity, native_enum=False, length=16))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Placement(db.Model):
    """Where a seed message was found in its mailbox: the inbox, the spam folder, or another."""

    __tablename__ = "placements"
    __table_args__ = (Index("ix_placements_seed_found", "seed_id", "found_at"),)

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    seed_id: Mapped[int] = mapped_column(ForeignKey("seeds.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(200))
    placement: Mapped[str] = mapped_column(String(16))  # inbox, spam, other
    found_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SeedOptOut(db.Model):
    """An opt-out seed's unsubscribe from one account, through that account's own one-click link:
    asked for once, on the first message that offered one; mail after the grace period from then
    on is `optout_ignored`."""

    __tablename__ = "seed_optouts"
    __table_args__ = (UniqueConstraint("seed_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seed_id: Mapped[int] = mapped_column(ForeignKey("seeds.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("events.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text)  # the one-click link the message carried
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # the grace period runs from here
    performed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # ok, rejected, refused, timeout, error
    http_status: Mapped[int | None] = mapped_column()
    detail: Mapped[str | None] = mapped_column(Text)
