"""Staff: dealer accounts, their suspension, and the audit log."""
from __future__ import annotations

from dataclasses import asdict, fields
from datetime import date, timedelta

from pydantic import BaseModel, Field, create_model
from sqlalchemy import func, select

from suppression import accounts, aup, counters
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
from suppression.db import db, iso, keyset_page, utcnow
from suppression.errors import Invalid
from suppression.models import (
    Account,
    AccountStatus,
    AuditEntry,
    Reason,
    Role,
    Suppression,
)
from suppression.policy import RATE_RULES, Counts, Level, Reading

bp = api_blueprint("accounts", __name__, "staff")

MAX_METRICS_DAYS = 366



class AccountBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    domains: list[str] = Field(default_factory=list, max_length=100)
    postal_address: str | None = Field(None, max_length=1000)


class AccountPath(Strict):
    account_id: Id


class ReasonBody(Strict):
    reason: str = Field(min_length=1, max_length=2000, description="Kept in the audit log.")


class PageQuery(Strict):
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    before: Id | None = None


class AccountPageQuery(Strict):
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    before: SmallId | None = None


class AuditQuery(PageQuery):
    account_id: SmallId | None = None
    action: str | None = None


# What the views answer (the OpenAPI document's response schemas).

class AccountView(BaseModel):
    id: int
    name: str
    status: AccountStatus
    suspension_reason: str | None
    suspended_at: str | None = Field(description="UTC, ISO 8601")
    domains: list[str]
    postal_address: str | None
    created_at: str = Field(description="UTC, ISO 8601")


class AccountDetail(AccountView):
    suppressions: dict[Reason, int] = Field(description="Its suppressions by reason (reasons with none left out)")


class AccountPage(Page):
    items: list[AccountView]


class AuditView(BaseModel):
    id: int
    at: str = Field(description="UTC, ISO 8601")
    actor: str = Field(description="key:<id>, staff:<address>, or the job that acted")
    action: str
    target: str
    account_id: int | None
    reason: str | None
    details: dict | None


class AuditPage(Page):
    items: list[AuditView]


def account_json(account: Account) -> dict:
    return {"id": account.id, "name": account.name, "status": account.status.value,
            "suspension_reason": account.suspension_reason, "suspended_at": iso(account.suspended_at),
            "domains": [d.domain for d in account.domains], "postal_address": account.postal_address,
            "created_at": iso(account.created_at)}


@bp.post("/accounts", responses={201: AccountView, **CONFLICT, **UNSUPPORTED})
@requires(Role.staff)
def create_account(body: AccountBody):
    """Create a dealer account with its sending domains."""
    account = accounts.create(body.name, body.domains, actor(), body.postal_address)
    db.session.commit()
    return account_json(account), 201


@bp.get("/accounts", responses={200: AccountPage})
@requires(Role.staff)
def list_accounts(query: AccountPageQuery):
    """Accounts, newest first."""
    rows, cursor = keyset_page(select(Account), Account.id, query.limit, query.before)
    return {"items": [account_json(a) for a in rows], "next": cursor}


@bp.get("/accounts/<int:account_id>", responses={200: AccountDetail})
@requires(Role.staff)
def show_account(path: AccountPath):
    """One account, with its suppression counts by reason."""
    account = accounts.get(path.account_id)
    counts = db.session.execute(select(Suppression.reason, func.count()).where(
        Suppression.account_id == account.id).group_by(Suppression.reason))
    return account_json(account) | {"suppressions": {r.value: n for r, n in counts}}


@bp.post("/accounts/<int:account_id>/suspend", responses={200: AccountView, **CONFLICT, **UNSUPPORTED})
@requires(Role.staff)
def suspend_account(path: AccountPath, body: ReasonBody):
    """Suspend the account: its check calls get 403 account_suspended at once."""
    account = accounts.suspend(accounts.get(path.account_id), body.reason, actor())
    db.session.commit()
    return account_json(account)


@bp.post("/accounts/<int:account_id>/reinstate", responses={200: AccountView, **CONFLICT, **UNSUPPORTED})
@requires(Role.staff)
def reinstate_account(path: AccountPath, body: ReasonBody):
    """Let a suspended account send again."""
    account = accounts.reinstate(accounts.get(path.account_id), body.reason, actor())
    db.session.commit()
    return account_json(account)


class MetricsQuery(Strict):
    first: date | None = Field(None, alias="from", description="First UTC day (default: 29 days before `to`).")
    last: date | None = Field(None, alias="to", description="Last UTC day (default: today).")


RATES = {rule.name: rule.counter for rule in RATE_RULES}


# A day's counters, and each rate rule's rate that day (null without sends): they follow Counts
# and RATE_RULES, so the document cannot drift from what _day_json answers.
DayView = create_model("DayView", day=(date, ...), **{f.name: (int, ...) for f in fields(Counts)},
                       **{rule: (float | None, ...) for rule in RATES})


class ReadingView(BaseModel):
    rule: str
    value: float | None = Field(description="null: undefined, too little volume")
    level: Level | None = Field(description="The level crossed, if any")
    threshold: float = Field(description="The crossed level's threshold, else the warning threshold")
    window_days: int
    volume: int = Field(description="Sends in the window")
    events: int = Field(description="The rule's events in the window")


class AccountMetrics(BaseModel):
    account_id: int
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    days: list[DayView]
    rules: list[ReadingView]


@bp.get("/accounts/<int:account_id>/metrics", responses={200: AccountMetrics})
@requires(Role.staff)
def account_metrics(path: AccountPath, query: MetricsQuery):
    """Daily counters and rates for a range of days (at most a year), and each AUP rule's reading now."""
    account = accounts.get(path.account_id)
    last = query.last or utcnow().date()
    first = query.first or last - timedelta(days=29)
    if not timedelta(0) <= last - first < timedelta(days=MAX_METRICS_DAYS):
        raise Invalid(f"from must be on or before to, at most {MAX_METRICS_DAYS} days apart", code="invalid_range",
                      details=[{"field": "from", "problem": "out of range"}])
    days = [_day_json(day, counts) for day, counts in counters.series(account.id, first, last)]
    return {"account_id": account.id, "from": first.isoformat(), "to": last.isoformat(), "days": days,
            "rules": [_reading_json(r) for r in aup.readings(account.id)]}


def _day_json(day: date, counts: Counts) -> dict:
    rates = {rule: (getattr(counts, counter) / counts.sends if counts.sends else None)
             for rule, counter in RATES.items()}
    return {"day": day.isoformat(), **asdict(counts), **rates}


def _reading_json(reading: Reading) -> dict:
    return {"rule": reading.rule, "value": reading.value, "level": reading.level.value if reading.level else None,
            "threshold": reading.threshold, "window_days": reading.window_days, "volume": reading.volume,
            "events": reading.events}


@bp.get("/audit", responses={200: AuditPage})
@requires(Role.staff)
def audit_log(query: AuditQuery):
    """The audit log, newest first, optionally for one account or action."""
    stmt = select(AuditEntry)
    if query.account_id is not None:
        stmt = stmt.where(AuditEntry.account_id == query.account_id)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    rows, cursor = keyset_page(stmt, AuditEntry.id, query.limit, query.before)
    return {"items": [{"id": e.id, "at": iso(e.at), "actor": e.actor, "action": e.action, "target": e.target,
                       "account_id": e.account_id, "reason": e.reason, "details": e.details}
                      for e in rows], "next": cursor}
