"""Dealer accounts, their sending domains and API keys."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from suppression.db import db, utcnow
from suppression.models.types import UtcDateTime


class AccountStatus(str, enum.Enum):
    active = "active"
    suspended = "suspended"


class Role(str, enum.Enum):
    sender = "sender"
    staff = "staff"
    ingest = "ingest"


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[AccountStatus] = mapped_column(
        Enum(AccountStatus, native_enum=False, length=16), default=AccountStatus.active
    )
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    postal_address: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    domains: Mapped[list[AccountDomain]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="AccountDomain.domain"
    )

    @property
    def suspended(self) -> bool:
        return self.status == AccountStatus.suspended


class AccountDomain(db.Model):
    """A sending domain; unique, so a bounce's DKIM or From domain names one account."""

    __tablename__ = "account_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)

    account: Mapped[Account] = relationship(back_populates="domains")


class ApiKey(db.Model):
    """An API key, stored only as a SHA-256 digest: keys are 256-bit random, so no slow hash is needed."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_account_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    account: Mapped[Account | None] = relationship()
