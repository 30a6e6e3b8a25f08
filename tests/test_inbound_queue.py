"""Inbound events on real Redis: ids wait in a list, batch jobs work them, a failing event is
retried on its own, and an event queued twice (or claimed by another worker) is applied once."""
from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from redis import Redis
from rq.registry import ScheduledJobRegistry
from sqlalchemy import insert, select, update
from sqlalchemy.exc import OperationalError

from suppression import events
from suppression.db import db, utcnow
from suppression.models import Event, EventStatus, Role
from tests.conftest import Api, make_key, work
from tests.test_inbound import decision, dsn, today
from workers import batches, effects, jobs, queues, reading


@pytest.fixture
def ingest(queued_app):
    return Api(queued_app.test_client(), make_key(queued_app, Role.ingest))


def post(ingest, address: str) -> int:
    response = ingest.post("/v1/inbound/mail", data=dsn(address, message_id=f"<{address}>"),
                           content_type="message/rfc822")
    assert response.status_code == 202 and response.json["status"] == "pending"
    return response.json["id"]


def statuses(app) -> dict[int, EventStatus]:
    with app.app_context():
        return dict(db.session.execute(select(Event.id, Event.status)).all())


def test_a_burst_of_arrivals_is_one_batch_job_and_a_backlog_is_shared_out(queued_app, ingest, redis_url, dealer,
                                                                         monkeypatch):
    monkeypatch.setattr(batches, "BATCH", 4)
    ids = [post(ingest, f"gone{n}@example.com") for n in range(10)]
    redis = Redis.from_url(redis_url)
    assert [int(i) for i in redis.lrange(batches.READY, 0, -1)] == ids
    assert queues.queue(queues.INBOUND, redis).count == 1
    work(queued_app)  # three batches of at most 4, each queuing the next
    assert set(statuses(queued_app).values()) == {EventStatus.processed}
    assert redis.llen(batches.READY) == 0 and queues.queue(queues.INBOUND, redis).count == 0
    assert all(decision(dealer, f"gone{n}@example.com")["reason"] == "hard_bounce" for n in range(10))


def test_an_event_that_fails_is_retried_alone_and_its_batch_goes_on(queued_app, ingest, redis_url, dealer,
                                                                    monkeypatch):
    apply = effects.apply

    def database_trouble(event_id, verdict):
        if verdict.classification.recipients[0].address == "unlucky@example.com":
            raise RuntimeError("connection to the database lost")
        return apply(event_id, verdict)
    monkeypatch.setattr(effects, "apply", database_trouble)
    first, unlucky, last = (post(ingest, a) for a in ("a@example.com", "unlucky@example.com", "z@example.com"))
    work(queued_app)
    assert statuses(queued_app) == {first: EventStatus.processed, unlucky: EventStatus.pending,
                                    last: EventStatus.processed}
    registry = ScheduledJobRegistry(queues.INBOUND, connection=Redis.from_url(redis_url))
    assert registry.get_job_ids() == [f"event-{unlucky}"]  # with RQ's retries and backoff
    monkeypatch.setattr(effects, "apply", apply)
    with queued_app.app_context():
        assert jobs.process_event(unlucky) == "processed"  # what the scheduled job will do
    assert decision(dealer, "unlucky@example.com")["reason"] == "hard_bounce"


def test_an_event_queued_twice_is_applied_once(queued_app, ingest, redis_url, dealer):
    event_id = post(ingest, "twice@example.com")
    with queued_app.app_context():
        batches.enqueue_events([event_id])  # a worker died after taking it, and a sweep queued it again
    assert Redis.from_url(redis_url).lrange(batches.READY, 0, -1) == [str(event_id).encode()] * 2
    work(queued_app)
    assert statuses(queued_app) == {event_id: EventStatus.processed}
    assert today(queued_app, dealer.account_id).hard_bounces == 1
    with queued_app.app_context():
        assert db.session.get(Event, event_id).attempts == 1  # the second time found it finished


@pytest.mark.postgresql_only  # row locks are PostgreSQL's; SQLite lets one writer in at a time
def test_an_event_another_worker_holds_is_left_to_it(queued_app, ingest, database_url, dealer):
    event_id = post(ingest, "held@example.com")
    with psycopg.connect(database_url) as other_worker:
        other_worker.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (event_id,))
        with queued_app.app_context():
            assert jobs.process_event(event_id) == "pending"
        assert statuses(queued_app) == {event_id: EventStatus.pending}
    with queued_app.app_context():
        assert jobs.process_event(event_id) == "processed"
    assert today(queued_app, dealer.account_id).hard_bounces == 1


def test_a_batch_the_database_refuses_is_retried_event_by_event(queued_app, ingest, database_url, redis_url,
                                                                dealer):
    event_id = post(ingest, "stalled@example.com")
    with queued_app.app_context():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(events, "count_attempt", refuse)
            assert jobs.process_ready() == 0
        db.session.rollback()
    registry = ScheduledJobRegistry(queues.INBOUND, connection=Redis.from_url(redis_url))
    assert registry.get_job_ids() == [f"event-{event_id}"] and Redis.from_url(redis_url).llen(batches.READY) == 0
    with queued_app.app_context():
        assert jobs.process_event(event_id) == "processed"  # what the scheduled job will do
    assert decision(dealer, "stalled@example.com")["reason"] == "hard_bounce"


def refuse(event_id):  # the database going away, or SQLite's single writer slot taken too long
    raise OperationalError("UPDATE events", {}, Exception("database is locked"))


def test_a_message_that_cannot_be_read_is_failed_with_its_error_and_listed(queued_app, ingest):
    response = ingest.post("/v1/inbound/mail", data=b"no header fields here\r\njust words\r\n",
                           content_type="message/rfc822")
    event_id = response.json["id"]
    work(queued_app)
    with queued_app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.status, event.error) == (EventStatus.failed, "unreadable message: no RFC 5322 header fields")
    listed = queued_app.test_cli_runner().invoke(args=["inbound", "failed"]).output.splitlines()
    assert [(line.split("\t")[0], line.split("\t")[-1]) for line in listed] == [
        (str(event_id), "unreadable message: no RFC 5322 header fields")]


def test_a_worker_that_dies_mid_batch_charges_an_attempt_to_the_event_it_was_reading(queued_app, ingest, dealer,
                                                                                     monkeypatch):
    read = reading.read

    def dies_on_one(event):
        if b"dies@example.com" in event.raw:
            raise SystemExit("killed while reading")  # not an Exception: the job dies with it
        return read(event)
    monkeypatch.setattr(reading, "read", dies_on_one)
    ids = [post(ingest, address) for address in ("a@example.com", "b@example.com", "dies@example.com",
                                                 "d@example.com", "e@example.com")]
    with queued_app.app_context(), pytest.raises(SystemExit):
        jobs.process_ready()
    with queued_app.app_context():
        found = {event.id: (event.status, event.attempts) for event in db.session.scalars(select(Event))}
    assert [found[event_id] for event_id in ids] == [
        (EventStatus.processed, 1), (EventStatus.processed, 1), (EventStatus.pending, 1),
        (EventStatus.pending, 0), (EventStatus.pending, 0)]  # never read: nothing charged


def test_the_sweep_drains_ids_left_waiting_when_their_batch_job_died_with_its_worker(queued_app, ingest, redis_url):
    event_id = post(ingest, "orphan@example.com")
    redis = Redis.from_url(redis_url)
    queues.queue(queues.INBOUND, redis).empty()  # the batch job, taken by a worker killed before it read the list
    assert redis.exists(batches.BATCH_QUEUED)  # still set: arrivals queue no new batch job for a while
    with queued_app.app_context():
        db.session.execute(update(Event).where(Event.id == event_id).values(received_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    assert queued_app.test_cli_runner().invoke(args=["inbound", "sweep"]).exit_code == 0
    work(queued_app)
    assert statuses(queued_app)[event_id] == EventStatus.processed


def test_one_sweep_queues_every_stranded_event_but_not_those_still_waiting(queued_app, ingest, redis_url):
    waiting = post(ingest, "waiting@example.com")
    with queued_app.app_context():
        long_ago = utcnow() - timedelta(minutes=10)
        db.session.execute(insert(Event), [{"source": "mail", "kind": "auto", "dedupe_key": f"mail:{n}", "raw": b"x",
                                            "received_at": long_ago} for n in range(2500)])
        db.session.execute(update(Event).where(Event.id == waiting).values(received_at=long_ago))
        db.session.commit()
    result = queued_app.test_cli_runner().invoke(args=["inbound", "sweep"])
    assert result.exit_code == 0 and result.output.strip() == "queued 2500 pending events"
    ready = [int(i) for i in Redis.from_url(redis_url).lrange(batches.READY, 0, -1)]
    assert len(ready) == 2501 and len(set(ready)) == 2501  # the waiting one once, every stranded one once

