"""The worker process (`make worker`, `flask --app wsgi worker`): RQ's SimpleWorker on every
queue, each job in its own app context, the job id on every log line, and the periodic jobs'
scheduler in a thread."""
from __future__ import annotations

import logging
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from redis import Redis
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer

from workers import connection, joblog, queues
from workers.scheduler import Scheduler


class Worker(SimpleWorker):
    """Jobs run in this process, not a forked work horse (which would inherit the database
    connections of its parent); each in its own app context, so with its own database session.

    The periodic jobs' scheduler runs in a thread of every worker rather than as a process of
    its own: nothing more to deploy or supervise, it lives and dies with the worker whose queues
    it feeds, and since each slot is queued once (workers/scheduler.py), N workers are N
    schedulers at no cost. A thread, because CronScheduler.start() installs signal handlers,
    which only the main thread may do and which are the worker's.
    """

    def __init__(self, app: Flask, redis: Redis, periodic: Scheduler):
        super().__init__([queues.queue(name, redis) for name in queues.NAMES], connection=redis,
                         serializer=JSONSerializer)
        self.app = app
        self._stop_periodic = threading.Event()
        self._periodic = threading.Thread(target=periodic.run, args=(self._stop_periodic,), name="periodic",
                                          daemon=True)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run `job` in a fresh app context: whatever a job leaves in its session ends with it."""
        with self.app.app_context():
            super().execute_job(job, queue)

    def _start_scheduler(self, burst: bool = False, *args, **kwargs) -> None:
        # RQ's scheduler of delayed jobs first: it may fork, and a fork copies this thread alone
        # (a lock another thread held at that moment would stay locked in the child). A burst
        # worker drains the queues and leaves: periodic jobs are the long-running workers' to queue.
        super()._start_scheduler(burst, *args, **kwargs)
        if not burst:
            self._periodic.start()

    def teardown(self) -> None:
        """Stop the periodic jobs' scheduler with the worker."""
        self._stop_periodic.set()
        if self._periodic.is_alive():
            self._periodic.join(timeout=10)
        super().teardown()


def run(app: Flask, burst: bool = False) -> None:
    """Work the queues until stopped (or, with `burst`, until they are empty)."""
    joblog.install(logging.getLogger().handlers)
    url = app.config["REDIS_URL"]
    # The scheduler shares the process's fail-fast client; the worker blocks on a client of its own.
    worker = Worker(app, connection.blocking(url), Scheduler(connection.shared(url)))
    worker.work(burst=burst, with_scheduler=True)


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
