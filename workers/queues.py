"""Queue set-up: one place that knows Redis, queue names, job ids, retries and serialization.

With REDIS_URL unset (the embedded default) jobs run inline, right after the commit that
stored their event.
"""
from __future__ import annotations

import logging

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer

INBOUND = "inbound"
RETRY = Retry(max=3, interval=[10, 30, 60])
JOB_TIMEOUT = 120

log = logging.getLogger(__name__)


def redis_connection(url: str) -> Redis:
    """A Redis client that fails fast: an ingest must not hang on a dead Redis."""
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def inbound_queue(connection: Redis) -> Queue:
    """The queue of inbound events; jobs take plain JSON values only."""
    return Queue(INBOUND, connection=connection, serializer=JSONSerializer)


def enqueue_event(event_id: int) -> bool:
    """Have the event processed; call after the commit that stored it. False when Redis is
    unreachable: the event stays pending and the sweeper enqueues it later."""
    url = current_app.config["REDIS_URL"]
    if not url:
        return _run_inline(event_id)
    try:
        inbound_queue(redis_connection(url)).enqueue(
            "workers.jobs.process_event", event_id, job_id=f"event-{event_id}", retry=RETRY,
            job_timeout=JOB_TIMEOUT, result_ttl=3600, failure_ttl=7 * 86400)
    except RedisError as exc:
        log.warning("event %s stays pending, Redis is unavailable: %s", event_id, type(exc).__name__)
        return False
    return True


def _run_inline(event_id: int) -> bool:
    from suppression.db import db
    from workers import jobs
    try:
        jobs.process_event(event_id)
    except Exception:  # the event is stored and stays pending: `inbound sweep` retries it
        db.session.rollback()
        log.exception("event %s stays pending: processing failed", event_id)
        return False
    return True
