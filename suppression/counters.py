"""The only writer of the per-account daily counters."""
from __future__ import annotations

from datetime import date
from functools import cache

from sqlalchemy import Date, bindparam, text

from suppression.db import db, utcnow
from suppression.models.counters import COUNTERS

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
