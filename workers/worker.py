"""The worker process (`make worker`, `flask --app wsgi worker`): RQ's SimpleWorker on every
queue, each job in its own app context, the job id on every log line."""
from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from redis import Redis
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer

from workers import connection, joblog, queues


class Worker(SimpleWorker):
    """Jobs run in this process, not a forked work horse (which would inherit the database
    connections of its parent); each in its own app context, so with its own database session."""

    def __init__(self, app: Flask, redis: Redis):
        super().__init__([queues.queue(name, redis) for name in queues.NAMES], connection=redis,
                         serializer=JSONSerializer)
        self.app = app

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run `job` in a fresh app context: whatever a job leaves in its session ends with it."""
        with self.app.app_context():
            super().execute_job(job, queue)


def run(app: Flask, burst: bool = False) -> None:
    """Work the queues until stopped (or, with `burst`, until they are empty)."""
    joblog.install(logging.getLogger().handlers)
    Worker(app, connection.blocking(app.config["REDIS_URL"])).work(burst=burst, with_scheduler=True)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@with_appcontext
def command(burst: bool) -> None:
    """Run an RQ worker for the queues (inbound, aup, seeds); REDIS_URL must be set."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inline")
    run(current_app._get_current_object(), burst)  # the app itself: each job pushes its own context


def register(app: Flask) -> None:
    """Add the `worker` command to the app's CLI."""
    app.cli.add_command(command)
