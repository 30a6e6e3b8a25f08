"""The only writer of suppressions, and the pre-send check that reads them.

Check order (DESIGN.md): invalid → global → account → list → send.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import orjson
from sqlalchemy import bindparam, delete, func, select, text

from suppression import audit, lookup
from suppression.addresses import normalize
from suppression.db import db, dialect, utcnow
from suppression.errors import Forbidden, Invalid, NotFound
from suppression.models import Reason, SeedKind, Suppression
from suppression.models.suppressions import scope_level

LIST_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SENDER_REASONS = frozenset({Reason.manual, Reason.unsubscribed})
# Entries a sender made itself; what recipients, bounces, complaints and traps made stays.
SENDER_SOURCES = frozenset({"api", "import"})
# Seeds are the service's own addresses: what bounces, complaints and provider opt-outs report
# never suppresses an active one (a silenced monitor seed gets no more mail to watch), and a
# recipient's link may silence only an opt-out seed, which is what it is for.
ALL_SEEDS = tuple(kind.value for kind in SeedKind)
LINKED_SEEDS = (SeedKind.monitor.value, SeedKind.trap.value)


@dataclass(frozen=True)
class Undecodable:
    """A line whose bytes are not text in the file's encoding, with those bytes escaped
    (`m\\xfcller@example.de`) so it can be shown. Not a `str`: whatever forgets to check for it
    gets no address from it (`normalize` answers None), never a garbled one to store."""

    escaped: str


@dataclass(frozen=True)
class Scope:
    """Global (no account), one account, or one list of one account."""

    account_id: int | None = None
    list_name: str | None = None

    @classmethod
    def of(cls, account_id: int | None, list_name: str | None = None) -> Scope:
        """A validated scope; list names are lower-case slugs."""
        if list_name is not None:
            list_name = list_name.strip().lower()
            if account_id is None:
                raise Invalid("lists belong to an account; global suppressions have no list", code="invalid_list", field="list")
            if not LIST_NAME.fullmatch(list_name):
                raise Invalid("a list name is 1-64 letters, digits, '.', '_' or '-'", code="invalid_list", field="list")
        return cls(account_id, list_name)

    @property
    def key(self) -> str:
        if self.account_id is None:
            return "global"
        return f"a{self.account_id}" + (f"/{self.list_name}" if self.list_name else "")

    @property
    def level(self) -> str:
        return scope_level(self.account_id, self.list_name)


GLOBAL = Scope()


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)


def check(account_id: int, addresses: list, list_name: str | None = None) -> list[dict]:
    """One decision per address, in order: may this account mail it?"""
    scopes = [GLOBAL, Scope(account_id)] + ([Scope.of(account_id, list_name)] if list_name else [])
    ranks = {s.key: (i, s.level) for i, s in enumerate(scopes)}
    results: list[dict] = []
    for chunk, rows in lookup.matches(lookup.chunked(addresses), list(ranks)):
        results.extend(_decide(chunk, _strongest(rows, ranks)))
    return results


def _strongest(rows: list[lookup.Row], ranks: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str, str]]:
    """address -> (rank, reason, level) of its suppression in the first scope of the check order."""
    best: dict[str, tuple[int, str, str]] = {}
    for address, scope_key, reason in rows:
        rank, level = ranks[scope_key]
        if address not in best or rank < best[address][0]:
            best[address] = (rank, reason, level)
    return best


def _decide(chunk: lookup.Chunk, best: dict[str, tuple[int, str, str]]) -> list[dict]:
    decisions = []
    for raw, norm in zip(chunk.raw, chunk.normalized, strict=True):
        if norm is None:
            decisions.append({"address": raw, "normalized": None, "send": False,
                              "reason": "invalid_address", "scope": None})
        elif (hit := best.get(norm)) is None:
            decisions.append({"address": raw, "normalized": norm, "send": True, "reason": None, "scope": None})
        else:
            decisions.append({"address": raw, "normalized": norm, "send": False, "reason": hit[1], "scope": hit[2]})
    return decisions


def add(scope: Scope, addresses: Iterable[str], reason: Reason, source: str, actor: str, *,
        expires_at: datetime | None = None, event_id: int | None = None,
        audited: tuple | None = None, protect: tuple[str, ...] = ()) -> AddResult:
    """Suppress normalized `addresses` in `scope`; an expiring entry is replaced by a longer one.
    `audited` (PostgreSQL; see `suppress`): (actor, action, account id, details) of an audit entry
    to write, in the same statement, for each address added. Active seeds of the kinds in
    `protect` are left out, and reported as neither added nor present."""
    unique = list(dict.fromkeys(addresses))
    if not unique:
        return AddResult()
    values = {"scope_key": scope.key, "account_id": scope.account_id, "list_name": scope.list_name,
              "reason": reason.value, "source": source, "event_id": event_id, "created_by": actor,
              "created_at": utcnow(), "expires_at": expires_at}
    if audited:
        values |= audit.params(values["created_at"], *audited)
    statement = _upsert_sql(audited=bool(audited), protect=protect)
    added = set(db.session.scalars(statement, {"addresses": _address_param(unique), **values}))
    present = [a for a in unique if a not in added]
    if protect and present:
        present = [a for a in present if a not in _seeds(present, protect)]
    return AddResult(added=[a for a in unique if a in added], already_present=present)


def _seeds(addresses: list[str], kinds: tuple[str, ...]) -> set[str]:
    from suppression.models import Seed, SeedStatus
    return set(db.session.scalars(select(Seed.address).where(Seed.address.in_(addresses), Seed.kind.in_(kinds),
                                                              Seed.status == SeedStatus.active)))


def suppress(scope: Scope, addresses: Iterable[str], reason: Reason, source: str, actor: str, *,
             expires_at: datetime | None = None, event_id: int | None = None,
             dealer_id: int | None = None, protect: tuple[str, ...] = ALL_SEEDS) -> AddResult:
    """`add`, with an audit entry for each address it added; `dealer_id` names the account the
    entry is filed under when the scope has none (a global suppression one dealer's mail caused).
    Active seeds of the kinds in `protect` (all, unless a person asks) are left out.
    On PostgreSQL the entries are written by the upsert's own statement: the worker makes one
    for most events it reads, and a second round trip would cost a tenth of its time."""
    details = {"scope": scope.level, "list": scope.list_name, "reason": reason.value, "source": source}
    if event_id is not None:
        details["event_id"] = event_id
    if expires_at is not None:
        details["expires_at"] = expires_at.isoformat()
    entries = (actor, "suppression.add", scope.account_id or dealer_id, details)
    if dialect() == "postgresql":
        return add(scope, addresses, reason, source, actor, expires_at=expires_at, event_id=event_id,
                   audited=entries, protect=protect)
    result = add(scope, addresses, reason, source, actor, expires_at=expires_at, event_id=event_id,
                 protect=protect)
    for address in result.added:
        audit.record(actor, "suppression.add", address, account_id=entries[2], details=details)
    return result


# One statement per batch, whatever its size: the addresses travel as one array (PostgreSQL)
# or one JSON document (SQLite), so a million-line import costs 200 round trips, not a million.
# Rows go in address order, so two overlapping batches take their row locks in the same
# order and cannot deadlock.
_UPSERT = """
INSERT INTO suppressions (address, scope_key, account_id, list_name, reason, source, event_id,
                          created_by, created_at, expires_at)
SELECT address, :scope_key, :account_id, :list_name, :reason, :source, :event_id,
       :created_by, :created_at, :expires_at
FROM {addresses} WHERE {guard}
ORDER BY address
ON CONFLICT (address, scope_key) DO UPDATE SET
    account_id = excluded.account_id, list_name = excluded.list_name, reason = excluded.reason,
    source = excluded.source, event_id = excluded.event_id, created_by = excluded.created_by,
    created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE suppressions.expires_at IS NOT NULL
  AND (excluded.expires_at IS NULL OR excluded.expires_at > suppressions.expires_at)
RETURNING address
"""


def upsert_sql(rows: str, protect: tuple[str, ...] = ()) -> str:
    """The upsert of `add` for the addresses of the SQL row source `rows` (a column `address`),
    with its parameters (:scope_key, :reason, ... :expires_at), returning the addresses added;
    active seeds of the kinds in `protect` are left out."""
    return _UPSERT.format(addresses=rows, guard=_seed_guard(protect))


def _seed_guard(kinds: tuple[str, ...]) -> str:
    # In the upsert itself, so it costs no round trip; kinds are SeedKind values, never input.
    if not kinds:
        return "true"
    listed = ", ".join(f"'{SeedKind(kind).value}'" for kind in kinds)
    return f"address NOT IN (SELECT address FROM seeds WHERE status = 'active' AND kind IN ({listed}))"



def stamped(sql: str, *names: str):
    """`sql` as a statement whose :created_at and :expires_at (and `names`) bind as stored timestamps."""
    stamp = Suppression.__table__.c.created_at.type
    return text(sql).bindparams(*(bindparam(name, type_=stamp) for name in ("created_at", "expires_at", *names)))


_AUDITED = "WITH added AS ({upsert}), audited AS ({audit}) SELECT address FROM added"


@cache
def _upsert_statement(dialect_name: str, audited: bool, protect: tuple[str, ...]):
    # One statement object per shape, so SQLAlchemy compiles it once per process.
    if dialect_name != "postgresql":
        return stamped(upsert_sql("(SELECT value AS address FROM json_each(:addresses))", protect))
    upsert = upsert_sql("unnest(CAST(:addresses AS text[])) AS a(address)", protect)
    if not audited:
        return stamped(upsert)
    return stamped(_AUDITED.format(upsert=upsert, audit=audit.insert_sql("added")), "audit_at")


def _upsert_sql(audited: bool = False, protect: tuple[str, ...] = ()):
    return _upsert_statement(dialect(), audited, protect)


def _address_param(addresses: list[str]):
    return addresses if dialect() == "postgresql" else orjson.dumps(addresses).decode()


def remove(scope: Scope, address: str, actor: str, *, by_staff: bool, reason: str | None = None) -> Suppression:
    """Delete one entry. Senders may remove only what they added themselves; staff give a reason."""
    normalized = normalize(address)
    row = normalized and db.session.scalar(
        select(Suppression).where(Suppression.address == normalized, Suppression.scope_key == scope.key))
    if not row:
        raise NotFound("no such suppression")
    if by_staff:
        if not (reason or "").strip():
            raise Invalid("staff removals need a reason", code="reason_required", field="reason")
    elif not (row.reason in SENDER_REASONS and row.source in SENDER_SOURCES):
        raise Forbidden(f"a {row.reason.value} suppression from {row.source} can be removed only by "
                        "trust-and-safety staff", code="not_removable")
    db.session.execute(delete(Suppression).where(Suppression.id == row.id))
    audit.record(actor, "suppression.remove", row.address, account_id=row.account_id, reason=reason,
                 details={"scope": scope.level, "list": scope.list_name, "reason": row.reason.value,
                          "source": row.source})
    return row


def _in_scope(scope: Scope, whole_account: bool):
    """Entries in `scope`, or with `whole_account` in the account and all its lists."""
    if whole_account and scope.account_id is not None:
        return Suppression.account_id == scope.account_id
    return Suppression.scope_key == scope.key


def query(scope: Scope, *, whole_account: bool = False, reason: Reason | None = None,
          source: str | None = None, address: str | None = None):
    """A select of entries in `scope`, or in the whole account with its lists."""
    stmt = select(Suppression).where(_in_scope(scope, whole_account))
    if reason is not None:
        stmt = stmt.where(Suppression.reason == reason)
    if source is not None:
        stmt = stmt.where(Suppression.source == source)
    if address is not None:
        stmt = stmt.where(Suppression.address == (normalize(address) or address.strip().lower()))
    return stmt


def counts_by_reason(account_id: int) -> dict[str, int]:
    """How many of the account's entries (its own and its lists') there are for each reason."""
    rows = db.session.execute(select(Suppression.reason, func.count()).where(Suppression.account_id == account_id)
                              .group_by(Suppression.reason))
    return {Reason(reason).value: count for reason, count in rows}


def entry(suppression_id: int) -> Suppression:
    """One entry by id, or NotFound."""
    row = db.session.get(Suppression, suppression_id)
    if row is None:
        raise NotFound(f"no suppression {suppression_id}")
    return row


def everywhere(address: str) -> list[Suppression]:
    """Every entry for the address, in any scope: global first, then by account and list."""
    normalized = normalize(address) or address.strip().lower()
    return sorted(db.session.scalars(select(Suppression).where(Suppression.address == normalized)),
                  key=lambda row: (row.account_id is not None, row.account_id or 0, row.list_name or ""))


_EXPORT_COLUMNS = (Suppression.id, Suppression.address, Suppression.account_id, Suppression.list_name,
                   Suppression.reason, Suppression.source, Suppression.created_at, Suppression.expires_at)


def export_rows(scope: Scope, *, whole_account: bool, chunk: int = 5_000) -> Iterator[tuple]:
    """Every entry in scope as plain tuples, newest first, a keyset page at a time (no ORM objects:
    an export may hold millions of rows)."""
    before = None
    while True:
        stmt = (select(*_EXPORT_COLUMNS).where(_in_scope(scope, whole_account))
                .order_by(Suppression.id.desc()).limit(chunk))
        if before is not None:
            stmt = stmt.where(Suppression.id < before)
        rows = db.session.connection().execute(stmt).all()  # Core: no ORM loading per row
        yield from rows
        if len(rows) < chunk:
            return
        before = rows[-1][0]


def import_lines(scope: Scope, lines: Iterable[tuple[int, str | Undecodable]], reason: Reason, source: str,
                 actor: str, *, chunk: int = 5_000, max_reported: int = 1_000) -> Iterator[dict]:
    """Add every valid address of `lines`, a chunk at a time: after each chunk is written (in the
    caller's transaction) this yields the report so far, and the caller commits, so memory stays
    bounded. The last report yielded is the whole import's. Invalid lines are reported with their
    numbers and why: `invalid_address`, or `invalid_encoding` for an `Undecodable` one.

    The import's one audit entry is updated with each chunk, so if the import dies half way (a
    worker timeout, a database error) the log says what did go in."""
    report = {"lines": 0, "added": 0, "already_present": 0, "invalid": 0, "invalid_lines": [],
              "invalid_lines_truncated": False}
    entry = audit.record(actor, "suppression.import", scope.key, account_id=scope.account_id)
    batch: list[str] = []
    for number, value in lines:
        report["lines"] += 1
        if isinstance(value, Undecodable):
            _note_invalid(report, number, value.escaped, "invalid_encoding", max_reported)
            continue
        normalized = normalize(value)
        if normalized is None:
            _note_invalid(report, number, value, "invalid_address", max_reported)
            continue
        batch.append(normalized)
        if len(batch) >= chunk:
            _import_batch(scope, batch, reason, source, actor, report, entry)
            yield report
            batch = []
    _import_batch(scope, batch, reason, source, actor, report, entry, done=True)
    yield report


def _import_batch(scope: Scope, batch: list[str], reason: Reason, source: str, actor: str, report: dict,
                  entry, done: bool = False) -> None:
    result = add(scope, batch, reason, source, actor)
    report["added"] += len(result.added)
    # Repeats inside the file count as already present, like repeats across files.
    report["already_present"] += len(batch) - len(result.added)
    entry.details = {k: report[k] for k in ("lines", "added", "already_present", "invalid")} | {
        "scope": scope.level, "list": scope.list_name, "reason": reason.value, "complete": done}


def _note_invalid(report: dict, number: int, value: str, why: str, max_reported: int) -> None:
    report["invalid"] += 1
    if len(report["invalid_lines"]) < max_reported:
        report["invalid_lines"].append({"line": number, "value": value[:320], "reason": why})
    else:
        report["invalid_lines_truncated"] = True


def withdraw(address: str, created_by: str, scopes: list[Scope], actor: str, reason: str) -> list[str]:
    """Delete the entries in `scopes` that `created_by` made for `address` (an undo); the scope
    levels removed. Entries anyone else made, or made since, stay."""
    removed = db.session.execute(
        delete(Suppression)
        .where(Suppression.address == address, Suppression.created_by == created_by,
               Suppression.scope_key.in_([s.key for s in scopes]))
        .returning(Suppression.account_id, Suppression.list_name, Suppression.reason, Suppression.source)).all()
    for account_id, list_name, entry_reason, source in removed:
        audit.record(actor, "suppression.remove", address, account_id=account_id, reason=reason,
                     details={"scope": scope_level(account_id, list_name), "list": list_name,
                              "reason": Reason(entry_reason).value, "source": source})
    return [scope_level(account_id, list_name) for account_id, list_name, _, _ in removed]
