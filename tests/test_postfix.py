"""Mail through a real Postfix (tests/postfix.py) to the LMTP listener `flask --app wsgi lmtp` runs
(workers/lmtp.py's Listener), on real Redis, worked by the real worker: a DSN, an ARF report, a
mailto opt-out and seed mail submitted to Postfix's smtpd, as a remote MTA would, end as the right
events and suppressions, and Postfix's queue is empty. (With the database stopped, Postfix holds
the mail and delivers it once the database is back: faults/test_postfix_outage.py, which stops a
PostgreSQL of its own.)"""
from __future__ import annotations

import time
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from suppression import create_app
from suppression.db import db
from suppression.models import Event, EventStatus, Reason, Suppression
from tests.conftest import work
from tests.daemons import free_port
from tests.postfix import Postfix
from tests.test_inbound import arf, decision, dsn
from workers.lmtp import Listener

# The domains the MTA takes mail for, each routed to the listener: the bounce (VERP) domain, the
# mailto opt-out's (the tests' PUBLIC_BASE_URL host) and the seeds'.
BOUNCE_DOMAIN, MAILTO_DOMAIN, SEED_DOMAIN = "bounce.example", "unsubscribe.example.net", "seeds.example"
DELIVERY_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def lmtp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def postfix(lmtp_port):
    """One Postfix for the module (starting one takes seconds); each test's listener takes its port."""
    mta = Postfix({domain: ("127.0.0.1", lmtp_port) for domain in (BOUNCE_DOMAIN, MAILTO_DOMAIN, SEED_DOMAIN)})
    mta.start()
    yield mta
    mta.stop()


@pytest.fixture
def mta_app(app, database_url, redis_url):
    """The app as `flask lmtp` and the worker run it: jobs on real Redis."""
    return create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                       "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"],
                       "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"]})


@pytest.fixture
def listener(mta_app, lmtp_port, postfix):
    listening = Listener(mta_app, "127.0.0.1", lmtp_port)
    listening.start()
    yield listening
    listening.stop()


def delivered(postfix: Postfix, app, count: int) -> list[Event]:
    """Wait until Postfix has handed on everything and `count` events are stored; the events."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline:
        with app.app_context():
            stored = db.session.execute(select(Event).order_by(Event.id)).scalars().all()
            db.session.expunge_all()
        if len(stored) >= count and not any(postfix.queued().values()):
            return stored
        time.sleep(0.05)
    raise AssertionError(f"{count} event(s) not stored within {DELIVERY_TIMEOUT:g} s; queues {postfix.queued()};"
                         f" Postfix's log:\n{postfix.log()[-3000:]}")


def outcome(app) -> list[tuple[str, EventStatus, int | None]]:
    with app.app_context():
        return db.session.execute(select(Event.kind, Event.status, Event.account_id).order_by(Event.id)).all()


def suppressed(app) -> list[tuple[str, Reason]]:
    with app.app_context():
        return db.session.execute(select(Suppression.address, Suppression.reason).order_by(Suppression.id)).all()


def test_a_dsn_through_postfix_suppresses_for_the_account_of_its_verp_address(mta_app, postfix, listener,
                                                                              make_dealer):
    alpha = make_dealer("Alpha Motors")
    verp = f"bounces+a{alpha.account_id}-41@{BOUNCE_DOMAIN}"
    # A bounce's To need not be its return path: the envelope is what names the account.
    postfix.submit(dsn("Gone@Example.com", to=f"postmaster@{BOUNCE_DOMAIN}"), [verp])
    [event] = delivered(postfix, mta_app, 1)
    assert event.status == EventStatus.pending  # stored and queued before Postfix had its 250
    work(mta_app)
    assert outcome(mta_app) == [("auto", EventStatus.processed, alpha.account_id)]
    assert suppressed(mta_app) == [("gone@example.com", Reason.hard_bounce)]
    assert decision(alpha, "gone@example.com")["reason"] == "hard_bounce"


def test_an_arf_report_through_postfix_is_a_complaint_for_the_dealer(mta_app, postfix, listener, make_dealer):
    alpha = make_dealer("Alpha Motors")
    postfix.submit(arf("angry@example.com", original_headers=f"X-Account-ID: {alpha.account_id}"),
                   [f"fbl@{BOUNCE_DOMAIN}"], sender="reports@isp.example")
    delivered(postfix, mta_app, 1)
    work(mta_app)
    assert outcome(mta_app) == [("auto", EventStatus.processed, alpha.account_id)]
    assert suppressed(mta_app) == [("angry@example.com", Reason.complained)]
    assert decision(alpha, "angry@example.com")["reason"] == "complained"


def test_a_reply_to_the_mailto_address_through_postfix_opts_out(mta_app, postfix, listener, dealer):
    link = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "reader@example.com"}]}).json
    address, subject = link["results"][0]["mailto"].removeprefix("mailto:").split("?subject=")
    assert address.endswith("@" + MAILTO_DOMAIN)
    raw = (f"From: Reader <reader@example.com>\r\nTo: {address}\r\nSubject: {unquote(subject)}\r\n"
           "Message-ID: <optout-1@example.com>\r\n\r\nunsubscribe\r\n").encode()
    postfix.submit(raw, [address], sender="reader@example.com")
    delivered(postfix, mta_app, 1)
    work(mta_app)
    assert [(kind, status) for kind, status, _ in outcome(mta_app)] == [("unsubscribe", EventStatus.processed)]
    assert decision(dealer, "reader@example.com")["reason"] == "unsubscribed"


def test_mail_to_a_seed_through_postfix_is_stored_as_seed_mail(mta_app, postfix, listener, staff):
    seed = f"trap-1@{SEED_DOMAIN}"
    assert staff.post("/v1/seeds", json={"address": seed, "kind": "trap"}).status_code == 201
    raw = (f"From: Sales <sales@spammer.example>\r\nTo: {seed}\r\nSubject: Offer\r\n"
           "Message-ID: <offer-1@spammer.example>\r\n\r\nBuy now\r\n").encode()
    postfix.submit(raw, [seed], sender="sales@spammer.example")
    [event] = delivered(postfix, mta_app, 1)
    assert (event.kind, event.status) == ("seed", EventStatus.pending)  # the seeds job audits it
    assert event.raw.startswith(f"X-Original-To: {seed}\r\nReceived: from ".encode())
