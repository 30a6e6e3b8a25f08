"""Staff users of the console: people, not API keys."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from suppression.db import db, utcnow
from suppression.models.types import UtcDateTime


class StaffRole(str, enum.Enum):
    analyst = "analyst"  # views, and acknowledges alerts
    admin = "admin"  # also closes alerts, suspends, reinstates, removes suppressions


class StaffUser(db.Model):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    role: Mapped[StaffRole] = mapped_column(Enum(StaffRole, native_enum=False, length=16))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # base32; None: no second factor
    # The last TOTP time step accepted: a code seen once is refused after, even within its 30 s.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.admin
