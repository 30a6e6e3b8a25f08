"""Redis clients: the process's shared fail-fast client, and a worker's own blocking one."""
from __future__ import annotations

from functools import lru_cache

from redis import Redis


def fail_fast(url: str) -> Redis:
    """A Redis client that fails fast: an ingest must not hang on a dead Redis."""
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@lru_cache(maxsize=8)
def shared(url: str) -> Redis:
    """The process's client for `url`: one connection pool, thread-safe (a new client per
    request cost 3 ms)."""
    return fail_fast(url)


def blocking(url: str) -> Redis:
    """A worker's own client, with no socket timeout: the worker blocks on its queues for minutes."""
    return Redis.from_url(url)
