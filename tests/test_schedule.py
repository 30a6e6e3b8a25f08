"""Periodic jobs: declared as data, queued by RQ's cron scheduler in every worker, each slot once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from croniter import croniter
from redis import Redis
from rq.cron import CronScheduler
from rq.utils import now
from sqlalchemy import update

from config import ROOT
from suppression import events
from suppression.db import db, utcnow
from suppression.models import Event, EventStatus
from tests.conftest import UNSUBSCRIBE_KEY, work
from tests.test_inbound import decision, dsn
from workers import queues, schedule, scheduler
from workers.schedule import Periodic


def test_the_sweep_of_pending_events_is_declared_every_minute_on_the_inbound_queue():
    sweep = Periodic("sweep-pending", "workers.jobs.sweep_pending", "* * * * *", queues.INBOUND)
    assert sweep in schedule.SCHEDULE
    assert len({periodic.name for periodic in schedule.SCHEDULE}) == len(schedule.SCHEDULE)


def test_the_aup_evaluation_of_every_account_is_declared_every_five_minutes_on_the_aup_queue():
    evaluation = Periodic("aup-evaluate", "workers.jobs.evaluate_accounts", "*/5 * * * *", queues.AUP)
    assert evaluation in schedule.SCHEDULE


def test_a_periodic_job_with_a_bad_crontab_or_queue_is_refused_where_it_is_declared():
    with pytest.raises(ValueError, match="not a crontab line"):
        Periodic("typo", "workers.jobs.sweep_pending", "every 5 minutes")
    with pytest.raises(ValueError, match="no queue 'default'"):
        Periodic("lost", "workers.jobs.sweep_pending", "*/5 * * * *", "default")


def test_each_slot_of_the_sweep_is_queued_once_however_many_workers_schedule_it(queued_app, redis_url, dealer):
    event_id = stored_while_redis_was_down(queued_app, minutes_ago=10)
    redis = Redis.from_url(redis_url)
    slot = croniter("*/5 * * * *", now()).get_prev(datetime)
    sweep = [periodic for periodic in schedule.SCHEDULE if periodic.name == "sweep-pending"]
    first, second, late = (due(scheduler.Scheduler(redis, sweep), slot) for _ in range(3))  # three workers' schedulers
    assert [cron_job.name for cron_job in first.enqueue_jobs()] == ["sweep-pending"]
    second.enqueue_jobs()
    assert queues.queue(queues.INBOUND, redis).job_ids == [scheduler.slot_id("sweep-pending", slot)]
    work(queued_app)  # the sweep queues the event, and the same burst processes it
    with queued_app.app_context():
        assert db.session.get(Event, event_id).status == EventStatus.processed
    assert decision(dealer, "late@example.com")["reason"] == "hard_bounce"
    late.enqueue_jobs()  # a host that comes to the slot after its job ran
    assert queues.queue(queues.INBOUND, redis).count == 0


def test_a_worker_runs_the_periodic_scheduler_until_it_stops(redis_url, tmp_path):
    env = os.environ | {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path}/worker.db",
                        "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "worker_app", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # `make worker`
    redis = Redis.from_url(redis_url)
    try:
        running = wait_for(lambda: CronScheduler.all(redis))
        assert [(job.name, job.func_name, job.cron, job.queue_name) for job in running[0].get_jobs()] == [
            (periodic.name, periodic.func, periodic.cron, periodic.queue) for periodic in schedule.SCHEDULE]
        assert len(running) == 1 and running[0].pid == worker.pid
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert CronScheduler.all(redis) == []  # it left with its worker


def stored_while_redis_was_down(app, minutes_ago: int) -> int:
    """An event stored and never queued, `minutes_ago`: only the sweep brings it to a worker."""
    with app.app_context():
        [(event_id, _)] = events.store("mail", [(dsn("late@example.com"), "mail:late")])
        db.session.execute(update(Event).where(Event.id == event_id)
                           .values(received_at=utcnow() - timedelta(minutes=minutes_ago)))
        db.session.commit()
    return event_id


def due(cron: scheduler.Scheduler, slot: datetime) -> scheduler.Scheduler:
    """`cron` with every job's next slot at `slot`: as if its clock had just reached it."""
    for cron_job in cron.get_jobs():
        cron_job.next_enqueue_time = slot
    return cron


def wait_for(found, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not (result := found()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return result
