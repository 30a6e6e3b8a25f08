"""Judging accounts against the AUP: their counters summed over each rule's window, read by the
rules (suppression/policy.py), their alerts brought in line (suppression/alerts.py), and an
account suspended at once when one of its alerts opens or escalates critical (with AUTO_SUSPEND).
In the caller's transaction: the job commits, then sends the notifications."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from suppression import accounts, alerts, counters, placements
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
    placed = _placement(account_ids, policy)
    open_now = alerts.open_alerts(account_ids)
    nothing = {n: Counts() for n in policy.windows()}
    judged = {account_id: judge(sums.get(account_id, nothing), policy, placed.get(account_id))
              for account_id in set(sums) | set(open_now) | set(placed)}
    # The common case, nothing crossed and nothing open, stops here; the others are locked, and
    # their open alerts read again under the lock.
    acting = sorted(a for a, found in judged.items() if a in open_now or any(r.level for r in found))
    locked = _locked(acting)
    current = alerts.open_alerts(acting) if acting else {}
    changes, suspended = [], []
    for account_id in acting:
        if account_id not in locked:
            continue  # deleted meanwhile
        found = alerts.sync(account_id, judged[account_id], current.get(account_id, {}))
        changes += found
        if policy.auto_suspend and _suspend(locked[account_id], found):
            suspended.append(account_id)
    return Outcome(changes, suspended)


def readings(account_id: int) -> list[Reading]:
    """Every rule's reading of the account now."""
    policy = current_app.config["POLICY"]
    sums = counters.window_sums(policy.windows(), [account_id])[account_id]
    return judge(sums, policy, _placement([account_id], policy).get(account_id))


def _placement(account_ids: list[int] | None, policy) -> dict[int, placements.Sample]:
    rule = policy.inbox_placement
    return placements.samples(account_ids, rule.campaigns, rule.deadline_hours)


def _locked(account_ids: list[int]) -> dict[int, Account]:
    """The accounts, locked until the transaction ends, in id order (two evaluations lock alike and
    cannot deadlock): the scheduled evaluation and one asked for by an event would otherwise
    both open an account's alert (PostgreSQL; SQLite has one writer anyway)."""
    if not account_ids:
        return {}
    stmt = select(Account).where(Account.id.in_(account_ids)).order_by(Account.id)
    if dialect() == "postgresql":
        stmt = stmt.with_for_update()
    return {account.id: account for account in db.session.scalars(stmt)}


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
