"""The periodic jobs' scheduler: RQ's own (rq.cron) over workers/schedule.py, in a thread of
every worker, each slot queued once however many workers run it."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq.cron import CronJob, CronScheduler
from rq.exceptions import DuplicateJobError
from rq.job import Job

from workers import queues
from workers.outages import Backoff
from workers.schedule import SCHEDULE, Periodic

# A slot's job is kept this long after it ran, so a scheduler that comes late to the slot (a
# slow host, a skewed clock) finds it and queues nothing.
SLOT_RESULT_TTL = 3600

log = logging.getLogger(__name__)


def slot_id(name: str, slot: datetime) -> str:
    """The id of the periodic job `name` for the slot at `slot` (UTC): the same on every host.
    RQ takes letters, digits, dashes and underscores: sweep-pending-202501311205."""
    return f"{name}-{slot:%Y%m%d%H%M}"


class SlotJob(CronJob):
    """A periodic job that goes through our enqueue helper, once a slot.

    RQ 2.12's CronJob.enqueue builds `Queue(name, connection)` with RQ's default pickle
    serializer, which our workers (JSON only) cannot read, and gives each run a new job id, so
    N workers would queue each slot N times. This one queues through workers/queues.py, with the
    slot's own id and RQ's unique=True: the second scheduler to come finds the job there.
    """

    def enqueue(self, connection: Redis) -> Job | None:
        """Queue the job for the slot that has come (next_enqueue_time); None if already queued."""
        job_id = slot_id(self.name, self.next_enqueue_time)
        try:
            job = queues.enqueue(self.queue_name, self.func_name, *self.args, job_id=job_id, unique=True,
                                 result_ttl=SLOT_RESULT_TTL, redis=connection)
        except DuplicateJobError:
            log.debug("%s was queued by another worker's scheduler", job_id)
            return None
        log.info("queued %s", job_id)
        return job


class Scheduler(CronScheduler):
    """RQ's CronScheduler over `schedule`, run in a thread (`run`) rather than as a process."""

    def __init__(self, redis: Redis, schedule: Iterable[Periodic] = SCHEDULE):
        super().__init__(connection=redis)
        self._backoff = Backoff()
        for periodic in schedule:
            # register() would build a plain CronJob, and needs the function itself: ours takes its path.
            self._cron_jobs.append(SlotJob(periodic.queue, func_name=periodic.func, args=periodic.args,
                                           cron=periodic.cron, name=periodic.name))

    def run(self, stop: threading.Event) -> None:
        """CronScheduler.start() for a thread, until `stop` is set: no signal handlers of its
        own (only the main thread may install them, and the worker's are there already)."""
        log.info("periodic jobs: %s", ", ".join(f"{job.name} ({job.cron})" for job in self.get_jobs()))
        with suppress(RedisError):  # if Redis is away, the first heartbeat that reaches it registers us
            self.register_birth()
        while not stop.is_set():
            stop.wait(self._tick())
        with suppress(RedisError):
            self.register_death()

    def _tick(self) -> float:
        """Queue what has come due; seconds until the next slot."""
        try:
            if self.enqueue_jobs():
                self.save()
            self.heartbeat()
        except RedisError as exc:  # the due slot stays due: it is queued when Redis is back
            if not self._backoff.waiting:  # once an outage; heartbeat() registers us again after it
                log.warning("periodic jobs wait, Redis is unavailable: %s", type(exc).__name__)
            return self._backoff.next()
        self._backoff.reset()
        return self.calculate_sleep_interval()
