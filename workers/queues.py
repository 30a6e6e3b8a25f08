"""Queue set-up: one place that knows Redis, queue names, job ids, retries and serialization.

An event to process is an id pushed on the READY list; a batch job (workers.jobs.process_ready)
takes up to BATCH of them. An event whose processing fails is retried on its own, as an RQ job
with backoff. With REDIS_URL unset (the embedded default) events are processed inline, right
after the commit that stored them.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer
from rq.utils import import_attribute

INBOUND = "inbound"
# Event ids wait in a plain Redis list; one RQ job works a batch of them. An RQ job per event
# cost the ingest request six Redis commands and a millisecond of CPU, and the worker as much
# again in RQ's own bookkeeping.
READY = "inbound:ready"
# Set while a batch job waits in the queue, so that a burst of arrivals queues one job, not one
# each. It expires in case that job is lost (a Redis restart); the sweeper covers the rest.
BATCH_QUEUED = "inbound:batch-queued"
BATCH_QUEUED_SECONDS = 60
BATCH = 100
RETRY = Retry(max=3, interval=[30, 60, 120])
FIRST_RETRY_SECONDS = 10
JOB_TIMEOUT = 600  # a batch of BATCH events
FAILURE_TTL = 7 * 86400  # the events table holds results; RQ keeps failed jobs a week

log = logging.getLogger(__name__)


def redis_connection(url: str) -> Redis:
    """A Redis client that fails fast: an ingest must not hang on a dead Redis."""
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def inbound_queue(connection: Redis) -> Queue:
    """The queue of inbound jobs; jobs take plain JSON values only."""
    return Queue(INBOUND, connection=connection, serializer=JSONSerializer)


@lru_cache(maxsize=8)
def _shared_queue(url: str) -> Queue:
    # One client (a thread-safe connection pool) per process: a new one per request cost 3 ms.
    return inbound_queue(redis_connection(url))


def enqueue_event(event_id: int) -> str:
    """Have the event processed; call after the commit that stored it. Its status: "pending"
    once queued, or when Redis is unreachable (the sweeper queues it later); with no Redis
    configured the job runs here and this is its outcome."""
    return enqueue_events([event_id])[0]


def enqueue_events(event_ids: list[int]) -> list[str]:
    """`enqueue_event` for each of `event_ids`, in one round trip to Redis. An event queued
    twice is harmless: processing claims the event and does nothing to a finished one."""
    url = current_app.config["REDIS_URL"]
    if not url:
        return [_run_inline(event_id) for event_id in event_ids]
    if event_ids:
        try:
            queue = _shared_queue(url)
            with queue.connection.pipeline(transaction=False) as pipe:
                pipe.rpush(READY, *event_ids)
                pipe.set(BATCH_QUEUED, 1, nx=True, ex=BATCH_QUEUED_SECONDS)
                _, first = pipe.execute()
            if first:
                _enqueue_batch(queue)
        except RedisError as exc:
            log.warning("%d events stay pending, Redis is unavailable: %s", len(event_ids), type(exc).__name__)
    return ["pending"] * len(event_ids)


def _enqueue_batch(queue: Queue) -> None:
    try:
        queue.enqueue("workers.jobs.process_ready", job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=FAILURE_TTL)
    except RedisError:
        queue.connection.delete(BATCH_QUEUED)  # best effort: let the next arrival try again
        raise


def take_ready() -> list[int]:
    """For a batch job: up to BATCH waiting event ids, oldest first. If more are waiting,
    another batch job is queued first, so that every free worker shares a backlog."""
    queue = _shared_queue(current_app.config["REDIS_URL"])
    with queue.connection.pipeline(transaction=False) as pipe:
        pipe.delete(BATCH_QUEUED)  # arrivals from now on queue a new batch job
        pipe.lpop(READY, BATCH)
        pipe.llen(READY)
        _, taken, left = pipe.execute()
    if left and queue.connection.set(BATCH_QUEUED, 1, nx=True, ex=BATCH_QUEUED_SECONDS):
        _enqueue_batch(queue)
    return [int(event_id) for event_id in taken or ()]


def retry_later(event_id: int) -> None:
    """Process the event on its own after a pause, with RQ's retries and backoff: its batch
    job failed on it (the database went away, say). If Redis fails too, the sweeper has it."""
    try:
        _shared_queue(current_app.config["REDIS_URL"]).enqueue_in(
            timedelta(seconds=FIRST_RETRY_SECONDS), "workers.jobs.process_event", event_id,
            job_id=f"event-{event_id}", retry=RETRY, job_timeout=120, result_ttl=0, failure_ttl=FAILURE_TTL)
    except RedisError as exc:
        log.warning("event %s stays pending for the sweeper, Redis is unavailable: %s", event_id,
                    type(exc).__name__)


def _run_inline(event_id: int) -> str:
    from suppression.db import db
    # By its dotted path, as a worker would find it: queues sit below the jobs they queue.
    process_event = import_attribute("workers.jobs.process_event")
    try:
        return process_event(event_id)
    except Exception:  # the event is stored and stays pending: `inbound sweep` retries it
        db.session.rollback()
        log.exception("event %s stays pending: processing failed", event_id)
        return "pending"
