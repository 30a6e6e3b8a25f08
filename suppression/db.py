"""SQLAlchemy set-up: one `db` bound to the app in `create_app`, a session per request or job."""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)
T = TypeVar("T")

# What psycopg raises, on the hot paths that use it directly, when the server dropped the
# connection (a restart, a failover) or cannot be reached: the web layer answers 503 to them.
DRIVER_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
RETRY_PAUSE_SECONDS = 0.5  # long enough for a restart to finish, short enough for a mail client

# Stable constraint names so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Aware UTC now; every timestamp the service stores is UTC."""
    return datetime.now(UTC)


MAX_SMALL_ID = 2**31 - 1  # the INTEGER keys (accounts, seeds): a larger id names nothing


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    if value is None:
        return None
    # isoformat, not strftime: five times faster, and an export formats two per row.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets gunicorn workers read while one writes; busy_timeout waits instead of failing.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def dialect() -> str:
    """'postgresql' or 'sqlite': the database this app talks to."""
    return db.engine.dialect.name


def driver_rows(sql: str, params: tuple) -> list[tuple]:
    """Rows of `sql` (with `?` placeholders) run straight on this session's DBAPI connection.

    Only for the per-request hot path (authentication, the check): SQLAlchemy's own
    execution costs about 0.5 ms a query there, three times the query itself.
    """
    connection = db.session.connection().connection.driver_connection
    if dialect() == "postgresql":
        sql = sql.replace("?", "%s")
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def pyformat(sql: str) -> str:
    """`sql` with :name placeholders turned into psycopg's %(name)s."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


def keyset_page(stmt, column, limit: int, before: int | None) -> tuple[list, int | None]:
    """One page of `stmt` (ordered by `column` descending) and the cursor of the next page."""
    if before is not None:
        stmt = stmt.where(column < before)
    rows = list(db.session.scalars(stmt.order_by(column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (getattr(rows[-1], column.key) if more else None)


def commit() -> None:
    """Commit the transaction of this request or job, if it has a session: the hot paths that
    write on a connection of their own leave none, and making one only to commit nothing costs
    a third of a millisecond."""
    if db.session.registry.has():
        db.session.commit()


def autocommit() -> None:
    """Run the rest of this session's work without a transaction (reads only): on the hot path
    BEGIN and ROLLBACK are two of the four database round trips. Call before anything queries."""
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def on_own_connection(work: Callable[[object], T], *, retry: bool = False) -> T:
    """`work(driver connection)` on a connection of its own in autocommit: a one-statement hot
    path (PostgreSQL). With `retry`, for an idempotent statement only, `work` runs once more, on a
    new connection and after a short pause, if the database dropped or refused the first."""
    try:
        return _on_own_connection(work)
    except (*DRIVER_ERRORS, OperationalError) as exc:
        if not retry:
            raise
        log.warning("database connection failed (%s); trying once more on a new one", type(exc).__name__)
    time.sleep(RETRY_PAUSE_SECONDS)
    return _on_own_connection(work)


def _on_own_connection(work: Callable[[object], T]) -> T:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        driver = connection.connection.driver_connection
        try:
            return work(driver)
        except DRIVER_ERRORS:
            if driver.closed or driver.broken:
                connection.invalidate()
                # SQLAlchemy never saw this error, so its pool still holds the connections that
                # the server dropped with this one: each would fail a request of its own.
                db.engine.dispose()
            raise


def end_failed_session() -> None:
    """Roll back this request's or job's session after the database failed it: a connection the
    server dropped is then discarded, with the pool's others (SQLAlchemy does that when the
    rollback finds it dead), so the next request starts on a new one."""
    try:
        db.session.rollback()
    except (SQLAlchemyError, *DRIVER_ERRORS):
        db.session.close()
