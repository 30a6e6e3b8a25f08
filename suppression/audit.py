"""Audit log entries: added to the caller's session, committed with the change they record."""
from __future__ import annotations

from suppression.db import db
from suppression.models import AuditEntry


def record(actor: str, action: str, target: str, *, account_id: int | None = None,
           reason: str | None = None, details: dict | None = None) -> AuditEntry:
    """Add one audit entry to the current transaction."""
    entry = AuditEntry(actor=actor, action=action, target=target, account_id=account_id,
                       reason=reason, details=details)
    db.session.add(entry)
    return entry
