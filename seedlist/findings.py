"""What the audit found, kept: one SeedMessage per audited message (every rule's result, for the
compliance summary) and one Finding per rule it broke (with the message's event as evidence).

Severities (docs/DESIGN.md, AUP rules): mail to a trap seed, and to an opted-out seed after the grace
period, are critical; a content rule broken is a warning; DNS that did not answer is
information (the rule is checked again, and is never a pass meanwhile).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from seedlist.audit import FAIL, UNKNOWN, Check
from suppression import counters
from suppression.db import db, iso, keyset_page, utcnow
from suppression.models import Finding, FindingSeverity, SeedMessage

TRAP_HIT, OPTOUT_IGNORED = "trap_hit", "optout_ignored"
MALFORMED, DNS_UNAVAILABLE, OPTOUT_FAILED = "malformed", "dns_unavailable", "optout_failed"
CRITICAL_RULES = (TRAP_HIT, OPTOUT_IGNORED)


@dataclass(frozen=True)
class Extra:
    """A finding that is no content rule: a trap hit, an ignored opt-out, an unreadable message."""

    rule: str
    severity: FindingSeverity
    detail: str


@dataclass(frozen=True)
class Audited:
    event_id: int
    seed_id: int | None
    account_id: int | None
    campaign: str | None
    subject: str | None
    received_at: datetime


def record(message: Audited, checks: list[Check], extras: list[Extra]) -> SeedMessage:
    """Keep one audited message: its results and a finding for each rule it broke."""
    row = SeedMessage(event_id=message.event_id, seed_id=message.seed_id, account_id=message.account_id,
                      campaign=message.campaign, subject=(message.subject or "")[:300] or None,
                      results={c.rule: c.result for c in checks}, received_at=message.received_at,
                      dns_pending=any(c.result == UNKNOWN for c in checks), dns_checks=0, counted=False)
    db.session.add(row)
    _add(row, [Extra(c.rule, FindingSeverity.warning, c.detail) for c in checks if c.result == FAIL] + extras)
    _note_dns(row, checks)
    return row  # written at the next flush: a batch of messages is one INSERT a table


def recheck(row: SeedMessage, checks: list[Check], retries: int) -> list[str]:
    """Keep a later check of a message's DNS rules; the rules that now fail (new findings)."""
    before = dict(row.results)
    row.results = before | {c.rule: c.result for c in checks}
    row.dns_checks += 1
    now_failing = [c for c in checks if c.result == FAIL and before.get(c.rule) != FAIL]
    _add(row, [Extra(c.rule, FindingSeverity.warning, c.detail) for c in now_failing])
    still_unknown = [c for c in checks if c.result == UNKNOWN]
    row.dns_pending = bool(still_unknown) and row.dns_checks < retries
    if still_unknown and not row.dns_pending:
        _add(row, [Extra(DNS_UNAVAILABLE, FindingSeverity.info, "gave up after "
                         f"{row.dns_checks} more lookups: {', '.join(c.rule for c in still_unknown)} stay unknown")])
    return [c.rule for c in now_failing]


def _note_dns(row: SeedMessage, checks: list[Check]) -> None:
    unknown = [c.rule for c in checks if c.result == UNKNOWN]
    if unknown:
        _add(row, [Extra(DNS_UNAVAILABLE, FindingSeverity.info,
                         f"DNS did not answer for {', '.join(unknown)}: checked again later")])


def _add(row: SeedMessage, extras: list[Extra]) -> None:
    db.session.add_all(Finding(event_id=row.event_id, seed_id=row.seed_id, account_id=row.account_id, rule=e.rule,
                               severity=e.severity, detail=e.detail[:2000]) for e in extras)


def broke_content_rule(row: SeedMessage) -> bool:
    """Does the message break a content rule (what the seed_findings counter counts)?"""
    return any(result == FAIL for result in row.results.values())


def dns_pending(limit: int = 500) -> list[int]:
    """Events of audited messages whose DNS rules are still unknown, oldest first."""
    return list(db.session.scalars(select(SeedMessage.event_id).where(SeedMessage.dns_pending.is_(True))
                                   .order_by(SeedMessage.event_id).limit(limit)))


def query(account_id: int | None = None, seed_id: int | None = None, rule: str | None = None,
          severity: str | None = None):
    stmt = select(Finding)
    for column, value in ((Finding.account_id, account_id), (Finding.seed_id, seed_id), (Finding.rule, rule)):
        if value is not None:
            stmt = stmt.where(column == value)
    if severity:
        stmt = stmt.where(Finding.severity == FindingSeverity(severity))
    return stmt


def page(stmt, limit: int, before: int | None) -> tuple[list[Finding], int | None]:
    return keyset_page(stmt, Finding.id, limit, before)


def view(finding: Finding) -> dict:
    return {"id": finding.id, "rule": finding.rule, "severity": finding.severity.value, "detail": finding.detail,
            "account_id": finding.account_id, "seed_id": finding.seed_id, "event_id": finding.event_id,
            "created_at": iso(finding.created_at)}


def summary(account_id: int, days: int = 30) -> dict:
    """The share of the account's seed messages passing each rule over the last `days` days, and
    the DMARC failure reports receivers sent about the account's mail in that time."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.scalars(select(SeedMessage.results).where(SeedMessage.account_id == account_id,
                                                                SeedMessage.received_at >= since))
    tally: dict[str, Counter] = {}
    messages = 0
    for results in rows:
        messages += 1
        for rule, result in results.items():
            tally.setdefault(rule, Counter())[result] += 1
    reports = counters.window_sums([days], [account_id])[account_id][days].auth_failure_reports
    return {"account_id": account_id, "days": days, "messages": messages,
            "rules": {rule: _shares(counts) for rule, counts in sorted(tally.items())},
            "auth_failure_reports": reports}


def _shares(counts: Counter) -> dict:
    judged = counts["pass"] + counts["fail"]
    return {"passed": counts["pass"], "failed": counts["fail"], "unknown": counts["unknown"],
            "pass_rate": round(counts["pass"] / judged, 4) if judged else None}
