"""Judging accounts against the AUP: their counters summed over each rule's window, read by the
rules (suppression/policy.py), their alerts brought in line (suppression/alerts.py), and an
account suspended at once when one of its alerts opens or escalates critical (with AUTO_SUSPEND).
In the caller's transaction: the job commits, then sends the notifications."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from suppression import accounts, alerts, counters
from suppression.db import db, dialect
from suppression.models import Account, AccountStatus, Severity
from suppression.policy import Counts, Reading, judge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    changes: list[alerts.Changed]
    suspended: list[int]  # accounts suspended by this evaluation


def evaluate(account_ids: list[int] | None = None) -> Outcome:
    """Judge `account_ids` (None: every account with counts in the longest window, and every
    account with an open alert) and act on what the rules find."""
    policy = current_app.config["POLICY"]
    sums = counters.window_sums(policy.windows(), account_ids)
    current = alerts.open_alerts(account_ids)
    changes, suspended = [], []
    for account_id in sorted(set(sums) | set(current)):
        readings = judge(sums.get(account_id) or {n: Counts() for n in policy.windows()}, policy)
        if not current.get(account_id) and all(r.level is None for r in readings):
            continue  # the common case: nothing crossed, nothing open
        account = _locked(account_id)
        if account is None:
            continue
        found = alerts.sync(account_id, readings, alerts.open_alerts([account_id]).get(account_id, {}))
        changes += found
        if policy.auto_suspend and _suspend(account, found):
            suspended.append(account_id)
    return Outcome(changes, suspended)


def readings(account_id: int) -> list[Reading]:
    """Every rule's reading of the account now."""
    policy = current_app.config["POLICY"]
    sums = counters.window_sums(policy.windows(), [account_id])[account_id]
    return judge(sums, policy)


def _locked(account_id: int) -> Account | None:
    # One evaluation of an account at a time: the scheduled one and one asked for by an event
    # would otherwise both open its alert (PostgreSQL; SQLite has one writer anyway).
    stmt = select(Account).where(Account.id == account_id)
    if dialect() == "postgresql":
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _suspend(account: Account, found: list[alerts.Changed]) -> bool:
    """Suspend when an alert has just opened or escalated critical; a critical alert still
    open after staff reinstated the account does not suspend it again."""
    critical = [c for c in found if c.severity == Severity.critical]
    if not critical or account.status != AccountStatus.active:
        return False
    alert = alerts.get(critical[0].alert_id)
    reason = (f"alert {alert.id}: {alert.rule} {_shown(alert.rule, alert.value)} over {alert.window_days} days "
              f"(critical at {_shown(alert.rule, alert.threshold)}, {alert.volume} sends)")
    accounts.suspend(account, reason, alerts.ACTOR)
    log.warning("account %s suspended by alert %s (%s)", account.id, alert.id, alert.rule)
    return True


def _shown(rule: str, value: float) -> str:
    return f"{value:.2%}" if rule.endswith("_rate") else f"{value:g}"
