"""Running totals read from the audit log: suppressions added, by reason, and suspensions.

The audit log is the record of every suppression added (one `suppression.add` or
`suppression.unsubscribe` entry per address, one `suppression.import` entry per import with the
count it added) and every suspension (`account.suspend`), and it is only ever appended to, so
its totals only grow: Prometheus counters that are the same whichever process answers a scrape.
Reading a reason out of a million entries' JSON costs about a second on PostgreSQL, so a
process keeps the totals of entries old enough to be settled and reads only the rest again.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, text

from suppression.alerts import ACTOR as AUP_ACTOR
from suppression.db import db, utcnow
from suppression.models import AuditEntry

PER_ADDRESS = ("suppression.add", "suppression.unsubscribe")  # one entry per address added
IMPORT = "suppression.import"  # one entry per import; its details count what it added
SUSPEND = "account.suspend"
# An entry is settled once it is this old: the transaction that wrote it has ended (a job's
# timeout is 10 minutes, a request's 5), so no entry with a smaller id can still appear.
SETTLE = timedelta(minutes=15)
STEP = 250_000  # entries' ids a scrape reads into the settled totals at most (about 0.3 s on PostgreSQL)


@dataclass
class Totals:
    added: Counter = field(default_factory=Counter)  # reason -> suppressions added
    suspensions: Counter = field(default_factory=Counter)  # "aup" or "staff" -> suspensions

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.added + other.added, self.suspensions + other.suspensions)


def _label():
    by = case((AuditEntry.actor == AUP_ACTOR, "aup"), else_="staff")
    return case((AuditEntry.action == SUSPEND, by), else_=AuditEntry.details["reason"].as_string())


def _between(stmt, after: int, through: int | None):
    stmt = stmt.where(AuditEntry.id > after)
    return stmt if through is None else stmt.where(AuditEntry.id <= through)


def per_entry(after: int, through: int | None) -> Totals:
    """The totals of the per-address and suspension entries with ids in (after, through]."""
    stmt = select(AuditEntry.action, _label(), func.count()).where(AuditEntry.action.in_((*PER_ADDRESS, SUSPEND)))
    # By position: the label's CASE carries bound values, which PostgreSQL would not match.
    rows = db.session.execute(_between(stmt, after, through).group_by(text("1"), text("2")))
    found = Totals()
    for action, label, n in rows:
        (found.suspensions if action == SUSPEND else found.added)[label or "unknown"] += n
    return found


Import = tuple[int, str, int, bool]  # entry id, reason, suppressions added, complete


def imports(after: int, through: int | None) -> list[Import]:
    """The import entries with ids in (after, through]."""
    return _imports(_between(_IMPORTS, after, through))


def imports_by_id(ids: set[int]) -> list[Import]:
    """The import entries of `ids`."""
    return _imports(_IMPORTS.where(AuditEntry.id.in_(ids))) if ids else []


_IMPORTS = select(AuditEntry.id, AuditEntry.details).where(AuditEntry.action == IMPORT)


def _imports(stmt) -> list[Import]:
    found = []
    for entry_id, details in db.session.execute(stmt):
        details = details or {}  # written when its first chunk is
        found.append((entry_id, details.get("reason", "unknown"), int(details.get("added", 0)),
                      bool(details.get("complete"))))
    return found


def settled_id(before: datetime) -> int:
    """The id of the newest entry written before `before` (0 if none): a backward scan of the
    primary key that stops at the first such entry."""
    return db.session.scalar(select(AuditEntry.id).where(AuditEntry.at < before)
                             .order_by(AuditEntry.id.desc()).limit(1)) or 0


class Tally:
    """One process's running totals of the audit log: settled entries are read once. One caller
    at a time."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self.through, self.settled, self.open_imports = 0, Totals(), set()

    def read(self) -> Totals | None:
        """The totals now; None while the settled entries are still being read (a first scrape of
        a large log reads them over several)."""
        boundary = settled_id(utcnow() - SETTLE)
        if boundary < self.through:  # the log was emptied (a restore, a test)
            self._reset()
        if boundary > self.through:
            self._settle(min(boundary, self.through + STEP))
        return self._fresh() if self.through == boundary else None

    def _settle(self, through: int) -> None:
        settled = self.settled + per_entry(self.through, through)
        pending = set(self.open_imports)
        for entry_id, reason, added, complete in imports(self.through, through):
            if complete:
                settled.added[reason] += added
            else:  # still running, or died half way: read again at each scrape
                pending.add(entry_id)
        self.through, self.settled, self.open_imports = through, settled, pending

    def _fresh(self) -> Totals:
        found = self.settled + per_entry(self.through, None)
        recent = imports(self.through, None)
        running = imports_by_id(self.open_imports)
        for entry_id, reason, added, complete in running:
            if complete:
                self.settled.added[reason] += added
                self.open_imports.discard(entry_id)
        for _, reason, added, _ in recent + running:
            found.added[reason] += added
        return found
