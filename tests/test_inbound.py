"""Inbound mail end to end: stored raw first, processed by a job (inline or RQ on real Redis),
and turned into the right suppressions, counts and evidence."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from redis import Redis
from sqlalchemy import func, select

from suppression import create_app
from suppression.db import db
from suppression.models import (
    DailyCount,
    Event,
    EventStatus,
    Role,
    SoftBounce,
    Suppression,
)
from tests.conftest import make_key
from workers import batches, queues


def dsn(recipient: str, status: str = "5.1.1", *, to: str = "bounces@bounce.example",
        diagnostic: str = "smtp; 550 5.1.1 <{r}>: Recipient address rejected: User unknown",
        original_headers: str = "", action: str = "failed", message_id: str = "<1@mta.example>") -> bytes:
    """A standard RFC 3464 delivery status notification."""
    return f"""From: MAILER-DAEMON@mta.example
To: {to}
Subject: Undelivered Mail Returned to Sender
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.example

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: {diagnostic.format(r=recipient)}

--B
Content-Type: text/rfc822-headers

From: Sales <sales@alpha-motors.example>
To: {recipient}
Subject: Winter tyres
{original_headers}
--B--
""".replace("\n", "\r\n").encode()


def arf(recipient: str, feedback_type: str = "abuse", *, original_headers: str = "") -> bytes:
    """An RFC 5965 abuse report."""
    return f"""From: fbl@isp.example
To: fbl@platform.example
Subject: Abuse report
Message-ID: <arf-{recipient}-{feedback_type}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: ISP-FBL/1.0
Version: 1
Original-Rcpt-To: <{recipient}>

--F
Content-Type: message/rfc822

From: Sales <sales@alpha-motors.example>
To: {recipient}
Subject: Winter tyres
{original_headers}
Buy now.
--F--
""".encode()


@pytest.fixture
def ingest(app, client):
    from tests.conftest import Api
    return Api(client, make_key(app, Role.ingest))


def post_mail(ingest, raw: bytes, kind: str | None = None):
    query = f"?kind={kind}" if kind else ""
    return ingest.post(f"/v1/inbound/mail{query}", data=raw, content_type="message/rfc822")


def decision(api, address: str) -> dict:
    return api.post("/v1/check", json={"addresses": [address]}).json["results"][0]


def suppressions(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(select(Suppression.address, Suppression.scope_key, Suppression.reason,
                                         Suppression.event_id).order_by(Suppression.id)).all()


def today(app, account_id: int) -> DailyCount | None:
    with app.app_context():
        return db.session.get(DailyCount, (account_id, datetime.now(UTC).date()))


def test_hard_bounce_suppresses_globally_with_the_event_as_evidence(app, ingest, make_dealer):
    alpha, beta = make_dealer("Alpha Motors", ("alpha-motors.example",)), make_dealer("Beta Cars")
    to = f"bounces+a{alpha.account_id}-77@bounce.example"
    response = post_mail(ingest, dsn("Gone@Example.com", to=to))
    assert response.status_code == 202 and response.json["duplicate"] is False
    event_id = response.json["id"]
    shown = ingest.get(f"/v1/inbound/{event_id}").json
    assert shown["status"] == "processed" and shown["account_id"] == alpha.account_id
    assert shown["classification"]["kind"] == "bounce"
    assert shown["classification"]["recipients"][0]["hard"] is True
    for api in (alpha, beta):
        assert decision(api, "gone@example.com")["reason"] == "hard_bounce"
    assert [(a, s, e) for a, s, _, e in suppressions(app)] == [("gone@example.com", "global", event_id)]
    assert today(app, alpha.account_id).hard_bounces == 1


def test_the_same_message_twice_is_one_event(app, ingest, dealer):
    raw = dsn("twice@example.com")
    first, second = post_mail(ingest, raw), post_mail(ingest, raw.replace(b"\r\n", b"\n"))
    assert second.status_code == 202 and second.json == {"id": first.json["id"], "status": "processed",
                                                          "duplicate": True}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 1


def test_unattributed_hard_bounce_is_kept_and_still_suppresses(app, ingest, make_dealer):
    dealer = make_dealer("Beta Cars", ("beta-cars.example",))  # not the original's sender
    event_id = post_mail(ingest, dsn("nobody@example.com")).json["id"]
    shown = ingest.get(f"/v1/inbound/{event_id}").json
    assert shown["status"] == "processed" and shown["account_id"] is None
    assert decision(dealer, "nobody@example.com")["reason"] == "hard_bounce"


def test_policy_rejection_is_soft_and_never_suppresses(app, ingest, dealer):
    blocked = "smtp; 550 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"
    for n in range(4):
        post_mail(ingest, dsn("fine@example.com", "5.7.1", diagnostic=blocked, message_id=f"<b{n}@mta.example>",
                              to=f"bounces+a{dealer.account_id}-{n}@bounce.example"))
    assert decision(dealer, "fine@example.com")["send"] is True
    assert today(app, dealer.account_id).soft_bounces == 4


def test_soft_bounces_reach_the_limit_and_suppress_for_a_while(app, ingest, dealer):
    full = "smtp; 452 4.2.2 Mailbox full"
    statuses = []
    for n in range(3):
        event_id = post_mail(ingest, dsn("full@example.com", "4.2.2", diagnostic=full, action="failed",
                                         message_id=f"<f{n}@mta.example>")).json["id"]
        statuses.append(decision(dealer, "full@example.com")["send"])
        assert ingest.get(f"/v1/inbound/{event_id}").json["status"] == "processed"
    assert statuses == [True, True, False]
    assert decision(dealer, "full@example.com")["reason"] == "soft_bounce_limit"
    with app.app_context():
        expires = db.session.scalar(select(Suppression.expires_at))
    assert 29 <= (expires - datetime.now(UTC)).days <= 30


def test_a_bounce_of_a_forwarded_address_suppresses_the_address_the_dealer_mailed(app, ingest, dealer):
    """Original-Recipient names the address on the dealer's list; Final-Recipient where it was forwarded.
    A hard bounce suppresses both; a soft bounce counts against the one the dealer mails."""
    raw = dsn("target@forward.example").replace(b"Final-Recipient:", b"Original-Recipient: rfc822; Listed@Example.com\r\n"
                                                  b"Final-Recipient:")
    post_mail(ingest, raw)
    assert decision(dealer, "listed@example.com")["reason"] == "hard_bounce"
    assert decision(dealer, "target@forward.example")["reason"] == "hard_bounce"
    soft = dsn("full@forward.example", "4.2.2", diagnostic="smtp; 452 4.2.2 Mailbox full", action="delayed",
               message_id="<2@mta.example>")
    post_mail(ingest, soft.replace(b"Final-Recipient:", b"Original-Recipient: rfc822; mailed@example.com\r\nFinal-Recipient:"))
    with app.app_context():
        assert db.session.scalars(select(SoftBounce.address)).all() == ["mailed@example.com"]


def test_complaint_suppresses_for_the_dealer_named_in_the_original(app, ingest, make_dealer):
    alpha, beta = make_dealer("Alpha Motors"), make_dealer("Beta Cars")
    response = post_mail(ingest, arf("Angry@Example.com", original_headers=f"X-Account-ID: {alpha.account_id}"))
    assert ingest.get(f"/v1/inbound/{response.json['id']}").json["account_id"] == alpha.account_id
    assert decision(alpha, "angry@example.com")["reason"] == "complained"
    assert decision(beta, "angry@example.com")["send"] is True
    assert today(app, alpha.account_id).complaints == 1


def test_complaint_about_a_listed_message_is_for_the_whole_dealer(app, ingest, make_dealer):
    alpha = make_dealer("Alpha Motors")
    headers = f"X-Account-ID: {alpha.account_id}\nX-List-ID: spring-offers"
    post_mail(ingest, arf("angry@example.com", original_headers=headers))
    for list_name in ("spring-offers", "service-reminders"):
        result = alpha.post("/v1/check", json={"addresses": ["angry@example.com"], "list": list_name}).json["results"][0]
        assert (result["send"], result["reason"], result["scope"]) == (False, "complained", "account")


def test_complaint_attributed_by_sending_domain_and_not_spam_ignored(app, ingest, make_dealer):
    alpha = make_dealer("Alpha Motors", ("alpha-motors.example",))
    post_mail(ingest, arf("dkim@example.com"))
    assert decision(alpha, "dkim@example.com")["reason"] == "complained"
    event_id = post_mail(ingest, arf("happy@example.com", "not-spam")).json["id"]
    assert ingest.get(f"/v1/inbound/{event_id}").json["status"] == "ignored"
    assert decision(alpha, "happy@example.com")["send"] is True


def test_a_dmarc_failure_report_counts_toward_authentication_health_never_as_a_complaint(app, ingest, staff,
                                                                                        make_dealer):
    """RFC 6591 auth-failure reports are kind other: no suppression, no complaint; they are counted
    for the dealer whose domain the report is about and shown with its compliance summary."""
    alpha = make_dealer("Alpha Motors", ("alpha-motors.example",))
    event_id = post_mail(ingest, arf("seen@example.com", "auth-failure")).json["id"]
    event = ingest.get(f"/v1/inbound/{event_id}").json
    assert (event["status"], event["account_id"]) == ("processed", alpha.account_id)
    assert decision(alpha, "seen@example.com")["send"] is True
    counted = today(app, alpha.account_id)
    assert (counted.auth_failure_reports, counted.complaints) == (1, 0)
    summary = staff.get(f"/v1/accounts/{alpha.account_id}/compliance").json
    assert summary["auth_failure_reports"] == 1


def test_auto_reply_is_not_a_bounce(app, ingest, dealer):
    raw = (b"From: someone@example.com\r\nTo: sales@alpha-motors.example\r\nSubject: Out of office\r\n"
           b"Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n")
    event_id = post_mail(ingest, raw).json["id"]
    assert ingest.get(f"/v1/inbound/{event_id}").json["status"] == "ignored"
    assert suppressions(app) == []


def test_mail_to_the_mailto_address_unsubscribes(app, ingest, dealer):
    link = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "reply@example.com"}]}).json
    mailto = link["results"][0]["mailto"]
    address, subject = mailto.removeprefix("mailto:").split("?subject=")
    raw = f"From: reply@example.com\r\nTo: {address}\r\nSubject: {unquote(subject)}\r\n\r\nunsubscribe\r\n".encode()
    assert post_mail(ingest, raw).status_code == 202
    assert decision(dealer, "reply@example.com")["reason"] == "unsubscribed"


def mail_to(to: str, token: str, n: int) -> bytes:
    return (f"From: reply@example.com\r\nTo: {to}\r\nMessage-ID: <stop{n}@example.com>\r\n"
            f"Subject: unsubscribe {token}\r\n\r\nunsubscribe\r\n").encode()


@pytest.mark.parametrize("public,mailbox", [
    ("https://unsubscribe.example.net", "unsubscribe@unsubscribe.example.net"),
    # No mail domain (`make run`): links have no mailto, and mail to the host's forms, which links
    # made before named or a sender writes as an RFC 5321 address literal, is still an opt-out.
    ("http://127.0.0.1:5000", "unsubscribe@127.0.0.1"), ("http://127.0.0.1:5000", "unsubscribe@[127.0.0.1]"),
    ("http://[::1]:5000", "Unsubscribe@[IPv6:::1]")])
def test_a_mailto_opt_out_event_names_the_tokens_account(app, ingest, dealer, monkeypatch, public, mailbox):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", public)
    tokens = [dealer.post("/v1/unsubscribe-links", json={"recipients": [recipient]}).json["results"][0]["url"]
              .rsplit("/", 1)[1] for recipient in ({"address": "reply@example.com"},
                                                   {"address": "reply@example.com", "list": "offers"})]
    # a new opt-out, the same again (which changes nothing), and a list's token (an entry of its own)
    for n, token in enumerate([tokens[0], tokens[0], tokens[1]]):
        event_id = post_mail(ingest, mail_to(mailbox, token, n)).json["id"]
        event = ingest.get(f"/v1/inbound/{event_id}").json
        assert (event["status"], event["account_id"]) == ("processed", dealer.account_id), event
    assert decision(dealer, "reply@example.com")["reason"] == "unsubscribed"
    assert today(app, dealer.account_id).unsubscribes == 2  # the repeat counted nothing


@pytest.mark.parametrize("raw,kind,status,code", [
    (b"", None, 422, "empty_message"), (b"x", "nonsense", 422, "invalid_kind")])
def test_bad_ingest_requests_are_refused(ingest, raw, kind, status, code):
    response = post_mail(ingest, raw, kind)
    assert response.status_code == status and response.json["error"]["code"] == code


def test_ingest_needs_an_ingest_key_and_events_are_hidden_from_senders(ingest, dealer, client):
    assert client.post("/v1/inbound/mail", data=b"x").status_code == 401
    assert dealer.post("/v1/inbound/mail", data=b"x").status_code == 403
    event_id = post_mail(ingest, dsn("x@example.com")).json["id"]
    assert dealer.get(f"/v1/inbound/{event_id}").status_code == 403
    assert ingest.get("/v1/inbound/999999").status_code == 404


def test_oversized_message_is_413(app, ingest, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_INBOUND_BYTES", 1000)
    assert post_mail(ingest, b"x" * 2000).status_code == 413


def test_cli_ingest_reads_a_pipe_and_prints_the_event_id(app, runner, dealer):
    result = runner.invoke(args=["inbound", "ingest"], input=dsn("pipe@example.com"))
    assert result.exit_code == 0, result.output
    event_id = int(result.output.strip().splitlines()[-1])
    with app.app_context():
        assert db.session.get(Event, event_id).status == EventStatus.processed


def test_unreadable_events_fail_are_listed_and_replayed(app, runner):
    with app.app_context():
        db.session.add(Event(source="ses", kind="auto", dedupe_key="ses:1", raw=b"{}"))
        db.session.commit()
        event_id = db.session.scalar(select(Event.id))
    runner.invoke(args=["inbound", "retry", str(event_id)])
    listed = runner.invoke(args=["inbound", "failed"]).output
    assert listed.startswith(f"{event_id}\t") and "ses payload" in listed
    unknown = runner.invoke(args=["inbound", "retry", "424242"])
    assert unknown.exit_code != 0 and "no event 424242" in unknown.output


def test_retry_replays_an_event_parked_after_its_attempts(app, runner, dealer):
    with app.app_context():
        db.session.add(Event(source="mail", kind="auto", dedupe_key="mail:parked", raw=dsn("parked@example.com"),
                             status=EventStatus.failed, attempts=9, error="gave up after 8 attempts"))
        db.session.commit()
        event_id = db.session.scalar(select(Event.id))
    result = runner.invoke(args=["inbound", "retry", str(event_id)])
    assert result.exit_code == 0 and result.output.strip() == f"event {event_id}: processed"
    with app.app_context():
        assert db.session.get(Event, event_id).attempts == 1
    assert decision(dealer, "parked@example.com")["reason"] == "hard_bounce"


def test_a_message_whose_reader_fails_is_failed_with_the_error(app, ingest, monkeypatch):
    monkeypatch.setattr("workers.classify._classify", lambda raw, *headers: 1 / 0)
    response = post_mail(ingest, dsn("gone@example.com"))
    assert response.json["status"] == "failed"
    with app.app_context():
        assert db.session.get(Event, response.json["id"]).error == "unreadable message: ZeroDivisionError: division by zero"


def test_with_redis_events_wait_for_a_worker_and_survive_redis_outages(app, database_url, redis_url, dealer):
    keys = app.config["UNSUBSCRIBE_KEYS"]
    down = create_app({"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0", "UNSUBSCRIBE_KEYS": keys})
    up = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "UNSUBSCRIBE_KEYS": keys})
    ingest_key = make_key(up, Role.ingest)
    headers = {"Authorization": f"Bearer {ingest_key}", "Content-Type": "message/rfc822"}
    lost = down.test_client().post("/v1/inbound/mail", data=dsn("outage@example.com"), headers=headers)
    queued = up.test_client().post("/v1/inbound/mail", data=dsn("queued@example.com", message_id="<q@x>"),
                                   headers=headers)
    assert lost.json["status"] == queued.json["status"] == "pending"
    runner = up.test_cli_runner()
    assert runner.invoke(args=["inbound", "sweep", "--older-than", "0"]).exit_code == 0
    waiting = {int(i) for i in Redis.from_url(redis_url).lrange(batches.READY, 0, -1)}
    assert waiting == {lost.json["id"], queued.json["id"]}
    assert queues.queue(queues.INBOUND, Redis.from_url(redis_url)).count == 1  # one batch job for both
    worked = runner.invoke(args=["worker", "--burst"])  # the real entry point: `make worker`
    assert worked.exit_code == 0, worked.output
    with up.app_context():
        statuses = dict(db.session.execute(select(Event.id, Event.status)).all())
    assert set(statuses.values()) == {EventStatus.processed}
    assert decision(dealer, "outage@example.com")["reason"] == "hard_bounce"
    assert decision(dealer, "queued@example.com")["reason"] == "hard_bounce"
