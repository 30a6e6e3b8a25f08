"""How many jobs each queue holds, by state, read from RQ's lists and registries."""
from __future__ import annotations

from redis import Redis

from workers import queues

STATES = ("queued", "started", "failed", "scheduled", "deferred")


def jobs_by_state(redis: Redis) -> list[tuple[str, str, int]]:
    """(queue, state, jobs) for every queue and state, in one round trip. Registries are counted
    as they stand: RQ's cleanup of expired entries is left to the workers, so reading writes nothing."""
    keys = [(name, _keys(queues.queue(name, redis))) for name in queues.NAMES]
    with redis.pipeline(transaction=False) as pipe:
        for _, state_keys in keys:
            pipe.llen(state_keys[0])
            for key in state_keys[1:]:
                pipe.zcard(key)
        counts = iter(pipe.execute())
    return [(name, state, next(counts)) for name, _ in keys for state in STATES]


def _keys(queue) -> tuple[str, ...]:
    # In the order of STATES: the queue's own list, then one sorted set per registry.
    return (queue.key, queue.started_job_registry.key, queue.failed_job_registry.key,
            queue.scheduled_job_registry.key, queue.deferred_job_registry.key)
