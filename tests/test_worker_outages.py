"""A worker outlives Redis and PostgreSQL outages, and a worker killed with -9 leaves the delayed
jobs to another: each test runs `flask --app wsgi worker` processes against a Redis of its own."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Retry, Worker

from tests.conftest import (
    BACKENDS,
    PG_ADMIN_URL,
    PG_DATABASE,
    UNSUBSCRIBE_KEY,
    drop_postgres,
    fresh_postgres,
)
from workers import delayed, queues

ROOT = Path(__file__).resolve().parent.parent
OUTAGE = 3  # seconds: long enough for a heartbeat and a job's bookkeeping to meet it


class RedisServer:
    """A redis-server on a free loopback port, stopped and started again on the same port, with
    its data kept across a restart (appendonly), as a production Redis keeps it."""

    def __init__(self, directory: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory, self.process = directory, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"], stdout=subprocess.DEVNULL)
        wait_for(lambda: self._answers(), 10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def client(self) -> Redis:
        return Redis.from_url(self.url)

    def _answers(self) -> bool:
        try:
            return self.client().ping()
        except RedisError:  # not listening yet, or still loading its data
            return False


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_worker(redis_server, tmp_path):
    """start_worker(database_url=SQLite) -> a running `flask --app wsgi worker` (its own process
    group, so that nothing it forks outlives the test); each is killed at the end."""
    started = []

    def start(database_url: str = f"sqlite:///{tmp_path}/worker.db") -> subprocess.Popen:
        env = os.environ | {"REDIS_URL": redis_server.url, "DATABASE_URL": database_url,
                            "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY}
        log = open(tmp_path / f"worker-{len(started)}.log", "w")
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        worker.log = log.name
        started.append(worker)
        return worker

    yield start
    for worker in started:
        with_group(worker, signal.SIGKILL)
        worker.wait(timeout=10)


@pytest.fixture
def trace(tmp_path):
    """The file the sample jobs note in: what the worker did, seen from the test."""
    return tmp_path / "trace"


def test_a_busy_worker_waits_out_a_redis_outage_and_its_job_is_not_lost(redis_server, start_worker, trace):
    worker = start_worker()
    redis = redis_server.client()
    # The job's own Redis call (queueing the next) fails in the outage: it must run again after it.
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.slow_then_queue", str(trace), 2, retry=Retry(max=1),
                   redis=redis)
    wait_for(lambda: notes(trace) == ["started"], 30)
    redis_server.stop()
    time.sleep(OUTAGE)
    redis_server.start()
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", str(trace), "after", redis=redis_server.client())
    wait_for(lambda: {"after", "followed"} <= set(notes(trace)), 60, worker)
    assert worker.poll() is None, output(worker)
    assert "Redis unavailable" in output(worker)


def test_an_idle_worker_waits_out_a_redis_outage_and_still_runs_delayed_jobs(redis_server, start_worker, trace):
    worker = start_worker()
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", str(trace), "ready", redis=redis_server.client())
    wait_for(lambda: notes(trace) == ["ready"], 30, worker)
    redis_server.stop()
    time.sleep(OUTAGE)
    redis_server.start()
    redis = redis_server.client()
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", str(trace), "after", redis=redis)
    # A retry is a delayed job: its scheduler must have outlived the outage too.
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", str(trace), "delayed", delay=timedelta(seconds=1),
                   redis=redis)
    wait_for(lambda: {"after", "delayed"} <= set(notes(trace)), 60, worker)
    assert worker.poll() is None, output(worker)
    assert [w.pid for w in Worker.all(connection=redis)] == [worker.pid]  # `rq info` lists it


def test_a_worker_killed_with_9_leaves_no_process_and_another_runs_the_delayed_jobs(redis_server, start_worker,
                                                                                  trace):
    redis = redis_server.client()
    first = start_worker()
    wait_for(lambda: redis.get(delayed.DelayedJobs.get_locking_key(queues.INBOUND)), 30, first)
    second = start_worker()
    wait_for(lambda: len(Worker.all(connection=redis)) == 2, 30, second)
    first.kill()  # kill -9 of the worker that schedules the delayed jobs
    first.wait(timeout=10)
    left_behind = with_group(first, signal.SIGKILL)  # what a supervisor's restart would have to kill
    queued = time.monotonic()
    queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", str(trace), "delayed", delay=timedelta(seconds=1),
                   redis=redis)
    # The dead worker's lock expires LOCK_SECONDS after its last refresh; the other takes it
    # within a second of that, and runs the job. Twice that, for a loaded machine.
    wait_for(lambda: notes(trace) == ["delayed"], 2 * (delayed.LOCK_SECONDS + 2), second)
    assert time.monotonic() - queued < 2 * (delayed.LOCK_SECONDS + 2)
    assert not left_behind, "a process of the killed worker was still running"
    assert second.poll() is None, output(second)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL is not among TEST_BACKENDS")
def test_a_worker_outlives_its_database_connections_being_killed_and_the_job_is_retried(start_worker, redis_server,
                                                                                        trace):
    name = f"{PG_DATABASE}_outage"
    worker = start_worker(fresh_postgres(name))
    try:
        queues.enqueue(queues.INBOUND, "tests.sample_jobs.sleep_in_database", str(trace), 2,
                       retry=Retry(max=2, interval=1), redis=redis_server.client())
        wait_for(lambda: notes(trace) == ["started"], 30, worker)
        wait_for(lambda: terminate_backends(name), 10, worker)  # as a PostgreSQL restart does
        wait_for(lambda: notes(trace) == ["started", "started", "done"], 30, worker)
        queues.enqueue(queues.INBOUND, "tests.sample_jobs.note", str(trace), "after", redis=redis_server.client())
        wait_for(lambda: notes(trace)[-1:] == ["after"], 30, worker)
        assert worker.poll() is None, output(worker)
    finally:
        drop_postgres(name)  # WITH (FORCE): the worker's connections too


def terminate_backends(database: str) -> int:
    """Kill every connection to `database` in the middle of its statement; how many there were."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND query LIKE '%%pg_sleep%%' AND pid <> pg_backend_pid()",
                                (database,)).fetchall())


def with_group(process: subprocess.Popen, sig: int) -> bool:
    """Send `sig` to what is left of `process`'s process group; whether anything was left."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return False
    return True


def notes(trace: Path) -> list[str]:
    return trace.read_text().split() if trace.exists() else []


def output(worker: subprocess.Popen) -> str:
    return Path(worker.log).read_text()


def wait_for(found, seconds: float, worker: subprocess.Popen | None = None):
    deadline = time.monotonic() + seconds
    while not (result := found()):
        if worker is not None:
            assert worker.poll() is None, f"the worker exited; its log:\n{output(worker)}"
        assert time.monotonic() < deadline, "timed out" + (f"; the worker's log:\n{output(worker)}" if worker else "")
        time.sleep(0.1)
    return result
