"""Putting a job on a queue: one helper (workers/queues.py) sets every default once."""
from __future__ import annotations

import json
import zlib

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from suppression.models import Event
from workers import jobs, queues


def test_a_job_is_queued_with_json_arguments_its_id_retries_timeout_and_ttls_set_once(redis_app, redis_url):
    with redis_app.app_context():
        queues.enqueue(queues.AUP, "workers.jobs.sweep_pending", 60, job_id="sweep-now")
    redis = Redis.from_url(redis_url)
    assert queues.queue(queues.AUP, redis).job_ids == ["sweep-now"]
    data = json.loads(zlib.decompress(redis.hget("rq:job:sweep-now", "data")))  # JSON, not pickle
    assert data == ["workers.jobs.sweep_pending", None, [60], {}]
    job = Job.fetch("sweep-now", connection=redis, serializer=JSONSerializer)
    assert (job.retries_left, job.retry_intervals) == (queues.RETRY.max, queues.RETRY.intervals)
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (queues.JOB_TIMEOUT, 0, queues.FAILURE_TTL)


def test_a_job_takes_a_dotted_path_and_plain_values_and_is_refused_before_anything_is_queued(redis_app, redis_url):
    with redis_app.app_context():
        with pytest.raises(TypeError, match="dotted path"):
            queues.enqueue(queues.INBOUND, jobs.process_event, 1)
        with pytest.raises(TypeError, match="not JSON serializable"):
            queues.enqueue(queues.INBOUND, "workers.jobs.process_event", Event(id=1))
        with pytest.raises(ValueError, match="no queue 'default'"):
            queues.enqueue("default", "workers.jobs.process_event", 1)
    redis = Redis.from_url(redis_url)
    assert redis.keys("rq:job:*") == [] and queues.queue(queues.INBOUND, redis).count == 0
