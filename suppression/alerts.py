"""The only writer of AUP alerts: opened and updated from the rules' readings, and moved by staff
through their lifecycle (open → acknowledged → resolved or dismissed). Every change is audited;
nothing here commits."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func, select

from suppression import audit
from suppression.db import db, keyset_page, utcnow
from suppression.errors import Conflict, Invalid, NotFound
from suppression.models import Account, Alert, AlertStatus, Event, Severity
from suppression.models.alerts import OPEN_STATUSES
from suppression.policy import RULES, Level, Reading

EVIDENCE_KEPT = 50  # event ids an alert links to, newest first
ACTOR = "aup"  # how the audit log names the rules' own changes


class Change(str, enum.Enum):
    opened = "opened"
    escalated = "escalated"  # warning → critical


@dataclass(frozen=True)
class Changed:
    alert_id: int
    account_id: int
    change: Change
    severity: Severity


def open_alerts(account_ids: list[int] | None = None) -> dict[int, dict[str, Alert]]:
    """Open (or acknowledged) alerts, by account and rule."""
    stmt = select(Alert).where(Alert.status.in_(OPEN_STATUSES))
    if account_ids is not None:
        stmt = stmt.where(Alert.account_id.in_(account_ids))
    found: dict[int, dict[str, Alert]] = {}
    for alert in db.session.scalars(stmt):
        found.setdefault(alert.account_id, {})[alert.rule] = alert
    return found


def sync(account_id: int, readings: list[Reading], current: dict[str, Alert]) -> list[Changed]:
    """Bring the account's alerts in line with its readings: open an alert for a rule that
    crosses a level and has none open, update an open one in place (escalating it to critical).
    A rule back below its levels leaves its alert open, with the new value, for staff to close."""
    changes = []
    for reading in readings:
        alert = current.get(reading.rule)
        if alert is not None:
            changes += _update(alert, reading)
        elif reading.level is not None:
            changes.append(_open(account_id, reading))
    return changes


def _open(account_id: int, reading: Reading) -> Changed:
    alert = Alert(account_id=account_id, rule=reading.rule, severity=Severity(reading.level.value),
                  status=AlertStatus.open, evidence=_evidence(account_id, reading))
    _set_reading(alert, reading)
    db.session.add(alert)
    db.session.flush()
    audit.record(ACTOR, "alert.open", f"alert:{alert.id}", account_id=account_id, details=_details(alert))
    return Changed(alert.id, account_id, Change.opened, alert.severity)


def _update(alert: Alert, reading: Reading) -> list[Changed]:
    alert.evaluated_at = utcnow()
    if reading.value is None:
        return []  # too little volume to say: the alert keeps its last reading
    escalated = reading.level == Level.critical and alert.severity == Severity.warning
    if escalated:
        alert.severity = Severity.critical
    if reading.level is not None and (escalated or reading.events != alert.events):
        alert.evidence = _evidence(alert.account_id, reading)  # new events: new evidence
    _set_reading(alert, reading, keep_threshold=reading.level is None)
    if not escalated:
        return []
    audit.record(ACTOR, "alert.escalate", f"alert:{alert.id}", account_id=alert.account_id, details=_details(alert))
    return [Changed(alert.id, alert.account_id, Change.escalated, alert.severity)]


def _set_reading(alert: Alert, reading: Reading, keep_threshold: bool = False) -> None:
    alert.value, alert.window_days, alert.volume, alert.events = (reading.value, reading.window_days,
                                                                  reading.volume, reading.events)
    if not keep_threshold:
        alert.threshold = reading.threshold


def _evidence(account_id: int, reading: Reading) -> list[int]:
    outcome = RULES[reading.rule].evidence
    if outcome is None:
        return []
    since = utcnow() - timedelta(days=reading.window_days)
    return list(db.session.scalars(
        select(Event.id).where(Event.account_id == account_id, Event.outcome == outcome, Event.received_at >= since)
        .order_by(Event.id.desc()).limit(EVIDENCE_KEPT)))


def _details(alert: Alert) -> dict:
    return {"rule": alert.rule, "severity": alert.severity.value, "value": alert.value,
            "threshold": alert.threshold, "window_days": alert.window_days, "volume": alert.volume}


# --- Staff ------------------------------------------------------------------------------------

_MOVES = {  # action -> (statuses it may start from, status it ends in, the note is required)
    "acknowledge": ((AlertStatus.open,), AlertStatus.acknowledged, False),
    "resolve": (OPEN_STATUSES, AlertStatus.resolved, True),
    "dismiss": (OPEN_STATUSES, AlertStatus.dismissed, True),
}
ACTIONS = tuple(_MOVES)


def get(alert_id: int) -> Alert:
    """The alert, or NotFound."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def move(alert: Alert, action: str, actor: str, note: str | None) -> Alert:
    """Acknowledge, resolve or dismiss the alert; Conflict when its status does not allow it."""
    starts, ends, note_required = _MOVES[action]
    note = (note or "").strip() or None
    if note_required and note is None:
        raise Invalid(f"to {action} an alert, say why in a note", code="note_required",
                      details=[{"field": "note", "problem": "required"}])
    if alert.status not in starts:
        raise Conflict(f"an alert that is {alert.status.value} cannot be {ends.value}", code="illegal_transition",
                       details={"status": alert.status.value, "action": action})
    alert.status = ends
    if ends == AlertStatus.acknowledged:
        alert.acknowledged_at, alert.acknowledged_by, alert.acknowledged_note = utcnow(), actor, note
    else:
        alert.closed_at, alert.closed_by, alert.closed_note = utcnow(), actor, note
    audit.record(actor, f"alert.{action}", f"alert:{alert.id}", account_id=alert.account_id, reason=note,
                 details=_details(alert))
    return alert


def query(*, status: AlertStatus | tuple[AlertStatus, ...] | None = None, severity: Severity | None = None, rule: str | None = None,
          account_id: int | None = None):
    """A select of alerts matching the filters."""
    stmt = select(Alert)
    if isinstance(status, tuple):  # several statuses (the staff queue's "open and acknowledged")
        stmt, status = stmt.where(Alert.status.in_(status)), None
    for column, value in ((Alert.status, status), (Alert.severity, severity), (Alert.rule, rule),
                          (Alert.account_id, account_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def queue(stmt, offset: int, limit: int) -> tuple[list[tuple[Alert, str]], int]:
    """A page of the staff queue: critical first, then the oldest; each alert with its account's
    name, and how many match in all."""
    first = case((Alert.severity == Severity.critical, 0), else_=1)
    # The name by a subquery, so that only the page's alerts look up their account (a join would
    # read every account before the sort and the cut).
    name = select(Account.name).where(Account.id == Alert.account_id).scalar_subquery()
    rows = db.session.execute(stmt.add_columns(name).order_by(first, Alert.opened_at, Alert.id)
                              .offset(offset).limit(limit)).all()
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    return [(alert, name) for alert, name in rows], total


def page(stmt, limit: int, before: int | None) -> tuple[list[Alert], int | None]:
    """One page of alerts, newest first, and the cursor of the next."""
    return keyset_page(stmt, Alert.id, limit, before)
