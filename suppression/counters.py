"""The only writer of the per-account daily counters, and the sums the AUP rules read."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache

from sqlalchemy import Date, bindparam, select, text

from suppression.db import db, utcnow
from suppression.models.counters import COUNTERS, DailyCount
from suppression.policy import Counts

_BUMP = ("INSERT INTO daily_counts (account_id, day, {counter}) {rows} "
         "ON CONFLICT (account_id, day) DO UPDATE SET {counter} = daily_counts.{counter} + excluded.{counter}")


def bump_sql(counter: str, rows: str = "VALUES (:account_id, :day, :amount)") -> str:
    """The upsert adding to `counter` for the (account_id, day, amount) rows of `rows`."""
    if counter not in COUNTERS:
        raise ValueError(f"no counter {counter!r}")
    return _BUMP.format(counter=counter, rows=rows)


def bump(account_id: int, counter: str, amount: int = 1, day: date | None = None) -> None:
    """Add `amount` to today's (or `day`'s) `counter` of the account, in the caller's transaction."""
    db.session.execute(_bump(counter), {"account_id": account_id, "day": day or utcnow().date(), "amount": amount})


@cache
def _bump(counter: str):
    # One statement object per counter, so SQLAlchemy compiles it once per process.
    return text(bump_sql(counter)).bindparams(bindparam("day", type_=Date))


def window_sums(windows: Iterable[int], account_ids: list[int] | None = None,
                today: date | None = None) -> dict[int, dict[int, Counts]]:
    """For each account with counts in the longest window (or each of `account_ids`): its
    counters summed over the last N days (today included), for each N of `windows`. One
    aggregate over the table, whatever the number of accounts."""
    windows = sorted(set(windows))
    today = today or utcnow().date()
    params = {f"since_{n}": today - timedelta(days=n - 1) for n in windows}
    rows = db.session.execute(_window_sql(tuple(windows), account_ids is not None),
                              params | ({"accounts": account_ids} if account_ids is not None else {}))
    sums: dict[int, dict[int, Counts]] = {account_id: {n: Counts() for n in windows}
                                          for account_id in account_ids or ()}
    for row in rows:
        values = iter(row[1:])
        # int(): PostgreSQL sums BIGINTs as NUMERIC, and a Decimal rate compares exactly with a float threshold.
        sums[row[0]] = {n: Counts(*(int(next(values)) for _ in COUNTERS)) for n in windows}
    return sums


@cache
def _window_sql(windows: tuple[int, ...], filtered: bool):
    columns = ", ".join(f"COALESCE(SUM(CASE WHEN day >= :since_{n} THEN {counter} END), 0)"
                        for n in windows for counter in COUNTERS)
    sql = (f"SELECT account_id, {columns} FROM daily_counts WHERE day >= :since_{windows[-1]}"
           + (" AND account_id IN :accounts" if filtered else "") + " GROUP BY account_id")
    statement = text(sql).bindparams(*(bindparam(f"since_{n}", type_=Date) for n in windows))
    return statement.bindparams(bindparam("accounts", expanding=True)) if filtered else statement


def daily(account_id: int, first: date, last: date) -> list[DailyCount]:
    """The account's counter rows from `first` to `last`, oldest first (days without counts are absent)."""
    return list(db.session.scalars(select(DailyCount).where(DailyCount.account_id == account_id,
                                                            DailyCount.day >= first, DailyCount.day <= last)
                                   .order_by(DailyCount.day)))


def series(account_id: int, first: date, last: date) -> list[tuple[date, Counts]]:
    """The account's counters for each day from `first` to `last`, days without counts as zeros."""
    rows = daily(account_id, first, last)
    found = {row.day: Counts(*(getattr(row, counter) for counter in COUNTERS)) for row in rows}
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [(day, found.get(day, Counts())) for day in days]
