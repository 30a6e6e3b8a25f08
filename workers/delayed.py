"""The scheduler of delayed jobs (retries after an interval, `enqueue(delay=...)`): RQ's own,
in a thread of every worker, one of them at a time moving the jobs that have come due to
their queues."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from contextlib import suppress

from redis import Redis
from redis.exceptions import RedisError
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock
from rq.serializers import JSONSerializer

from workers.outages import REDIS_AWAY, Backoff

INTERVAL = 1  # seconds between two looks at the delayed jobs, and two refreshes of the lock
# A queue's lock outlives the last refresh of a worker that died this long: then another
# worker's scheduler takes it, within LOCK_SECONDS + INTERVAL of the death. Short, because a
# retry waits for it; long enough that a busy host's thread refreshes it in time (if it did
# not, two schedulers could move one job twice, and jobs are idempotent).
LOCK_SECONDS = 10

log = logging.getLogger(__name__)


class DelayedJobs(RQScheduler):
    """RQ's RQScheduler run in a thread (`run`) rather than the process RQ forks for it.

    A forked scheduler survives its worker killed with -9 and keeps the lock; RQ's lock lasts
    61 s and a worker that found it taken tries again only every 10 minutes; and the forked
    process exits on the first Redis error, to be restarted 10 minutes later. This one dies
    with its worker, waits out Redis outages, and tries for the locks every second.
    """

    def __init__(self, queue_names: Iterable[str], redis: Redis):
        super().__init__(list(queue_names), connection=redis, interval=INTERVAL, serializer=JSONSerializer)
        self._backoff = Backoff()

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """Take the locks that are free and refresh those held already; the queues this scheduler
        now schedules (RQ's, with a lock of LOCK_SECONDS rather than 61 s)."""
        held = {name for name in self._queue_names
                if acquire_or_refresh_lock(self.connection, self.get_locking_key(name), self.name,
                                           LOCK_SECONDS) != "taken"}
        if held - self._acquired_locks:
            log.info("this worker now schedules the delayed jobs of %s", ", ".join(sorted(held)))
        self._acquired_locks = held
        self._scheduled_job_registries = []  # rebuilt for the queues held now
        return held

    def run(self, stop: threading.Event) -> None:
        """Move due jobs to their queues each second until `stop` is set; then hand the locks over."""
        while not stop.is_set():
            stop.wait(self._tick())
        with suppress(RedisError):  # a stopping worker's locks are free at once, not in LOCK_SECONDS
            self.release_locks()
            self.register_death()

    def _tick(self) -> float:
        """Hold the locks and move what has come due; seconds until the next tick."""
        try:
            if self.acquire_locks():
                self.register_birth()  # its hash in Redis: pid, last heartbeat
                self.enqueue_scheduled_jobs()
        except REDIS_AWAY as exc:  # the worker logs the outage; a due job is moved once Redis is back
            log.debug("delayed jobs wait, Redis is unavailable: %s", exc)
            return self._backoff.next()
        except Exception:  # noqa: BLE001 -- a thread that died here would leave every retry waiting
            log.exception("delayed jobs: unexpected error, trying again")
            return self._backoff.next()
        self._backoff.reset()
        return self.interval
