"""AUP evaluation and notifications as jobs: one evaluation per account at a time, and alerts
announced to ALERT_WEBHOOK_URL as signed JSON by a job that RQ retries. The receiver is a real
HTTP server the test starts on loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from redis import Redis
from rq.registry import ScheduledJobRegistry

from suppression import create_app
from suppression.models import Role
from tests.conftest import Api, make_key, work
from tests.test_aup import count
from tests.test_inbound import arf
from workers import alerting, queues

SECRET = "s" * 40


class Receiver:
    """An HTTP server on loopback that records each POST and answers with the next status given."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/aup"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for _, body in self.received]


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()


def hooked(app, receiver, **settings):
    return create_app({"DATABASE_URL": app.config["DATABASE_URL"], "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"],
                       "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_SECRET": SECRET, **settings})


def test_an_alert_that_opens_critical_is_announced_signed_with_its_suspension(app, receiver, dealer):
    built = hooked(app, receiver)
    count(built, dealer.account_id, sends=1000, complaints=3)
    built.test_cli_runner()  # jobs inline: the evaluation and its notifications run here
    with built.app_context():
        from workers import jobs
        jobs.evaluate_accounts()
    assert receiver.events() == ["alert.opened", "account.suspended"]
    headers, body = receiver.received[0]
    stamp, signature = (part.split("=", 1)[1] for part in headers["X-Suppression-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    sent = json.loads(body)
    assert (sent["alert"]["rule"], sent["alert"]["severity"], sent["account"]["id"]) == (
        "complaint_rate", "critical", dealer.account_id)
    assert json.loads(receiver.received[1][1])["account"]["status"] == "suspended"
    assert "@" not in body.decode()  # no addresses leave the service


def test_a_refused_notification_is_retried_by_rq(app, receiver, redis_url, dealer):
    built = hooked(app, receiver, REDIS_URL=redis_url)
    receiver.statuses = [500]
    with built.app_context():
        from workers import jobs
        count(built, dealer.account_id, sends=1000, complaints=1)
        jobs.evaluate_accounts()  # a warning: one notification queued
    work(built)
    assert receiver.events() == ["alert.opened"]
    retried = ScheduledJobRegistry(queues.AUP, connection=Redis.from_url(redis_url)).get_job_ids()
    assert len(retried) == 1  # RQ tries it again later, with backoff


def test_an_account_is_judged_once_however_many_events_ask(app, redis_url, dealer):
    built = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": redis_url,
                        "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"]})
    ingest = Api(built.test_client(), make_key(built, Role.ingest))
    for n in range(5):
        raw = arf(f"annoyed{n}@example.com", original_headers=f"X-Account-ID: {dealer.account_id}")
        assert ingest.post("/v1/inbound/mail", data=raw, content_type="message/rfc822").status_code == 202
    redis = Redis.from_url(redis_url)
    with built.app_context():
        from workers import jobs
        assert jobs.process_ready() == 5  # the batch job, as a worker runs it: five complaints counted
        alerting.request_evaluation([dealer.account_id])  # the next batch asks again while it waits
    assert queues.queue(queues.AUP, redis).job_ids == [f"aup-account-{dealer.account_id}"]
    work(built)
    staff = Api(built.test_client(), make_key(built, Role.staff))
    assert [a["account_id"] for a in staff.get("/v1/alerts").json["items"]] == []  # no volume reported: undefined


def test_the_webhook_settings_are_checked_at_start(app):
    from config import SettingsError
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_SECRET"):
        create_app({"DATABASE_URL": app.config["DATABASE_URL"], "ALERT_WEBHOOK_URL": "https://hooks.example/aup"})
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_URL"):
        create_app({"DATABASE_URL": app.config["DATABASE_URL"], "ALERT_WEBHOOK_URL": "hooks.example",
                    "ALERT_WEBHOOK_SECRET": SECRET})
