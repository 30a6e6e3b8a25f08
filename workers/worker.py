"""The worker process (`make worker`, `flask --app worker_app worker`): RQ's SimpleWorker on every
queue, each job in its own app context, the job id on every log line, the schedulers of
periodic and delayed jobs in threads, and Redis outages waited out rather than fatal."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from redis import Redis
from rq import SimpleWorker, worker_registration
from rq.exceptions import InvalidJobOperation, StopRequested
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker import WorkerStatus

from workers import connection, joblog, queues
from workers.delayed import DelayedJobs
from workers.outages import REDIS_AWAY, Backoff
from workers.scheduler import Scheduler

T = TypeVar("T")


class Worker(SimpleWorker):
    """Jobs run in this process, not a forked work horse (which would inherit the database
    connections of its parent); each in its own app context, so with its own database session.

    The schedulers run in threads of every worker rather than as processes of their own: nothing
    more to deploy or supervise, they live and die with the worker whose queues they feed (a
    scheduler RQ forks outlives a worker killed with -9, holding its lock). The periodic jobs'
    (workers/scheduler.py) queues each slot once, so N workers are N schedulers at no cost; the
    delayed jobs' (workers/delayed.py) runs in one worker at a time, under a lock. Threads, because
    RQ's schedulers install signal handlers, which only the main thread may do and which are the
    worker's.

    RQ's work loop quits on the first Redis error it does not expect (in a heartbeat, in a job's
    bookkeeping): here every Redis call of the loop waits for Redis instead (`_outlast`), logs
    the outage once, and carries on where it was.
    """

    def __init__(self, app: Flask, redis: Redis, schedulers: list[Scheduler | DelayedJobs]):
        super().__init__([queues.queue(name, redis) for name in queues.NAMES], connection=redis,
                         serializer=JSONSerializer)
        self.app = app
        self._stop_schedulers = threading.Event()
        self._schedulers = [threading.Thread(target=scheduler.run, args=(self._stop_schedulers,),
                                             name=type(scheduler).__name__, daemon=True)
                            for scheduler in schedulers]

    def _set_ip_address(self, connection: Redis) -> None:
        # RQ's constructor asks Redis first: a worker started during an outage waits for its end.
        self._outlast(super()._set_ip_address, connection)

    def _start_scheduler(self, burst: bool = False, *args, **kwargs) -> None:
        # A burst worker drains the queues and leaves: RQ's scheduler moves the delayed jobs due
        # now, once, and the periodic jobs are the long-running workers' to queue.
        if burst:
            super()._start_scheduler(burst, *args, **kwargs)
            return
        for thread in self._schedulers:
            thread.start()

    def check_for_suspension(self, burst: bool) -> None:
        self._outlast(super().check_for_suspension, burst)

    def run_maintenance_tasks(self) -> None:
        self._outlast(super().run_maintenance_tasks)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        return self._outlast(super().dequeue_job_and_maintain_ttl, timeout, max_idle_time)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is not None:  # queued on the caller's pipeline, sent by the caller
            super().heartbeat(timeout, pipeline)
        else:
            self._outlast(super().heartbeat, timeout)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run `job` in a fresh app context: whatever a job leaves in its session ends with it."""
        with self.app.app_context():
            try:
                super().execute_job(job, queue)
            except REDIS_AWAY as error:  # not called again: the job may have done its work
                self._wait_for_redis(error)
                self._outlast(self._settle, job, queue)

    def _settle(self, job: Job, queue: Queue) -> None:
        """Finish the bookkeeping of `job`, cut short by an outage: if Redis still has it started,
        fail it as RQ fails any job (queued again if it has retries left), rather than leave it
        to RQ's clean-up of abandoned jobs, 11 to 21 minutes later."""
        try:
            status = job.get_status(refresh=True)
        except InvalidJobOperation:
            status = None
        if status is None:  # Redis restarted without its data: the sweep queues the events again
            self.log.warning("job %s was lost with Redis's data", job.id)
        elif status == JobStatus.STARTED:
            self.log.warning("job %s was cut short by the outage: it fails, to be retried if it has retries left",
                             job.id)
            self.handle_job_failure(job, queue, exc_string="Redis became unavailable while the job ran")
        elif status == JobStatus.QUEUED:  # taken off its queue (BLPOP), never started: put back
            self.log.warning("job %s was taken off its queue as Redis went away: queued again", job.id)
            queue.enqueue_job(job, at_front=True)
        self.set_state(WorkerStatus.IDLE)

    def _outlast(self, call: Callable[..., T], *args) -> T:
        """`call(*args)`; while Redis is away, wait for it and call again."""
        while True:
            try:
                return call(*args)
            except REDIS_AWAY as error:
                self._wait_for_redis(error)

    def _wait_for_redis(self, error: Exception) -> None:
        """Sleep until Redis answers (backoff 1 s, doubling to 30 s), logged once an outage;
        then register this worker again, as a restarted Redis has forgotten it."""
        backoff, started = Backoff(), time.monotonic()
        pause = backoff.next()
        self.log.warning("Redis unavailable (%s), retrying in %g s", error, pause)
        while True:
            time.sleep(pause)  # a signal to stop raises StopRequested here when idle
            if self._stop_requested:  # asked to stop while busy: no job to finish
                raise StopRequested()
            try:
                self.connection.connection_pool.disconnect(inuse_connections=False)  # fresh sockets
                self.connection.ping()
                self._register_again()
                break
            except REDIS_AWAY as again:
                pause = backoff.next()
                self.log.debug("Redis still unavailable (%s), retrying in %g s", again, pause)
        self.log.info("Redis is back after %.0f s, worker %s resumes", time.monotonic() - started, self.name)

    def _register_again(self) -> None:
        """Put this worker back in RQ's registry (what `rq info` lists), with its state."""
        if self.birth_date is None:  # not registered yet: bootstrap does it
            return
        self.last_heartbeat = now()
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize() | {"state": self.get_state()})
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread) -> None:
        # RQ's logs an error every 2 s of an outage; the work loop logs it once.
        if not isinstance(exc, REDIS_AWAY):
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)
        time.sleep(2.0)

    def teardown(self) -> None:
        """Stop the schedulers with the worker; unregister it if Redis is there."""
        self._stop_schedulers.set()
        for thread in self._schedulers:
            if thread.is_alive():
                thread.join(timeout=10)
        try:
            super().teardown()
        except REDIS_AWAY:  # stopped during an outage: its registration expires on its own
            self.log.warning("worker %s stopped without Redis: not unregistered", self.name)


def run(app: Flask, burst: bool = False) -> None:
    """Work the queues until stopped (or, with `burst`, until they are empty)."""
    joblog.install(logging.getLogger().handlers)
    url = app.config["REDIS_URL"]
    # The schedulers share the process's fail-fast client; the worker blocks on a client of its own.
    schedulers = [Scheduler(connection.shared(url)), DelayedJobs(queues.NAMES, connection.shared(url))]
    Worker(app, connection.blocking(url), schedulers).work(burst=burst, with_scheduler=True)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty (and queue no periodic jobs).")
@with_appcontext
def command(burst: bool) -> None:
    """Run an RQ worker for the queues (inbound, aup, seeds) and the periodic jobs; REDIS_URL must be set."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline")
    run(current_app._get_current_object(), burst)  # the app itself: each job pushes its own context


def register(app: Flask) -> None:
    """Add the `worker` command to the app's CLI."""
    app.cli.add_command(command)
