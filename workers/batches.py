"""The inbound batch protocol: how a stored event reaches a worker.

An event to process is an id pushed on the READY list; a batch job (workers.jobs.process_ready)
takes up to BATCH of them. An event whose processing fails is retried on its own, as an RQ job
with backoff. With REDIS_URL unset (the embedded default) events are processed inline, right
after the commit that stored them.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from workers import connection, queues

# Event ids wait in a plain Redis list; one RQ job works a batch of them. An RQ job per event
# cost the ingest request six Redis commands and a millisecond of CPU, and the worker as much
# again in RQ's own bookkeeping.
READY = "inbound:ready"
# Set while a batch job waits in the queue, so that a burst of arrivals queues one job, not one
# each. It expires in case that job is lost (a Redis restart); the sweeper covers the rest.
BATCH_QUEUED = "inbound:batch-queued"
BATCH_QUEUED_SECONDS = 60
BATCH = 100
BATCH_TIMEOUT = 600  # a batch of BATCH events
FIRST_RETRY_SECONDS = 10
EVENT_TIMEOUT = 120

log = logging.getLogger(__name__)


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
        return [_inline(event_id) for event_id in event_ids]
    if event_ids:
        try:
            redis = connection.shared(url)
            with redis.pipeline(transaction=False) as pipe:
                pipe.rpush(READY, *event_ids)
                pipe.set(BATCH_QUEUED, 1, nx=True, ex=BATCH_QUEUED_SECONDS)
                _, first = pipe.execute()
            if first:
                _enqueue_batch(redis)
        except RedisError as exc:
            log.warning("%d events stay pending, Redis is unavailable: %s", len(event_ids), type(exc).__name__)
    return ["pending"] * len(event_ids)


def waiting() -> set[int]:
    """The event ids waiting on the READY list now (none without Redis)."""
    url = current_app.config["REDIS_URL"]
    return {int(event_id) for event_id in connection.shared(url).lrange(READY, 0, -1)} if url else set()


def drain() -> None:
    """For the sweep, which leaves the ids waiting on READY where they are: make sure a batch job
    will read them. BATCH_QUEUED may say one is queued when the job that set it died with its
    worker before reading the list; an empty queue says so too, and then one is queued anyway."""
    url = current_app.config["REDIS_URL"]
    redis = connection.shared(url) if url else None
    if redis is None or not redis.llen(READY):
        return
    if redis.set(BATCH_QUEUED, 1, nx=True, ex=BATCH_QUEUED_SECONDS) or not queues.queue(queues.INBOUND, redis).count:
        _enqueue_batch(redis)


def _inline(event_id: int) -> str:
    # The job's own outcome; None when it failed: the event is stored and `inbound sweep` retries it.
    return queues.enqueue(queues.INBOUND, "workers.jobs.process_event", event_id) or "pending"


def _enqueue_batch(redis: Redis) -> None:
    try:
        # Not retried as a whole: a batch job retries each of its events that fails, on its own.
        queues.enqueue(queues.INBOUND, "workers.jobs.process_ready", retry=None, timeout=BATCH_TIMEOUT, redis=redis)
    except RedisError:
        redis.delete(BATCH_QUEUED)  # best effort: let the next arrival try again
        raise


def take_ready() -> list[int]:
    """For a batch job: up to BATCH waiting event ids, oldest first. If more are waiting,
    another batch job is queued first, so that every free worker shares a backlog."""
    redis = connection.shared(current_app.config["REDIS_URL"])
    with redis.pipeline(transaction=False) as pipe:
        pipe.delete(BATCH_QUEUED)  # arrivals from now on queue a new batch job
        pipe.lpop(READY, BATCH)
        pipe.llen(READY)
        _, taken, left = pipe.execute()
    if left and redis.set(BATCH_QUEUED, 1, nx=True, ex=BATCH_QUEUED_SECONDS):
        _enqueue_batch(redis)
    return [int(event_id) for event_id in taken or ()]


def retry_later(event_id: int) -> None:
    """Process the event on its own after a pause, with RQ's retries and backoff: its batch
    job failed on it (the database went away, say). If Redis fails too, the sweeper has it."""
    try:
        queues.enqueue(queues.INBOUND, "workers.jobs.process_event", event_id, job_id=f"event-{event_id}",
                       timeout=EVENT_TIMEOUT, delay=timedelta(seconds=FIRST_RETRY_SECONDS))
    except RedisError as exc:
        log.warning("event %s stays pending for the sweeper, Redis is unavailable: %s", event_id,
                    type(exc).__name__)
