"""Accounts: the list, and one account's page (status, charts, alerts, evidence, suppressions,
audit trail) with suspension and reinstatement."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template, url_for
from markupsafe import Markup
from sqlalchemy import func, select

from seedlist import findings
from suppression import (
    accounts,
    alerts,
    audit,
    aup,
    counters,
    events,
    lists,
    placements,
)
from suppression.admin import charts, forms
from suppression.admin.blueprint import act, actor, admin_only, bp
from suppression.db import db, utcnow
from suppression.models import Account, AccountStatus, Finding
from suppression.models.alerts import OPEN_STATUSES
from suppression.policy import RATE_RULES

PER_PAGE = 50
CHART_DAYS = 30
STATUS = {"": None, **{s.value: s for s in AccountStatus}}
STATUS_ACTIONS = ("account.suspend", "account.reinstate")
TITLES = {"complaint_rate": "Complaint rate", "hard_bounce_rate": "Hard-bounce rate",
          "unsubscribe_rate": "Unsubscribe rate"}


@bp.get("/accounts")
def accounts_list():
    """Accounts by name, filtered by status or a part of the name."""
    status, page = forms.choice("status", STATUS), forms.whole("page", 1, minimum=1)
    name = forms.text("q")
    stmt = select(Account)
    if status is not None:
        stmt = stmt.where(Account.status == status)
    if name:
        stmt = stmt.where(func.lower(Account.name).contains(name.lower(), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Account.name, Account.id).offset((page - 1) * PER_PAGE).limit(PER_PAGE))
    return render_template("admin/accounts.html", rows=list(rows), total=total, page=page, per_page=PER_PAGE,
                           q=name, status=forms.text("status"), statuses=STATUS)


@bp.get("/accounts/<int:account_id>")
def account_page(account_id: int):
    """Everything staff need to judge one dealer."""
    account = accounts.get(account_id)
    open_alerts, _ = alerts.queue(alerts.query(status=OPEN_STATUSES, account_id=account.id), 0, 100)
    return render_template(
        "admin/account.html", account=account, charts=_charts(account.id), readings=aup.readings(account.id),
        open_alerts=[alert for alert, _ in open_alerts], evidence=events.recent(account.id),
        suppressions=lists.counts_by_reason(account.id), trail=audit.entries(account.id),
        history=audit.entries(account.id, STATUS_ACTIONS, limit=20), compliance=findings.summary(account.id),
        placement=placements.trend(account.id, CHART_DAYS,
                                   current_app.config["POLICY"].inbox_placement.deadline_hours),
        latest_findings=db.session.scalars(findings.query(account.id).order_by(Finding.id.desc()).limit(10)).all())


def _charts(account_id: int) -> list[tuple[str, Markup]]:
    """(title, SVG) of the volume and of each rate rule, over the last CHART_DAYS days."""
    policy = current_app.config["POLICY"]
    lookback = max(getattr(policy, rule.name).days for rule in RATE_RULES) - 1
    last = utcnow().date()
    series = counters.series(account_id, last - timedelta(days=CHART_DAYS - 1 + lookback), last)
    drawn = [("Sends per day", charts.bars("Sends per day", charts.volume(series, CHART_DAYS)))]
    for rule in RATE_RULES:
        limits = getattr(policy, rule.name)
        title = f"{TITLES[rule.name]} over {limits.days} days (from {limits.min_sends:,} sends)"
        drawn.append((title, charts.line(title, charts.rolling_rate(series, rule.counter, limits, CHART_DAYS),
                                         limits.warning, limits.critical)))
    return drawn


@bp.post("/accounts/<int:account_id>/<any(suspend, reinstate):action>")
@admin_only
def change_status(account_id: int, action: str):
    """Suspend or reinstate, with a note that goes into the audit trail."""
    account = accounts.get(account_id)
    change = accounts.suspend if action == "suspend" else accounts.reinstate

    def changed() -> str:
        change(account, forms.note(), actor())
        return f"{account.name} is {account.status.value}."
    return act(changed, url_for("admin.account_page", account_id=account_id))
