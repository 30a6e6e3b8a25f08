"""AUP enforcement: send volume, the rules at their edges, alerts and their lifecycle, automatic
suspension, and the staff API, end to end on both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from config.policy import Policy
from suppression import aup, counters
from suppression.db import db, utcnow
from suppression.models import Account, AccountStatus, Alert, AuditEntry
from suppression.policy import Counts, Level, judge
from tests.test_inbound import arf, ingest, post_mail  # noqa: F401 -- the fixture

POLICY = Policy()


def readings(policy: Policy = POLICY, **counts) -> dict:
    window = Counts(**counts)
    return {r.rule: r for r in judge({n: window for n in policy.windows()}, policy)}


# The rules, without a database

@pytest.mark.parametrize("complaints,level", [(0, None), (1, Level.warning), (2, Level.warning),
                                              (3, Level.critical), (30, Level.critical)])
def test_the_complaint_rate_at_each_threshold(complaints, level):
    found = readings(sends=1000, complaints=complaints)["complaint_rate"]
    assert (found.level, found.value, found.volume) == (level, complaints / 1000, 1000)


def test_below_the_minimum_volume_a_rate_is_undefined_not_zero():
    found = readings(sends=999, complaints=500, hard_bounces=500)
    assert found["complaint_rate"].value is None and found["complaint_rate"].level is None
    assert found["hard_bounce_rate"].value is None and found["hard_bounce_rate"].level is None
    assert readings(sends=0)["unsubscribe_rate"].value is None


@pytest.mark.parametrize("hard,level", [(19, None), (20, Level.warning), (49, Level.warning), (50, Level.critical)])
def test_the_hard_bounce_rate_at_each_threshold(hard, level):
    assert readings(sends=1000, hard_bounces=hard)["hard_bounce_rate"].level == level


def test_the_unsubscribe_rate_only_warns():
    assert readings(sends=1000, unsubscribes=9)["unsubscribe_rate"].level is None
    assert readings(sends=1000, unsubscribes=1000)["unsubscribe_rate"].level == Level.warning


def test_any_trap_hit_is_critical_whatever_the_volume():
    assert readings(trap_hits=0)["trap_hits"].level is None
    assert readings(trap_hits=1)["trap_hits"].level == Level.critical


def test_the_thresholds_are_the_policys():
    strict = Policy(complaint_rate=POLICY.complaint_rate.__class__(days=7, min_sends=100, warning=0.01, critical=0.02))
    assert readings(strict, sends=100, complaints=2)["complaint_rate"].level == Level.critical


# The engine, on the database

def count(app, account_id: int, day_offset: int = 0, **amounts) -> None:
    with app.app_context():
        for counter, amount in amounts.items():
            counters.bump(account_id, counter, amount, utcnow().date() - timedelta(days=day_offset))
        db.session.commit()


def evaluate(app, account_ids=None) -> aup.Outcome:
    with app.app_context():
        outcome = aup.evaluate(account_ids)
        db.session.commit()
        return outcome


def alerts_of(app, account_id: int) -> list[tuple]:
    with app.app_context():
        return db.session.execute(select(Alert.rule, Alert.severity, Alert.status, Alert.value)
                                  .where(Alert.account_id == account_id).order_by(Alert.id)).all()


def status_of(app, account_id: int) -> AccountStatus:
    with app.app_context():
        return db.session.get(Account, account_id).status


def test_a_warning_opens_one_alert_updated_in_place(app, dealer):
    count(app, dealer.account_id, sends=1000, complaints=1)
    evaluate(app)
    count(app, dealer.account_id, sends=1000, complaints=1)
    evaluate(app)
    assert [(r, s.value, st.value, v) for r, s, st, v in alerts_of(app, dealer.account_id)] == [
        ("complaint_rate", "warning", "open", 0.001)]
    assert status_of(app, dealer.account_id) == AccountStatus.active


def test_a_critical_alert_suspends_at_once_and_escalation_does_too(app, make_dealer):
    sudden, creeping = make_dealer("Sudden"), make_dealer("Creeping")
    count(app, sudden.account_id, sends=1000, complaints=3)
    count(app, creeping.account_id, sends=1000, hard_bounces=20)
    outcome = evaluate(app)
    assert outcome.suspended == [sudden.account_id]
    assert status_of(app, creeping.account_id) == AccountStatus.active
    count(app, creeping.account_id, hard_bounces=40)  # 60 of 1,000: critical
    assert evaluate(app, [creeping.account_id]).suspended == [creeping.account_id]
    assert [(r, s.value) for r, s, _, _ in alerts_of(app, creeping.account_id)] == [("hard_bounce_rate", "critical")]


def test_reinstated_while_the_alert_is_open_stays_reinstated_until_the_rule_crosses_anew(app, dealer, staff):
    count(app, dealer.account_id, sends=1000, complaints=5)
    evaluate(app)
    assert staff.post(f"/v1/accounts/{dealer.account_id}/reinstate", json={"reason": "list cleaned"}).status_code == 200
    evaluate(app)
    assert status_of(app, dealer.account_id) == AccountStatus.active  # the open alert does not suspend twice
    [alert] = staff.get(f"/v1/alerts?account_id={dealer.account_id}").json["items"]
    assert staff.post(f"/v1/alerts/{alert['id']}/resolve", json={"note": "list cleaned"}).status_code == 200
    evaluate(app)  # still over: a new alert, and a new suspension
    assert [s.value for _, _, s, _ in alerts_of(app, dealer.account_id)] == ["resolved", "open"]
    assert status_of(app, dealer.account_id) == AccountStatus.suspended


def test_a_rate_back_under_leaves_the_alert_open_with_its_new_value(app, dealer):
    count(app, dealer.account_id, sends=1000, complaints=1)
    evaluate(app)
    count(app, dealer.account_id, sends=9000)
    evaluate(app)
    assert [(s.value, v) for _, s, _, v in alerts_of(app, dealer.account_id)] == [("warning", 0.0001)]


def test_counts_outside_the_window_do_not_count(app, dealer):
    count(app, dealer.account_id, day_offset=7, sends=1000, complaints=10)  # eight days ago
    count(app, dealer.account_id, sends=1000)
    evaluate(app)
    assert alerts_of(app, dealer.account_id) == []


def test_with_auto_suspend_off_a_critical_alert_suspends_nothing(app, dealer, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY", Policy(auto_suspend=False))
    count(app, dealer.account_id, trap_hits=1)
    evaluate(app)
    assert [r for r, *_ in alerts_of(app, dealer.account_id)] == ["trap_hits"]
    assert status_of(app, dealer.account_id) == AccountStatus.active


# Volume

def sends(api, count: int, key: str, **fields):
    return api.post("/v1/sends", json={"count": count, **fields}, headers={"Idempotency-Key": key})


def test_a_retried_report_counts_once_and_a_reused_key_is_409(app, dealer):
    first = sends(dealer, 500, "batch-1", campaign="winter")
    assert first.status_code == 201 and first.json["counted"] is True
    again = sends(dealer, 500, "batch-1", campaign="winter")
    assert again.status_code == 200 and again.json["counted"] is False and again.json["id"] == first.json["id"]
    reused = sends(dealer, 700, "batch-1", campaign="winter")
    assert reused.status_code == 409 and reused.json["error"]["code"] == "idempotency_key_reused"
    assert sends(dealer, 250, "batch-2").status_code == 201
    with app.app_context():
        assert counters.series(dealer.account_id, utcnow().date(), utcnow().date())[0][1].sends == 750


@pytest.mark.parametrize("body,headers,status,code", [
    ({"count": 10}, {}, 422, "idempotency_key_required"),
    ({"count": 0}, {"Idempotency-Key": "k"}, 422, "invalid_request"),
    ({"count": 10, "day": "2999-01-01"}, {"Idempotency-Key": "k"}, 422, "invalid_day"),
    ({"count": 10, "day": "2001-01-01"}, {"Idempotency-Key": "k"}, 422, "invalid_day")])
def test_bad_send_reports_are_refused(dealer, body, headers, status, code):
    response = dealer.post("/v1/sends", json=body, headers=headers)
    assert response.status_code == status and response.json["error"]["code"] == code


def test_a_report_for_an_earlier_day_counts_on_that_day(app, dealer):
    day = (utcnow().date() - timedelta(days=3)).isoformat()
    assert sends(dealer, 40, "late", day=day).json["day"] == day
    metrics = staff_metrics(app, dealer.account_id)
    assert [d["sends"] for d in metrics["days"] if d["day"] == day] == [40]


def staff_metrics(app, account_id: int, **query) -> dict:
    from suppression.models import Role
    from tests.conftest import Api, make_key
    staff = Api(app.test_client(), make_key(app, Role.staff))
    return staff.get(f"/v1/accounts/{account_id}/metrics", query_string=query).json


# End to end

def test_complaints_past_the_critical_rate_suspend_and_every_step_is_audited(app, client, ingest, dealer,  # noqa: F811
                                                                            staff):
    assert sends(dealer, 1000, "monday").status_code == 201
    link = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "reader@example.com"}]}).json
    for n in range(3):  # 0.3 % of 1,000
        raw = arf(f"angry{n}@example.com", original_headers=f"X-Account-ID: {dealer.account_id}")
        assert post_mail(ingest, raw).status_code == 202
    [alert] = staff.get("/v1/alerts?status=open").json["items"]
    assert (alert["rule"], alert["severity"], alert["account_id"], alert["volume"]) == (
        "complaint_rate", "critical", dealer.account_id, 1000)
    assert alert["value"] == pytest.approx(0.003) and len(alert["evidence"]) == 3
    refused = dealer.post("/v1/check", json={"addresses": ["x@example.com"]})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "account_suspended"
    assert sends(dealer, 10, "tuesday").status_code == 403
    one_click = client.post(link["results"][0]["url"].split("example.net", 1)[1], data="List-Unsubscribe=One-Click",
                            content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 200  # recipients' opt-outs keep working
    assert post_mail(ingest, arf("late@example.com")).status_code == 202  # and so does inbound mail (a 4th complaint)
    assert staff.post(f"/v1/alerts/{alert['id']}/acknowledge", json={}).json["status"] == "acknowledged"
    reinstated = staff.post(f"/v1/accounts/{dealer.account_id}/reinstate", json={"reason": "purged the list"})
    assert reinstated.status_code == 200
    resolved = staff.post(f"/v1/alerts/{alert['id']}/resolve", json={"note": "purged the list"})
    assert resolved.json["status"] == "resolved"
    assert dealer.post("/v1/check", json={"addresses": ["x@example.com"]}).status_code == 200
    with app.app_context():
        trail = db.session.execute(select(AuditEntry.actor, AuditEntry.action).where(
            AuditEntry.account_id == dealer.account_id, AuditEntry.action.notlike("key.%"),
            AuditEntry.action != "account.create").order_by(AuditEntry.id)).all()
    actions = [action for _, action in trail]
    assert actions.count("suppression.add") == 4 and "suppression.unsubscribe" in actions
    assert [(a, act) for a, act in trail if not act.startswith("suppression.")] == [  # jobs inline: judged each time
        ("aup", "alert.open"), ("aup", "alert.escalate"), ("aup", "account.suspend"),
        (staff_actor(staff), "alert.acknowledge"),
        (staff_actor(staff), "account.reinstate"), (staff_actor(staff), "alert.resolve")]


def staff_actor(staff) -> str:
    from suppression import accounts
    with staff.client.application.app_context():
        return f"key:{accounts.authenticate(staff.key).key_id}"


# The staff API

def test_alerts_are_filtered_and_paged(app, make_dealer, staff):
    noisy = [make_dealer(f"Dealer {n}") for n in range(3)]
    for n, api in enumerate(noisy):
        count(app, api.account_id, sends=1000, complaints=1 + 2 * n)  # warning, critical, critical
    evaluate(app)
    critical = staff.get("/v1/alerts", query_string={"severity": "critical", "limit": 1}).json
    assert len(critical["items"]) == 1 and critical["next"] is not None
    rest = staff.get("/v1/alerts", query_string={"severity": "critical", "before": critical["next"]}).json
    assert len(rest["items"]) == 1 and rest["next"] is None
    mine = staff.get("/v1/alerts", query_string={"account_id": noisy[0].account_id}).json["items"]
    assert [a["severity"] for a in mine] == ["warning"]
    assert staff.get("/v1/alerts", query_string={"status": "nonsense"}).status_code == 422


def test_illegal_transitions_are_409_and_unknown_alerts_404(app, dealer, staff):
    count(app, dealer.account_id, sends=1000, complaints=1)
    evaluate(app)
    [alert] = staff.get("/v1/alerts").json["items"]
    missing_note = staff.post(f"/v1/alerts/{alert['id']}/dismiss", json={})
    assert missing_note.status_code == 422 and missing_note.json["error"]["code"] == "note_required"
    assert staff.post(f"/v1/alerts/{alert['id']}/dismiss", json={"note": "a test send"}).status_code == 200
    again = staff.post(f"/v1/alerts/{alert['id']}/resolve", json={"note": "x"})
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"
    assert staff.post(f"/v1/alerts/{alert['id']}/acknowledge", json={}).status_code == 409
    assert staff.post("/v1/alerts/999999/acknowledge", json={}).status_code == 404
    assert staff.get("/v1/alerts/999999").status_code == 404
    assert dealer.get("/v1/alerts").status_code == 403


def test_metrics_give_daily_counts_rates_and_each_rules_reading(app, dealer):
    count(app, dealer.account_id, sends=1000, complaints=2, unsubscribes=5)
    count(app, dealer.account_id, day_offset=1, sends=0, hard_bounces=3)
    metrics = staff_metrics(app, dealer.account_id)
    assert len(metrics["days"]) == 30 and metrics["to"] == utcnow().date().isoformat()
    today, yesterday = metrics["days"][-1], metrics["days"][-2]
    assert (today["sends"], today["complaint_rate"], today["unsubscribe_rate"]) == (1000, 0.002, 0.005)
    assert (yesterday["hard_bounces"], yesterday["hard_bounce_rate"]) == (3, None)  # no sends: undefined
    rules = {r["rule"]: r for r in metrics["rules"]}
    assert (rules["complaint_rate"]["level"], rules["complaint_rate"]["volume"]) == ("warning", 1000)
    bad = staff_metrics(app, dealer.account_id, **{"from": "2026-01-10", "to": "2026-01-01"})
    assert bad["error"]["code"] == "invalid_range"
    assert staff_metrics(app, 999999)["error"]["code"] == "not_found"
