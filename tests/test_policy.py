"""Policy as data: thresholds are typed settings checked at start-up, decisions are pure
functions of recorded facts, and the worker records, decides, says why and audits."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

import config
from config.policy import Policy, Rate
from suppression import create_app
from suppression.db import db
from suppression.models import AuditEntry
from suppression.policy import (
    BounceAction,
    Level,
    bounce_action,
    counts_toward_limit,
    is_complaint,
    rate_level,
)
from tests.test_inbound import arf, decision, dsn, ingest, post_mail  # noqa: F401 -- the fixture
from workers.findings import RecipientResult

POLICY = Policy()


def soft(reason: str, status: str = "4.2.2") -> RecipientResult:
    return RecipientResult("a@example.com", "failed", status, False, reason)


# Decisions, without a database

def test_a_hard_bounce_suppresses_whatever_the_count():
    dead = RecipientResult("a@example.com", "failed", "5.1.1", True, "user_unknown")
    assert bounce_action(dead, 0, POLICY).action == BounceAction.suppress


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
def test_a_delivery_report_does_nothing(action):
    assert bounce_action(RecipientResult("a@example.com", action, "2.0.0", False, "delivered"), 9,
                         POLICY).action == BounceAction.none
    assert bounce_action(RecipientResult("a@example.com", "failed", None, None, None), 9,
                         POLICY).action == BounceAction.none


def test_soft_bounces_about_the_address_suppress_at_the_limit():
    assert [bounce_action(soft("mailbox_full"), n, POLICY).action for n in (1, 2, 3, 4)] == [
        BounceAction.count, BounceAction.count, BounceAction.suppress_for_a_while, BounceAction.suppress_for_a_while]
    strict = Policy(soft_bounce_limit=1)
    assert bounce_action(soft("mailbox_full"), 1, strict).action == BounceAction.suppress_for_a_while


@pytest.mark.parametrize("reason", ["rejected", "blocked", "spam_block", "auth_failure", "policy", "rate_limited"])
def test_refusals_of_the_sender_or_the_message_never_count_against_the_address(reason):
    assert not counts_toward_limit(soft(reason, "5.7.1"))
    assert bounce_action(soft(reason, "5.7.1"), 50, POLICY).action == BounceAction.count


@pytest.mark.parametrize("feedback_type,counts", [
    ("abuse", True), ("fraud", True), ("virus", True), (None, True), ("not-spam", False), ("auth-failure", False),
    ("Not-Spam", False)])
def test_what_counts_as_a_complaint(feedback_type, counts):
    assert is_complaint(feedback_type) is counts


def test_a_rate_is_judged_only_with_enough_volume():
    rule = POLICY.complaint_rate  # 0.1 % warning, 0.3 % critical, from 1,000 sends
    assert rate_level(rule, 5, 999) is None  # 0.5 %, but too few sends to say
    assert [rate_level(rule, n, 1000) for n in (0, 1, 2, 3, 30)] == [
        None, Level.warning, Level.warning, Level.critical, Level.critical]
    assert rate_level(POLICY.unsubscribe_rate, 900, 1000) == Level.warning  # no critical level


# Settings

def test_rates_are_fractions_given_either_way():
    assert config.load({"COMPLAINT_RATE_WARNING": "0.1%"})["POLICY"].complaint_rate.warning == pytest.approx(0.001)
    assert config.load({"COMPLAINT_RATE_WARNING": "0.001"})["POLICY"].complaint_rate.warning == pytest.approx(0.001)
    defaults = config.load({})["POLICY"]
    assert defaults.complaint_rate == Rate(days=7, min_sends=1000, warning=0.001, critical=0.003)
    assert (defaults.hard_bounce_rate.warning, defaults.hard_bounce_rate.critical) == (0.02, 0.05)


def test_the_policy_is_overridable_through_create_app_and_the_environment(app, monkeypatch):
    monkeypatch.setenv("HARD_BOUNCE_RATE_WARNING", "3%")
    built = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"],
                        "SOFT_BOUNCE_LIMIT": 5, "COMPLAINT_RATE_CRITICAL": 0.004, "AUTO_SUSPEND": "off"})
    policy = built.config["POLICY"]
    assert (policy.soft_bounce_limit, policy.complaint_rate.critical, policy.auto_suspend) == (5, 0.004, False)
    assert policy.hard_bounce_rate.warning == pytest.approx(0.03)


@pytest.mark.parametrize("setting,value", [
    ("SOFT_BOUNCE_LIMIT", "three"), ("SOFT_BOUNCE_LIMIT", "0"), ("COMPLAINT_RATE_WARNING", "5"),
    ("COMPLAINT_RATE_CRITICAL", "0.0005"), ("AUTO_SUSPEND", "maybe"), ("COMPLAINT_RATE_DAYS", "0"),
    ("AUTH_CACHE_SECONDS", "-1"), ("VERP_PATTERN", r"\+a(\d+)"), ("VERP_PATTERN", "(unclosed"),
    ("PUBLIC_BASE_URL", "unsubscribe.example.net"), ("AUTH_FAILURE_LIMIT", "lots"), ("LOG_LEVEL", "LOUD"),
    ("ACCOUNT_HEADER", "X Account"), ("SECRET_KEY", "short"), ("PG_RANDOM_PAGE_COST", "fast")])
def test_a_bad_setting_stops_the_app_naming_it(app, setting, value):
    with pytest.raises(config.SettingsError, match=setting):
        create_app({"DATABASE_URL": app.config["DATABASE_URL"], setting: value})


# The worker records, decides, says why, and audits

def test_three_refusals_of_the_sender_do_not_suppress_the_recipient(app, ingest, dealer):  # noqa: F811
    for number, (status, words) in enumerate([("5.1.7", "550 5.1.7 Sender address rejected"),
                                              ("5.1.8", "553 5.1.8 Domain of sender address does not exist"),
                                              ("5.7.27", "550 5.7.27 Sender domain has null MX")]):
        raw = dsn("kept@example.com", status, diagnostic=f"smtp; {words}", message_id=f"<r{number}@mta>")
        assert post_mail(ingest, raw).status_code == 202
    assert decision(dealer, "kept@example.com")["send"] is True


def test_a_lower_soft_bounce_limit_applies_to_the_worker(app, ingest, dealer, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "POLICY", Policy(soft_bounce_limit=2))
    for number in range(2):
        post_mail(ingest, dsn("full@example.com", "4.2.2", action="delayed", message_id=f"<f{number}@mta>",
                              diagnostic="smtp; 452 4.2.2 Mailbox full"))
    assert decision(dealer, "full@example.com")["reason"] == "soft_bounce_limit"


def test_each_decision_is_logged_with_its_inputs_and_no_address(app, ingest, dealer, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="workers.effects")
    event_id = post_mail(ingest, dsn("logged@example.com")).json["id"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "workers.effects"]
    assert line.startswith(f"event {event_id}: suppress: hard bounce (user_unknown)") and "5.1.1" in line
    assert "logged@example.com" not in caplog.text


def test_the_workers_suppressions_are_audited_with_their_event(app, ingest, make_dealer):  # noqa: F811
    dealer = make_dealer("Alpha Motors", ("alpha-motors.example",))
    bounce = post_mail(ingest, dsn("dead@example.com")).json["id"]
    complaint = post_mail(ingest, arf("annoyed@example.com",
                                      original_headers=f"X-Account-ID: {dealer.account_id}")).json["id"]
    for number in range(3):
        post_mail(ingest, dsn("full@example.com", "4.2.2", action="delayed", message_id=f"<s{number}@mta>",
                              diagnostic="smtp; 452 4.2.2 Mailbox full"))
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.actor == "worker")
                                     .order_by(AuditEntry.id)).all()
        found = [(e.action, e.target, e.details["reason"], e.account_id) for e in entries]
        assert found == [("suppression.add", "dead@example.com", "hard_bounce", dealer.account_id),
                         ("suppression.add", "annoyed@example.com", "complained", dealer.account_id),
                         ("suppression.add", "full@example.com", "soft_bounce_limit", dealer.account_id)]
        assert [e.details["event_id"] for e in entries[:2]] == [bounce, complaint]
        assert "expires_at" in entries[2].details
