"""The alerts queue (critical first, then the oldest) and one alert with its evidence."""
from __future__ import annotations

from flask import render_template, request, url_for

from suppression import accounts, alerts, events
from suppression.admin import forms
from suppression.admin.blueprint import act, actor, admin_only, bp
from suppression.models import AlertStatus, Severity
from suppression.models.alerts import OPEN_STATUSES
from suppression.policy import RULES

PER_PAGE = 50
STATUSES = {"": OPEN_STATUSES, "all": None, **{s.value: s for s in AlertStatus}}
SEVERITIES = {"": None, **{s.value: s for s in Severity}}
RULE_NAMES = {"": None, **{name: name for name in RULES}}
EVIDENCE_SHOWN = 20


@bp.get("/")
def alerts_queue():
    """Alerts needing a person (open and acknowledged by default), critical first, then the oldest."""
    status, severity = forms.choice("status", STATUSES), forms.choice("severity", SEVERITIES)
    rule, account_id = forms.choice("rule", RULE_NAMES), forms.whole("account")
    page = forms.whole("page", 1, minimum=1)
    stmt = alerts.query(status=status, severity=severity, rule=rule, account_id=account_id)
    rows, total = alerts.queue(stmt, (page - 1) * PER_PAGE, PER_PAGE)
    return render_template("admin/alerts.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
                           filters=_filters(), statuses=STATUSES, severities=SEVERITIES, rules=RULE_NAMES)


def _filters() -> dict:
    return {name: request.args.get(name, "") for name in ("status", "severity", "rule", "account")}


@bp.get("/alerts/<int:alert_id>")
def alert_page(alert_id: int):
    """One alert: its reading, its history, its evidence, and what staff may do with it."""
    alert = alerts.get(alert_id)
    account = accounts.get(alert.account_id)
    evidence = events.by_ids(alert.evidence[:EVIDENCE_SHOWN])
    return render_template("admin/alert.html", alert=alert, account=account, evidence=evidence,
                           more_evidence=max(0, len(alert.evidence) - EVIDENCE_SHOWN))


@bp.post("/alerts/<int:alert_id>/acknowledge")
def acknowledge_alert(alert_id: int):
    """Say that a person is on it (analysts and admins)."""
    return _move(alert_id, "acknowledge", forms.note(required=False))


@bp.post("/alerts/<int:alert_id>/<any(resolve, dismiss):action>")
@admin_only
def close_alert(alert_id: int, action: str):
    """Resolve or dismiss, with a note (admins)."""
    return _move(alert_id, action, forms.note(required=False))


def _move(alert_id: int, action: str, note: str | None):
    alert = alerts.get(alert_id)

    def change() -> str:
        alerts.move(alert, action, actor(), note)
        return f"Alert {alert.id} {alert.status.value}."
    return act(change, url_for("admin.alert_page", alert_id=alert_id))
