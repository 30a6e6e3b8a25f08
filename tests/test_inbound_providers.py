"""Provider webhooks over HTTP: verified, stored one event per provider event, processed."""
from __future__ import annotations

import base64
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from suppression import create_app
from suppression.db import db
from suppression.models import Event, EventStatus, Payload, Role
from tests.conftest import Api, make_key
from tests.test_providers import (
    MAILGUN_KEY,
    TOPIC,
    failed,
    mailgun_payload,
    mg,
    pm_bounce,
    sendgrid_headers,
    ses_bounce,
    sg,
    signed,
    sns_notification,
)
from workers import providers
from workers.providers import mailgun, postmark, sendgrid, ses


@pytest.fixture
def configured(app, monkeypatch):
    """configure(**settings): provider settings made, and the adapters built again, as at a start."""
    def configure(**settings):
        for name, value in settings.items():
            monkeypatch.setitem(app.config, name, value)
        monkeypatch.setitem(app.extensions, "providers", providers.build(app.config))
    return configure


@pytest.fixture(scope="module")
def sns_key():
    """A signing key and a certificate valid today, standing in for SNS's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    start = datetime.now(UTC) - timedelta(days=1)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def decision(api, address: str, list_name: str | None = None) -> dict:
    body = {"addresses": [address]} | ({"list": list_name} if list_name else {})
    return api.post("/v1/check", json=body).json["results"][0]


def sends(api, address: str, *lists: str | None) -> list[bool]:
    """May `api`'s account mail `address`, for each list (None: no list named)?"""
    return [decision(api, address, name)["send"] for name in lists]


def statuses(app) -> list[EventStatus]:
    with app.app_context():
        return list(db.session.scalars(select(Event.status).order_by(Event.id)))


def mailgun_body(event_data: dict, token: str = "t" * 50) -> bytes:
    return json.dumps(mailgun_payload(event_data, token=token, timestamp=int(time.time()))).encode()


@pytest.mark.parametrize(("settings", "named"), [
    ({"SENDGRID_VERIFICATION_KEY": "bm90IGEga2V5"}, "SENDGRID_VERIFICATION_KEY"),  # base64, but not a key
    ({"MAILGUN_SIGNING_KEY": "key-1", "MAILGUN_MAX_AGE": "five minutes"}, "MAILGUN_MAX_AGE"),
    ({"SES_TOPIC_ARNS": "ses-feedback"}, "SES_TOPIC_ARNS"),
])
def test_a_bad_provider_setting_stops_the_app_starting_and_names_the_setting(tmp_path, settings, named):
    with pytest.raises(ValueError, match=named):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/unused.db", **settings})


def test_endpoints_are_off_until_their_verification_is_configured(client):
    for provider in ("ses", "sendgrid", "mailgun", "postmark"):
        response = client.post(f"/v1/inbound/{provider}", data=b"{}")
        assert response.status_code == 403 and response.json["error"]["code"] == "provider_not_configured"


def test_mailgun_hard_bounce_suppresses_and_a_replay_is_one_event(app, client, dealer, configured):
    configured(MAILGUN_SIGNING_KEY=MAILGUN_KEY)
    body = mailgun_body(failed("permanent", "bounce", 550, "5.1.1 The email account does not exist."))
    first, again = client.post("/v1/inbound/mailgun", data=body), client.post("/v1/inbound/mailgun", data=body)
    assert first.status_code == again.status_code == 202
    assert again.json == {"ids": first.json["ids"], "duplicates": 1}
    assert statuses(app) == [EventStatus.processed]
    assert decision(dealer, "jane@example.com")["reason"] == "hard_bounce"


def test_mailgun_bad_or_stale_signatures_are_401_and_not_stored(app, client, configured):
    configured(MAILGUN_SIGNING_KEY=MAILGUN_KEY)
    stale = json.dumps(mailgun_payload(mg("complained"), timestamp=int(time.time()) - 3600)).encode()
    forged = json.dumps(mailgun_payload(mg("complained"), key="not-the-key", timestamp=int(time.time()))).encode()
    for body in (stale, forged, b"not json"):
        response = client.post("/v1/inbound/mailgun", data=body)
        assert response.status_code == 401 and response.json["error"]["code"] == "bad_signature"
    assert statuses(app) == []


def test_postmark_needs_its_token_and_its_spam_complaint_suppresses_for_the_dealer(app, client, make_dealer,
                                                                                   configured):
    configured(POSTMARK_WEBHOOK_TOKEN="s3cret")
    alpha = make_dealer("Alpha Motors")
    complaint = pm_bounce("SpamComplaint", "", RecordType="SpamComplaint", Email="Pat@Example.com",
                          Metadata={"X-Account-ID": str(alpha.account_id)})
    body = json.dumps(complaint).encode()
    assert client.post("/v1/inbound/postmark", data=body).status_code == 401
    assert client.post("/v1/inbound/postmark?token=s3cret", data=body).status_code == 202
    assert decision(alpha, "pat@example.com")["reason"] == "complained"


def test_sendgrid_batch_is_one_event_per_provider_event(app, client, make_dealer, configured):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    configured(SENDGRID_VERIFICATION_KEY=base64.b64encode(public).decode())
    alpha = make_dealer("Alpha Motors")
    batch = [sg("delivered"), sg("bounce", type="bounce", status="5.1.1", reason="550 5.1.1 no such user",
                                 **{"X-Account-ID": str(alpha.account_id)}),
             sg("unsubscribe", email="Leaver@Example.com", **{"X-Account-ID": str(alpha.account_id)})]
    body = json.dumps(batch).encode()
    response = client.post("/v1/inbound/sendgrid", data=body, headers=sendgrid_headers(key, body))
    assert response.status_code == 202 and len(response.json["ids"]) == 2  # delivered is not an event
    assert statuses(app) == [EventStatus.processed, EventStatus.processed]
    assert decision(alpha, "jane@example.com")["reason"] == "hard_bounce"
    assert decision(alpha, "leaver@example.com")["reason"] == "unsubscribed"
    tampered = body.replace(b"Leaver", b"Other")
    assert client.post("/v1/inbound/sendgrid", data=tampered, headers=sendgrid_headers(key, body)).status_code == 401


def test_ses_bounce_and_subscription_confirmation(app, client, dealer, configured, sns_key, monkeypatch):
    key, certificate = sns_key
    configured(SES_TOPIC_ARNS=TOPIC)
    no_network = ses.Ses([TOPIC], fetch_cert=lambda url: certificate)
    monkeypatch.setitem(app.extensions["providers"], "ses", no_network)
    confirmed = []
    monkeypatch.setattr(ses, "confirm_subscription", confirmed.append)
    bounce = json.dumps(signed(sns_notification(ses_bounce()), key)).encode()
    response = client.post("/v1/inbound/ses", data=bounce)
    assert response.status_code == 202, response.json
    assert decision(dealer, "jane@example.com")["reason"] == "hard_bounce"
    subscribe = signed({"Type": "SubscriptionConfirmation", "MessageId": "m-2", "TopicArn": TOPIC, "Token": "tok",
                        "Message": "You have chosen to subscribe", "Timestamp": "2023-11-14T22:13:20.000Z",
                        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok"},
                       key)
    assert client.post("/v1/inbound/ses", data=json.dumps(subscribe).encode()).status_code == 202
    assert confirmed == [subscribe["SubscribeURL"]]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 2


@pytest.fixture
def post_sendgrid(app, client, configured):
    """post_sendgrid(events) -> the response: the events as one signed SendGrid batch; every event processed."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    configured(SENDGRID_VERIFICATION_KEY=base64.b64encode(public).decode())

    def post(events: list[dict]) -> None:
        body = json.dumps(events).encode()
        response = client.post("/v1/inbound/sendgrid", data=body, headers=sendgrid_headers(key, body))
        assert response.status_code == 202, response.json
        assert statuses(app) == [EventStatus.processed] * len(set(response.json["ids"]))
        return response
    return post


@pytest.mark.parametrize("custom_list, suppressed_list, other_lists", [
    ("Spring-Offers", "spring-offers", ("service-reminders", None, "sendgrid-group-12")),
    (None, "sendgrid-group-12", ("sendgrid-group-13", "spring-offers", None)),  # named after the group
], ids=["list-custom-arg", "no-custom-arg"])
def test_sendgrid_group_unsubscribe_suppresses_for_one_list_only(make_dealer, post_sendgrid, custom_list,
                                                                 suppressed_list, other_lists):
    alpha = make_dealer("Alpha Motors")
    custom_args = {"X-Account-ID": str(alpha.account_id)} | ({"X-List-ID": custom_list} if custom_list else {})
    post_sendgrid([sg("group_unsubscribe", email="Leaver@Example.com", asm_group_id=12, **custom_args)])
    listed = decision(alpha, "leaver@example.com", suppressed_list)
    assert (listed["send"], listed["reason"], listed["scope"]) == (False, "unsubscribed", "list")
    assert sends(alpha, "leaver@example.com", *other_lists) == [True, True, True]


def test_sendgrid_unsubscribe_and_spamreport_stay_account_wide_whatever_the_list(make_dealer, post_sendgrid):
    alpha, beta = make_dealer("Alpha Motors"), make_dealer("Beta Cars")
    on_list = {"X-Account-ID": str(alpha.account_id), "X-List-ID": "spring-offers"}
    post_sendgrid([sg("unsubscribe", email="all@example.com", **on_list),
                   sg("spamreport", email="angry@example.com", sg_event_id="sg-spam-2", **on_list)])
    for address, reason in (("all@example.com", "unsubscribed"), ("angry@example.com", "complained")):
        other_list = decision(alpha, address, "service-reminders")
        assert (other_list["send"], other_list["reason"], other_list["scope"]) == (False, reason, "account")
        assert sends(alpha, address, None, "spring-offers") == [False, False]
        assert sends(beta, address, None, "spring-offers") == [True, True]


def test_a_list_custom_arg_that_is_not_a_list_name_gives_an_account_wide_opt_out(make_dealer, post_sendgrid):
    alpha = make_dealer("Alpha Motors")
    post_sendgrid([sg("group_unsubscribe", email="leaver@example.com", asm_group_id=12,
                      **{"X-Account-ID": str(alpha.account_id), "X-List-ID": "Spring offers!"})])
    assert sends(alpha, "leaver@example.com", None, "service-reminders") == [False, False]


def test_mailgun_unsubscribe_from_a_listed_message_is_for_that_list(app, client, make_dealer, configured):
    configured(MAILGUN_SIGNING_KEY=MAILGUN_KEY)
    alpha = make_dealer("Alpha Motors")
    variables = {"x-account-id": str(alpha.account_id), "x-list-id": "spring-offers"}
    unsubscribed = mg("unsubscribed", recipient="leaver@example.com", envelope={"sender": "offers@dealer.example"},
                      **{"user-variables": variables})
    assert client.post("/v1/inbound/mailgun", data=mailgun_body(unsubscribed)).status_code == 202
    assert sends(alpha, "leaver@example.com", "spring-offers", "service-reminders", None) == [False, True, True]


def test_the_list_header_setting_reaches_the_adapters(app, client, make_dealer, configured):
    configured(MAILGUN_SIGNING_KEY=MAILGUN_KEY, ACCOUNT_HEADER="X-Dealer", LIST_HEADER="X-Campaign-List")
    alpha = make_dealer("Alpha Motors")
    variables = {"x-dealer": str(alpha.account_id), "x-campaign-list": "spring-offers"}
    unsubscribed = mg("unsubscribed", recipient="leaver@example.com", **{"user-variables": variables})
    assert client.post("/v1/inbound/mailgun", data=mailgun_body(unsubscribed)).status_code == 202
    assert sends(alpha, "leaver@example.com", "spring-offers", "service-reminders", None) == [False, True, True]


# --- Each payload parsed once, stored once ----------------------------------------------------

@pytest.fixture
def parses(monkeypatch) -> Counter:
    """How many times each adapter's parse has run, at ingest and in the worker alike (our own
    pure parsers, counted; the real ones run)."""
    counts = Counter()
    for kind in (ses.Ses, sendgrid.SendGrid, mailgun.Mailgun, postmark.Postmark):
        def counting(self, body, headers, parse=kind.parse, name=kind.__name__):
            counts[name] += 1
            return parse(self, body, headers)
        monkeypatch.setattr(kind, "parse", counting)
    return counts


@pytest.fixture
def post_ses(app, client, configured, sns_key, monkeypatch):
    """post_ses(sns_message) -> the response; the SES endpoint on, its certificate given (no network)."""
    key, certificate = sns_key
    configured(SES_TOPIC_ARNS=TOPIC)
    monkeypatch.setitem(app.extensions["providers"], "ses", ses.Ses([TOPIC], fetch_cert=lambda url: certificate))

    def post(message: dict):
        return client.post("/v1/inbound/ses", data=json.dumps(signed(message, key)).encode())
    return post


def stored(app) -> tuple[list[Payload], list[Event]]:
    with app.app_context():
        return (list(db.session.scalars(select(Payload).order_by(Payload.id))),
                list(db.session.scalars(select(Event).order_by(Event.id))))


THREE = [{"emailAddress": f"{name}@example.com", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 unknown"}
         for name in ("ann", "bob", "cy")]


def test_an_ses_notification_for_three_recipients_is_one_payload_of_three_events_parsed_once(app, client, dealer,
                                                                                           post_ses, parses):
    response = post_ses(sns_notification(ses_bounce(recipients=THREE)))
    assert response.status_code == 202 and len(response.json["ids"]) == 3
    assert parses == {"Ses": 1}  # at ingest; the worker acted on what ingest found
    [payload], events = stored(app)
    assert payload.source == "ses" and json.loads(payload.raw)["Type"] == "Notification"
    assert [(e.payload_id, e.raw, e.status) for e in events] == [(payload.id, None, EventStatus.processed)] * 3
    assert [e.finding["classification"]["recipients"][0]["address"] for e in events] == [
        "ann@example.com", "bob@example.com", "cy@example.com"]
    assert [decision(dealer, f"{name}@example.com")["reason"] for name in ("ann", "bob", "cy")] == ["hard_bounce"] * 3
    shown = Api(client, make_key(app, Role.ingest)).get(f"/v1/inbound/{events[0].id}").json
    assert shown["status"] == "processed" and shown["classification"]["kind"] == "bounce" and "raw" not in shown


def test_a_redelivered_webhook_stores_nothing_new(app, post_ses):
    notification = sns_notification(ses_bounce(recipients=THREE))
    first, retried = post_ses(notification), post_ses(notification)  # SNS retries with the same MessageId
    assert retried.status_code == 202 and retried.json == {"ids": first.json["ids"], "duplicates": 3}
    again = post_ses(sns_notification(ses_bounce(recipients=THREE), message_id="another-sns-message"))
    assert again.json == {"ids": first.json["ids"], "duplicates": 3}  # the same feedbackId: the same events
    payloads, events = stored(app)
    assert len(payloads) == 1 and len(events) == 3


def test_a_sendgrid_batch_is_stored_once_and_repeated_events_in_it_are_duplicates(app, make_dealer, post_sendgrid,
                                                                                   parses):
    alpha = make_dealer("Alpha Motors")
    account = {"X-Account-ID": str(alpha.account_id)}
    bounce = sg("bounce", type="bounce", status="5.1.1", reason="550 5.1.1 no such user", **account)
    response = post_sendgrid([bounce, sg("delivered"), bounce, sg("spamreport", email="angry@example.com", **account)])
    assert response.json["duplicates"] == 1 and response.json["ids"][0] == response.json["ids"][1]
    assert parses == {"SendGrid": 1}
    [payload], events = stored(app)
    assert len(json.loads(payload.raw)) == 4 and [e.payload_id for e in events] == [payload.id] * 2
    assert [e.dedupe_key for e in events] == ["sendgrid:sg-bounce-bounce-1", "sendgrid:sg-spamreport--1"]
    assert decision(alpha, "angry@example.com")["reason"] == "complained"


def test_an_event_stored_before_payloads_were_kept_apart_is_read_from_its_raw_bytes(app, runner, dealer):
    body = mailgun_body(failed("permanent", "bounce", 550, "5.1.1 The email account does not exist."),
                        token="legacy-token")
    with app.app_context():  # as 0003 stored it: the whole payload on the event row, nothing found yet
        db.session.add(Event(source="mailgun", kind="auto", dedupe_key="mailgun:legacy-token", raw=body))
        db.session.commit()
        event_id = db.session.scalar(select(Event.id))
    assert runner.invoke(args=["inbound", "retry", str(event_id)]).exit_code == 0
    assert statuses(app) == [EventStatus.processed]
    assert decision(dealer, "jane@example.com")["reason"] == "hard_bounce"


def test_a_provider_opt_out_is_audited_with_its_event(app, client, dealer, configured):
    from suppression.models import AuditEntry
    from tests.test_providers import subscription_change
    configured(POSTMARK_WEBHOOK_TOKEN="s3cret")
    body = json.dumps(subscription_change(Metadata={"X-Account-ID": str(dealer.account_id)}))
    [event_id] = client.post("/v1/inbound/postmark?token=s3cret", data=body).json["ids"]
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.actor == "worker"))
        assert (entry.action, entry.target, entry.account_id) == ("suppression.add", "jane@example.com",
                                                                  dealer.account_id)
        assert entry.details == {"scope": "account", "list": None, "reason": "unsubscribed", "source": "postmark",
                                 "event_id": event_id}
