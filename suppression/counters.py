"""The only writer of the per-account daily counters."""
from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite

from suppression.db import db, dialect, utcnow
from suppression.models.counters import COUNTERS, DailyCount


def bump(account_id: int, counter: str, amount: int = 1, day: date | None = None) -> None:
    """Add `amount` to today's (or `day`'s) `counter` of the account, in the caller's transaction."""
    if counter not in COUNTERS:
        raise ValueError(f"no counter {counter!r}")
    insert = (postgresql if dialect() == "postgresql" else sqlite).insert
    stmt = insert(DailyCount).values(account_id=account_id, day=day or utcnow().date(), **{counter: amount})
    column = getattr(DailyCount.__table__.c, counter)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["account_id", "day"], set_={counter: column + stmt.excluded[counter]}))
