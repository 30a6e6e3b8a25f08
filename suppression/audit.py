"""Audit log entries: added to the caller's session, committed with the change they record."""
from __future__ import annotations

import orjson
from sqlalchemy import select

from suppression.db import db
from suppression.models import AuditEntry


def record(actor: str, action: str, target: str, *, account_id: int | None = None,
           reason: str | None = None, details: dict | None = None) -> AuditEntry:
    """Add one audit entry to the current transaction."""
    entry = AuditEntry(actor=actor, action=action, target=target, account_id=account_id,
                       reason=reason, details=details)
    db.session.add(entry)
    return entry


def insert_sql(rows: str) -> str:
    """For the one-statement paths of PostgreSQL: an INSERT of one audit entry per row of the SQL
    row source `rows`, whose `address` column is the target, with the parameters :audit_at,
    :audit_actor, :audit_action, :audit_account_id and :audit_details (JSON text)."""
    return ("INSERT INTO audit_log (at, actor, action, target, account_id, details) "
            "SELECT :audit_at, :audit_actor, :audit_action, address, :audit_account_id, "
            f"CAST(:audit_details AS json) FROM {rows}")


def params(at, actor: str, action: str, account_id: int | None, details: dict) -> dict:
    """The parameters of `insert_sql`."""
    return {"audit_at": at, "audit_actor": actor, "audit_action": action, "audit_account_id": account_id,
            "audit_details": orjson.dumps(details).decode()}


def entries(account_id: int, actions: tuple[str, ...] = (), limit: int = 50) -> list[AuditEntry]:
    """The account's latest audit entries (of `actions` only, when given), newest first."""
    stmt = select(AuditEntry).where(AuditEntry.account_id == account_id)
    if actions:
        stmt = stmt.where(AuditEntry.action.in_(actions))
    return list(db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
