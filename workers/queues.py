"""The queues, named by purpose, and the one way to put a job on them.

Every job goes through `enqueue`, which sets the defaults once: a job is named by its dotted
path, takes plain JSON values (the JSON serializer: never an ORM object), has RQ's retries with
backoff, a timeout, no stored result (the database holds the outcome) and a week's stay in the
failed registry. With REDIS_URL unset (the embedded default) the job runs inline, here and now.
"""
from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import now

from workers import connection, inline

INBOUND = "inbound"  # stored inbound events: bounces, complaints, provider webhooks
AUP = "aup"  # evaluating accounts against the AUP
SEEDS = "seeds"  # auditing seed messages, opt-out seeds' one-click POSTs, polling seed mailboxes
NAMES = (INBOUND, AUP, SEEDS)  # a worker listens on all of them, in this order

RETRY = Retry(max=3, interval=[30, 60, 120])
JOB_TIMEOUT = 600
FAILURE_TTL = 7 * 86400  # the events table holds results; RQ keeps failed jobs a week


@lru_cache(maxsize=32)
def queue(name: str, redis: Redis) -> Queue:
    """The queue called `name` on `redis`; its jobs take plain JSON values only."""
    if name not in NAMES:
        raise ValueError(f"no queue {name!r}: the queues are {', '.join(NAMES)}")
    return Queue(name, connection=redis, serializer=JSONSerializer)


def enqueue(queue_name: str, func: str, *args, job_id: str | None = None, unique: bool = False,
            retry: Retry | None = RETRY, timeout: int = JOB_TIMEOUT, result_ttl: int = 0,
            delay: timedelta | None = None, redis: Redis | None = None) -> Job | object:
    """Queue the job `func` (its dotted path) with `args`; call after the commit it depends on.
    The Job; or with no Redis configured the job has run inline and this is what it returned
    (None if it failed). `unique` refuses a second job with the same `job_id` (DuplicateJobError)."""
    if not isinstance(func, str):
        raise TypeError("a job is named by its dotted path, as the worker will import it")
    if redis is None:
        url = current_app.config["REDIS_URL"]
        if not url:
            return inline.run(func, *args)
        redis = connection.shared(url)
    target = queue(queue_name, redis)
    job = target.create_job(func, args=args, job_id=job_id, retry=retry, timeout=timeout, result_ttl=result_ttl,
                            failure_ttl=FAILURE_TTL,
                            status=JobStatus.SCHEDULED if delay else JobStatus.QUEUED)
    if delay:
        return target.schedule_job(job, now() + delay, unique=unique)
    return target.enqueue_job(job, unique=unique)
