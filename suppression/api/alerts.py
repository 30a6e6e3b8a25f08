"""Staff: AUP alerts, and their lifecycle (open → acknowledged → resolved or dismissed)."""
from __future__ import annotations

from pydantic import BaseModel, Field

from suppression import alerts
from suppression.api.auth import actor, requires
from suppression.api.blueprint import api_blueprint
from suppression.api.schemas import (
    CONFLICT,
    MAX_PAGE_SIZE,
    UNSUPPORTED,
    Id,
    Page,
    SmallId,
    Strict,
)
from suppression.db import db, iso
from suppression.models import Alert, AlertStatus, Role, Severity
from suppression.policy import RULES

bp = api_blueprint("alerts", __name__, "staff")


class AlertQuery(Strict):
    status: AlertStatus | None = None
    severity: Severity | None = None
    rule: str | None = Field(None, description=", ".join(RULES))
    account_id: SmallId | None = None
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    before: Id | None = Field(None, description="The `next` cursor of the previous page.")


class AlertPath(Strict):
    alert_id: Id


class NoteBody(Strict):
    note: str | None = Field(None, max_length=2000, description="Why; required to resolve or dismiss.")


# What the views answer (the OpenAPI document's response schemas).

class Evidence(BaseModel):
    event_id: int
    href: str = Field(description="/v1/inbound/<event_id>")


class Signoff(BaseModel):
    at: str = Field(description="UTC, ISO 8601")
    by: str
    note: str | None


class AlertView(BaseModel):
    id: int
    account_id: int
    rule: str
    severity: Severity
    status: AlertStatus
    value: float = Field(description="The rate (or count) when last evaluated")
    threshold: float = Field(description="The level of `severity` it crossed")
    window_days: int
    volume: int = Field(description="Sends in the window")
    events: int = Field(description="The rule's events in the window")
    evidence: list[Evidence] = Field(description="The events behind it, newest first")
    opened_at: str = Field(description="UTC, ISO 8601")
    evaluated_at: str = Field(description="UTC, ISO 8601")
    acknowledged: Signoff | None
    closed: Signoff | None = Field(description="Resolved or dismissed")


class AlertPage(Page):
    items: list[AlertView]


def alert_json(alert: Alert) -> dict:
    return {"id": alert.id, "account_id": alert.account_id, "rule": alert.rule, "severity": alert.severity.value,
            "status": alert.status.value, "value": alert.value, "threshold": alert.threshold,
            "window_days": alert.window_days, "volume": alert.volume, "events": alert.events,
            "evidence": [{"event_id": event_id, "href": f"/v1/inbound/{event_id}"} for event_id in alert.evidence],
            "opened_at": iso(alert.opened_at), "evaluated_at": iso(alert.evaluated_at),
            "acknowledged": _by(alert.acknowledged_at, alert.acknowledged_by, alert.acknowledged_note),
            "closed": _by(alert.closed_at, alert.closed_by, alert.closed_note)}


def _by(at, who, note) -> dict | None:
    return None if at is None else {"at": iso(at), "by": who, "note": note}


# A move the alert's status does not allow (resolving a dismissed alert) is a 409.
MOVED = {200: AlertView, **CONFLICT, **UNSUPPORTED}


@bp.get("/alerts", responses={200: AlertPage})
@requires(Role.staff)
def list_alerts(query: AlertQuery):
    """Alerts, newest first; filter by status, severity, rule or account."""
    stmt = alerts.query(status=query.status, severity=query.severity, rule=query.rule, account_id=query.account_id)
    rows, cursor = alerts.page(stmt, query.limit, query.before)
    return {"items": [alert_json(a) for a in rows], "next": cursor}


@bp.get("/alerts/<int:alert_id>", responses={200: AlertView})
@requires(Role.staff)
def show_alert(path: AlertPath):
    """One alert, with links to its evidence."""
    return alert_json(alerts.get(path.alert_id))


@bp.post("/alerts/<int:alert_id>/acknowledge", responses=MOVED)
@requires(Role.staff)
def acknowledge_alert(path: AlertPath, body: NoteBody):
    """Someone is on it (an open alert only; the note is optional)."""
    return _move(path.alert_id, "acknowledge", body.note)


@bp.post("/alerts/<int:alert_id>/resolve", responses=MOVED)
@requires(Role.staff)
def resolve_alert(path: AlertPath, body: NoteBody):
    """Dealt with, with a note; the rule crossing again opens a new alert."""
    return _move(path.alert_id, "resolve", body.note)


@bp.post("/alerts/<int:alert_id>/dismiss", responses=MOVED)
@requires(Role.staff)
def dismiss_alert(path: AlertPath, body: NoteBody):
    """Not a real problem, with a note."""
    return _move(path.alert_id, "dismiss", body.note)


def _move(alert_id: int, action: str, note: str | None) -> dict:
    alert = alerts.move(alerts.get(alert_id), action, actor(), note)
    db.session.commit()
    return alert_json(alert)
