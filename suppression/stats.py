"""Counts of what the tables hold now, for the service's metrics: one GROUP BY a table, reads only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func, or_, select, type_coerce

from suppression.db import db
from suppression.models import Account, Alert, Event, EventStatus, Suppression
from suppression.models.alerts import OPEN_STATUSES


def _text(column):
    # The stored value as it is: a value outside the model's enum is counted, not a LookupError.
    return type_coerce(column, String)


def suppressions_in_force(now: datetime) -> list[tuple[str, str, int]]:
    """(reason, scope level, entries) of the suppressions the check applies at `now`."""
    is_global, whole_account = Suppression.account_id.is_(None), Suppression.list_name.is_(None)
    rows = db.session.execute(
        select(_text(Suppression.reason), is_global, whole_account, func.count())
        .where(or_(Suppression.expires_at.is_(None), Suppression.expires_at > now))
        .group_by(Suppression.reason, is_global, whole_account))
    return [(reason, "global" if glob else "account" if whole else "list", n) for reason, glob, whole, n in rows]


def events() -> list[tuple[str, str, str, int]]:
    """(source, kind, status, events) of every stored inbound event."""
    columns = (Event.source, Event.kind, _text(Event.status))
    return [tuple(row) for row in db.session.execute(
        select(*columns, func.count()).group_by(Event.source, Event.kind, Event.status))]


def stranded(received_before: datetime) -> int:
    """Pending events received before `received_before`: stranded (Redis was down, a worker
    died) or waiting behind a backlog."""
    return db.session.scalar(select(func.count()).select_from(Event)
                             .where(Event.status == EventStatus.pending, Event.received_at < received_before))


def open_alerts() -> list[tuple[str, str, str, int]]:
    """(severity, rule, status, alerts) of the alerts still open (open or acknowledged)."""
    return [tuple(row) for row in db.session.execute(
        select(_text(Alert.severity), Alert.rule, _text(Alert.status), func.count())
        .where(Alert.status.in_(OPEN_STATUSES)).group_by(Alert.severity, Alert.rule, Alert.status))]


def accounts() -> list[tuple[str, int]]:
    """(status, accounts)."""
    return [tuple(row) for row in db.session.execute(
        select(_text(Account.status), func.count()).group_by(Account.status))]
