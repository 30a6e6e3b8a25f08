"""Reading suppressions for the pre-send check, a chunk of addresses at a time.

On PostgreSQL the chunks share one pipeline: a chunk's query is on its way to the
server while Python normalizes the next chunk and decides the previous one, so a
10,000-address check costs about what the database takes rather than database plus
Python (2 cores: one for us, one for PostgreSQL).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text

from suppression.db import db, utcnow
from suppression.models import Suppression

CHUNK = 2_000

# A batch travels as one newline-joined string (a normalized address holds no newline):
# one parameter, an index scan, and no per-element array quoting in Python.
PG_LOOKUP_SQL = ("SELECT address, scope_key, reason FROM suppressions "
                 "WHERE address = ANY(string_to_array(%(addresses)s, chr(10))) AND scope_key = ANY(%(scopes)s) "
                 "AND (expires_at IS NULL OR expires_at > %(now)s)")
_SQLITE_LOOKUP = text(
    "SELECT address, scope_key, reason FROM suppressions "
    "WHERE address IN :addresses AND scope_key IN :scopes AND (expires_at IS NULL OR expires_at > :now)"
).bindparams(bindparam("addresses", expanding=True), bindparam("scopes", expanding=True),
             bindparam("now", type_=Suppression.__table__.c.created_at.type))

Row = tuple[str, str, str]  # address, scope_key, reason


@dataclass
class Chunk:
    raw: list
    normalized: list[str | None]

    def keys(self) -> list[str]:
        """The distinct valid addresses to look up."""
        return list(dict.fromkeys(n for n in self.normalized if n))


def matches(chunks: Iterable[Chunk], scope_keys: list[str]) -> Iterator[tuple[Chunk, list[Row]]]:
    """Each chunk with the live suppressions of its addresses in `scope_keys`."""
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        yield from _pipelined(chunks, scope_keys, now)
        return
    for chunk in chunks:
        keys = chunk.keys()
        rows = db.session.execute(_SQLITE_LOOKUP, {"addresses": keys, "scopes": scope_keys, "now": now}).all() \
            if keys else []
        yield chunk, rows


def _pipelined(chunks: Iterable[Chunk], scope_keys: list[str], now: datetime) -> Iterator[tuple[Chunk, list[Row]]]:
    connection = db.session.connection().connection.driver_connection
    chunks = iter(chunks)
    first, second = next(chunks, None), next(chunks, None)
    if second is None:  # one chunk: a pipeline would only add its sync round trip
        if first is not None:
            yield first, _send(connection, first, scope_keys, now).fetchall()
        return
    sent: deque = deque()
    with connection.pipeline():
        for chunk in chain((first, second), chunks):  # drawing a chunk normalizes it while a query runs
            sent.append((chunk, _send(connection, chunk, scope_keys, now)))
            if len(sent) > 1:
                done, done_cursor = sent.popleft()
                yield done, done_cursor.fetchall()
        while sent:
            done, done_cursor = sent.popleft()
            yield done, done_cursor.fetchall()


def _send(connection, chunk: Chunk, scope_keys: list[str], now: datetime):
    cursor = connection.cursor()
    cursor.execute(PG_LOOKUP_SQL, {"addresses": "\n".join(chunk.keys()), "scopes": scope_keys, "now": now},
                   prepare=False)
    return cursor
