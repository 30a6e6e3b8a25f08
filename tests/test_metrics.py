"""GET /metrics: what an operator's Prometheus sees of checks, suppressions, events, alerts,
suspensions and queues, read from the real database and Redis, and who may scrape it."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from suppression import aup, counters, create_app
from suppression.db import db, utcnow
from suppression.models import AuditEntry, Event, EventStatus, Role, Suppression
from tests.conftest import UNSUBSCRIBE_KEY, Api, make_key
from tests.test_inbound import dsn
from workers import queues

TOKEN = "metrics-token-" + "x" * 20
ROOT = Path(__file__).resolve().parent.parent


def metrics_app(database_url: str, **settings):
    """An app on the test database whose /metrics reads the figures afresh at every scrape."""
    return create_app({"DATABASE_URL": database_url, "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY,
                       "METRICS_CACHE_SECONDS": 0} | settings)


@pytest.fixture
def scrape(app, database_url):
    """scrape() -> {sample name: [(labels, value), ...]}, as Prometheus would parse /metrics."""
    client = metrics_app(database_url).test_client()
    return lambda: parse(client.get("/metrics"))


def parse(response) -> dict[str, list[tuple[dict, float]]]:
    assert response.status_code == 200 and response.content_type == CONTENT_TYPE_LATEST
    text = response.get_data(as_text=True)
    assert "@" not in text  # no address, ever
    samples: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict, name: str, **labels) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(v for found, v in samples.get(name, []) if labels.items() <= found.items())


def test_suppressions_added_through_the_api_show_by_reason_scope_and_in_the_added_total(scrape, make_dealer, staff):
    dealer = make_dealer("Alpha")
    body = {"suppressions": [{"address": "a@example.com"}, {"address": "b@example.com", "reason": "unsubscribed"}]}
    assert dealer.post("/v1/suppressions", json=body).status_code == 201
    assert dealer.post("/v1/suppressions", json={"suppressions": [{"address": "c@example.com"}],
                                                 "list": "offers"}).status_code == 201
    assert staff.post("/v1/suppressions", json={"suppressions": [{"address": "d@example.com",
                                                                  "reason": "spam_trap"}]}).status_code == 201
    found = scrape()
    assert value(found, "suppression_suppressions", reason="manual", scope="account") == 1
    assert value(found, "suppression_suppressions", reason="manual", scope="list") == 1
    assert value(found, "suppression_suppressions", reason="unsubscribed", scope="account") == 1
    assert value(found, "suppression_suppressions", reason="spam_trap", scope="global") == 1
    assert value(found, "suppression_suppressions_added_total", reason="manual") == 2
    assert value(found, "suppression_suppressions_added_total", reason="complained") == 0  # present, at 0


def test_an_expired_suppression_is_not_in_force_but_stays_in_the_added_total(app, scrape, make_dealer):
    dealer = make_dealer("Alpha")
    assert dealer.post("/v1/suppressions", json={"suppressions": [{"address": "a@example.com"}],
                                                 "expires_at": "2099-01-01T00:00:00Z"}).status_code == 201
    assert value(scrape(), "suppression_suppressions", reason="manual") == 1
    with app.app_context():
        db.session.execute(update(Suppression).values(expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    found = scrape()
    assert value(found, "suppression_suppressions", reason="manual") == 0
    assert value(found, "suppression_suppressions_added_total", reason="manual") == 1


def test_an_import_counts_what_it_added(scrape, make_dealer):
    dealer = make_dealer("Alpha")
    response = dealer.post("/v1/suppressions/import", data="a@example.com\nb@example.com\nA@example.com\nnope\n",
                           content_type="text/csv")
    assert response.status_code == 200 and response.json["added"] == 2
    assert value(scrape(), "suppression_suppressions_added_total", reason="unsubscribed") == 2


def test_a_check_counts_each_decision_once_per_address(app, scrape, make_dealer):
    dealer = make_dealer("Alpha")
    dealer.post("/v1/suppressions", json={"suppressions": [{"address": "gone@example.com"}]})
    before = scrape()
    batch = ["gone@example.com", "GONE@example.com", "new@example.com", "not an address"]
    assert dealer.post("/v1/check", json={"addresses": batch}).status_code == 200
    upload = dealer.post("/v1/check/filter", data="gone@example.com\nfresh@example.com\n", content_type="text/csv")
    assert upload.status_code == 200 and upload.get_data(as_text=True).count("\n") == 3
    after = scrape()
    grew = {result: value(after, "suppression_checks_total", result=result)
            - value(before, "suppression_checks_total", result=result) for result in ("send", "suppressed", "invalid")}
    assert grew == {"send": 2, "suppressed": 3, "invalid": 1}


def test_an_event_stored_shows_by_source_kind_and_status(app, scrape, make_dealer):
    make_dealer("Alpha", ("alpha.example",))
    ingest = Api(app.test_client(), make_key(app, Role.ingest))
    response = ingest.post("/v1/inbound/mail?kind=bounce", data=dsn("gone@example.com"),
                           content_type="message/rfc822")
    assert response.status_code == 202
    found = scrape()
    status = response.json["status"]  # processed inline: no Redis here
    assert value(found, "suppression_events", source="mail", kind="bounce", status=status) == 1
    assert value(found, "suppression_events") == 1


def judge(app, account_id: int, **amounts) -> None:
    with app.app_context():
        for counter, amount in amounts.items():
            counters.bump(account_id, counter, amount, utcnow().date())
        aup.evaluate([account_id])
        db.session.commit()


def test_an_open_critical_alert_and_the_suspension_it_made_show(app, scrape, make_dealer):
    dealer = make_dealer("Sudden")
    make_dealer("Calm")
    judge(app, dealer.account_id, sends=1000, complaints=5)  # 0.5 %: critical, suspended at once
    found = scrape()
    assert value(found, "suppression_alerts_open", severity="critical", rule="complaint_rate", status="open") == 1
    assert value(found, "suppression_accounts", status="suspended") == 1
    assert value(found, "suppression_accounts", status="active") == 1
    assert value(found, "suppression_suspensions_total", by="aup") == 1
    assert value(found, "suppression_suspensions_total", by="staff") == 0


def test_a_suspension_by_staff_shows(scrape, make_dealer, staff):
    dealer = make_dealer("Alpha")
    response = staff.post(f"/v1/accounts/{dealer.account_id}/suspend", json={"reason": "bought list"})
    assert response.status_code == 200
    found = scrape()
    assert value(found, "suppression_suspensions_total", by="staff") == 1
    assert value(found, "suppression_accounts", status="suspended") == 1


def test_audit_entries_old_enough_are_read_once_over_several_scrapes_then_kept(app, scrape, make_dealer, monkeypatch):
    dealer = make_dealer("Alpha")
    dealer.post("/v1/suppressions", json={"suppressions": [{"address": f"old{n}@example.com"} for n in range(5)]})
    with app.app_context():  # written an hour ago: settled
        db.session.execute(update(AuditEntry).values(at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    dealer.post("/v1/suppressions", json={"suppressions": [{"address": "new@example.com"}]})
    monkeypatch.setattr("suppression.totals.STEP", 3)
    client = metrics_app(app.config["DATABASE_URL"]).test_client()

    def added():
        found = parse(client.get("/metrics"))
        return value(found, "suppression_suppressions_added_total", reason="manual") \
            if "suppression_suppressions_added_total" in found else None
    # Seven settled entries (the account, its key, five suppressions), three a scrape: no total
    # is shown until they are all read, and then every scrape counts the new ones too.
    assert [added() for _ in range(4)] == [None, None, 6, 6]
    dealer.post("/v1/suppressions", json={"suppressions": [{"address": "newer@example.com"}]})
    assert added() == 7


def test_a_queued_job_shows_in_its_queues_depth_on_real_redis(app, database_url, redis_url):
    queued = metrics_app(database_url, REDIS_URL=redis_url)
    with queued.app_context():
        queues.enqueue(queues.AUP, "workers.jobs.sweep_pending", 60)
        queues.enqueue(queues.INBOUND, "workers.jobs.sweep_pending", 60, delay=timedelta(hours=1))
    found = parse(queued.test_client().get("/metrics"))
    assert value(found, "suppression_redis_up") == 1
    assert value(found, "suppression_queue_jobs", queue="aup", state="queued") == 1
    assert value(found, "suppression_queue_jobs", queue="inbound", state="scheduled") == 1
    assert value(found, "suppression_queue_jobs", state="failed") == 0
    assert len(found["suppression_queue_jobs"]) == len(queues.NAMES) * 5


def test_redis_down_is_a_zero_not_a_failed_scrape(app, database_url):
    found = parse(metrics_app(database_url, REDIS_URL="redis://127.0.0.1:1/0").test_client().get("/metrics"))
    assert value(found, "suppression_redis_up") == 0 and "suppression_queue_jobs" not in found
    assert value(found, "suppression_database_up") == 1


def test_database_down_is_a_zero_not_a_failed_scrape():
    down = metrics_app("postgresql://postgres@127.0.0.1:1/nothing")
    found = parse(down.test_client().get("/metrics"))
    assert value(found, "suppression_database_up") == 0 and "suppression_suppressions" not in found
    assert "suppression_checks_total" in found  # what the process counted itself is still there


def test_with_a_token_set_a_scrape_must_bear_it(app, database_url):
    client = metrics_app(database_url, METRICS_TOKEN=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_short_token_stops_the_start(tmp_path):
    with pytest.raises(ValueError, match="METRICS_TOKEN must be at least 16"):
        metrics_app(f"sqlite:///{tmp_path}/unused.db", METRICS_TOKEN="short")


def test_figures_are_reused_for_the_cache_seconds_but_checks_count_at_once(app, database_url, make_dealer):
    client = metrics_app(database_url, METRICS_CACHE_SECONDS=3600).test_client()
    dealer = make_dealer("Alpha")
    first = parse(client.get("/metrics"))
    dealer.post("/v1/suppressions", json={"suppressions": [{"address": "a@example.com"}]})
    dealer.post("/v1/check", json={"addresses": ["b@example.com"]})
    second = parse(client.get("/metrics"))
    assert value(second, "suppression_suppressions") == value(first, "suppression_suppressions") == 0
    assert value(second, "suppression_checks_total", result="send") == value(first, "suppression_checks_total",
                                                                             result="send") + 1


def test_the_metrics_view_is_no_api_operation_needing_a_key(client):
    spec = client.get("/openapi.json").json
    assert "security" not in spec["paths"]["/metrics"]["get"]


MULTIPROCESS_CHILD = """
import sys
from suppression import create_app
from suppression.api import metrics
app = create_app({"DATABASE_URL": sys.argv[1], "METRICS_CACHE_SECONDS": 0})
with app.app_context():
    metrics.count_checks([{"reason": None}, {"reason": "invalid_address"}, {"reason": "hard_bounce"}])
print(app.test_client().get("/metrics").get_data(as_text=True))
"""


def test_with_a_shared_directory_a_scrape_adds_up_every_process(tmp_path):
    (tmp_path / "counts").mkdir()  # its own directory: every *.db file in it is read as counts
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "counts"))
    database = f"sqlite:///{tmp_path}/unused.db"
    outputs = [subprocess.run([sys.executable, "-c", MULTIPROCESS_CHILD, database], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout for _ in range(2)]
    last = {s.labels["result"]: s.value for f in text_string_to_metric_families(outputs[-1])
            for s in f.samples if s.name == "suppression_checks_total"}
    assert last == {"send": 2, "suppressed": 2, "invalid": 2}


def test_a_shared_directory_that_is_missing_stops_the_start(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="PROMETHEUS_MULTIPROC_DIR must be a directory"):
        metrics_app(f"sqlite:///{tmp_path}/unused.db")


def test_events_pending_past_the_sweep_threshold_show_as_stranded(app, scrape):
    with app.app_context():
        now = utcnow()
        for n, age in enumerate((3600, 61, 5)):  # two stranded, one just stored
            db.session.add(Event(source="mail", kind="auto", dedupe_key=f"mail:{n}", raw=b"x",
                                 received_at=now - timedelta(seconds=age)))
        db.session.add(Event(source="mail", kind="auto", dedupe_key="mail:done", raw=b"x", status=EventStatus.processed,
                             received_at=now - timedelta(seconds=3600)))
        db.session.commit()
    assert value(scrape(), "suppression_events_stranded") == 2
