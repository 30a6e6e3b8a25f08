"""Queue set-up: one place that knows Redis, queue names, job ids, retries and serialization.

With REDIS_URL unset (the embedded default) jobs run inline, right after the commit that
stored their event.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
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


@lru_cache(maxsize=8)
def _shared_queue(url: str) -> Queue:
    # One client (a thread-safe connection pool) per process: a new one per request cost 3 ms.
    return inbound_queue(redis_connection(url))


def enqueue_event(event_id: int, *, unless_waiting: bool = False) -> str:
    """Have the event processed; call after the commit that stored it. Its status: "pending"
    once queued, or when Redis is unreachable (the sweeper enqueues it later); with no Redis
    configured the job runs here and this is its outcome. `unless_waiting`: leave an event
    whose job is still queued, scheduled for a retry, or running (the sweeper's case)."""
    url = current_app.config["REDIS_URL"]
    if not url:
        return _run_inline(event_id)
    try:
        queue = _shared_queue(url)
        if unless_waiting and _waiting(queue, f"event-{event_id}"):
            return "pending"
        with queue.connection.pipeline() as pipe:  # one round trip for the job and its place in the queue
            queue.enqueue(
                "workers.jobs.process_event", event_id, job_id=f"event-{event_id}", retry=RETRY, pipeline=pipe,
                job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=7 * 86400)  # the events table holds results
            pipe.execute()
    except RedisError as exc:
        log.warning("event %s stays pending, Redis is unavailable: %s", event_id, type(exc).__name__)
    return "pending"


def _waiting(queue: Queue, job_id: str) -> bool:
    try:
        status = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer).get_status()
    except NoSuchJobError:
        return False
    return status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED)


def _run_inline(event_id: int) -> str:
    from suppression.db import db
    from workers import jobs
    try:
        return jobs.process_event(event_id)
    except Exception:  # the event is stored and stays pending: `inbound sweep` retries it
        db.session.rollback()
        log.exception("event %s stays pending: processing failed", event_id)
        return "pending"
