"""Provider webhook adapters: payloads as the providers document them, read into ProviderEvents;
verification refuses what is not authentic; parse refuses malformed payloads with Rejected only;
a bad setting stops the adapter being built.

Pure objects: no database, no app, no network (SNS certificates are generated here).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.classify import classify
from workers.findings import BOUNCE, COMPLAINT, OTHER
from workers.providers import (
    ProviderEvent,
    Rejected,
    build,
    hardness,
    mailgun,
    postmark,
    reader,
    sendgrid,
    ses,
)

NOW = 1_700_000_000.0
HEADERS: dict[str, str] = {}
# Adapters as built with no verification setting: for parsing (the header names are the defaults).
SES, SENDGRID, MAILGUN, POSTMARK = ses.Ses(), sendgrid.SendGrid(), mailgun.Mailgun(), postmark.Postmark()


def only(events: list[ProviderEvent]) -> ProviderEvent:
    assert len(events) == 1, events
    return events[0]


def rcpt(event: ProviderEvent):
    (result,) = event.classification.recipients
    return result


# --- hardness: the status code before the label; blocks and policy never hard ----------------

@pytest.mark.parametrize(("status", "permanent", "text", "expected"), [
    ("5.1.1", True, "smtp; 550 5.1.1 user unknown", (True, "user_unknown")),
    ("5.1.1", False, "", (True, "user_unknown")),  # the code, not the provider's "transient"
    (None, None, "550 5.1.2 Host unknown", (True, "host_unknown")),
    ("5.1.6", True, "", (True, "has_moved")),
    ("5.1.10", True, "RecipientNotFound", (True, "user_unknown")),  # Office 365's 5.1.10: recipient not found
    ("5.7.1", True, "550 5.7.1 Service unavailable; client host blocked using Spamhaus", (False, "blocked")),
    ("5.7.1", True, "Message rejected due to local policy", (False, "policy")),
    ("5.1.1", True, "5.1.1 rejected: listed on a blocklist", (False, "blocked")),  # never hard
    ("5.0.0", True, "550 Message detected as spam", (False, "spam_block")),
    ("5.7.26", True, "550 5.7.26 Unauthenticated email: DMARC policy", (False, "auth_failure")),
    ("5.0.0", True, "550 No such user here", (True, "user_unknown")),
    ("5.0.0", None, "550 mailbox does not exist", (True, "user_unknown")),  # the code says permanent
    ("4.0.0", True, "450 user unknown, try later", (False, "user_unknown")),  # the code says temporary
    ("5.4.4", False, "Amazon SES unable to route", (False, "network_error")),
    ("5.2.2", True, "552 5.2.2 mailbox full", (False, "mailbox_full")),
    (None, True, "", (False, "undefined")),
    (None, False, "", (False, "undefined")),
    (None, None, "", (False, "undefined")),
    ("2.0.0", None, "250 ok", (None, "delivered")),
])
def test_hardness_reads_code_then_words_then_label(status, permanent, text, expected):
    assert hardness(status, permanent, text) == expected


# --- SES over SNS -----------------------------------------------------------------------------

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"


@pytest.fixture(scope="module")
def sns_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    start = datetime.fromtimestamp(NOW, tz=UTC) - timedelta(days=30)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + timedelta(days=365)).sign(key, hashes.SHA256()))
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def canonical(message: dict) -> bytes:
    """The string SNS signs, written out from the AWS docs (not from the code under test)."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId"] + (["Subject"] if "Subject" in message else []) + \
                ["Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{name}\n{message[name]}\n" for name in names).encode()


def signed(message: dict, key, version: str = "2") -> dict:
    message = dict(message, SignatureVersion=version, SigningCertURL=message.get("SigningCertURL", CERT_URL))
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    message["Signature"] = base64.b64encode(key.sign(canonical(message), padding.PKCS1v15(), digest)).decode()
    return message


def sns_notification(inner: dict, message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", **extra) -> dict:
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC,
            "Message": json.dumps(inner), "Timestamp": "2023-11-14T22:13:20.000Z", **extra}


MAIL = {
    "timestamp": "2023-11-14T22:10:00.000Z",
    "source": "bounces+a42-x@mail.dealer.example",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/mail.dealer.example",
    "sendingAccountId": "123456789012",
    "messageId": "0100018bd1a2b3c4-5d6e7f80-0000-0000-0000-000000000000-000000",
    "destination": ["Jane@Example.com", "bob@example.org"],
    "headersTruncated": False,
    "headers": [
        {"name": "From", "value": "Best Cars <offers@Dealer.example>"},
        {"name": "To", "value": "Jane@Example.com"},
        {"name": "Message-ID", "value": "<offer-1@dealer.example>"},
        {"name": "X-Account-ID", "value": "42"},
        {"name": "DKIM-Signature", "value": "v=1; a=rsa-sha256; d=Dealer.example; s=s1; h=from; bh=x; b=y"},
    ],
    "commonHeaders": {"from": ["Best Cars <offers@Dealer.example>"], "to": ["Jane@Example.com"],
                      "messageId": "<offer-1@dealer.example>", "subject": "Spring offers"},
}


def ses_bounce(bounce_type="Permanent", subtype="General", recipients=None):
    recipients = recipients if recipients is not None else [
        {"emailAddress": "Jane@Example.com", "action": "failed", "status": "5.1.1",
         "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]
    return {"notificationType": "Bounce", "mail": MAIL,
            "bounce": {"bounceType": bounce_type, "bounceSubType": subtype, "bouncedRecipients": recipients,
                       "timestamp": "2023-11-14T22:12:00.000Z", "feedbackId": "0100018bd1-feedback-000000",
                       "remoteMtaIp": "192.0.2.1", "reportingMTA": "dsn; a8-1.smtp-out.amazonses.com"}}


def ses_parse(inner: dict, **extra) -> list[ProviderEvent]:
    return SES.parse(json.dumps(sns_notification(inner, **extra)).encode(), HEADERS)


def test_ses_permanent_bounce_with_5_1_1_is_hard_and_names_the_original():
    event = only(ses_parse(ses_bounce()))
    assert event.classification.kind == BOUNCE
    result = rcpt(event)
    assert (result.address, result.status, result.hard, result.reason) == ("jane@example.com", "5.1.1", True,
                                                                           "user_unknown")
    assert result.diagnostic == "smtp; 550 5.1.1 user unknown"
    original = event.classification.original
    assert original.message_id == "offer-1@dealer.example"
    assert original.from_domain == "dealer.example"
    assert original.account_header == "42"
    assert original.dkim_domains == ("dealer.example",)
    assert original.return_path == "bounces+a42-x@mail.dealer.example"
    assert event.occurred_at == "2023-11-14T22:12:00+00:00"
    assert not event.unsubscribe and event.subscription_url is None


@pytest.mark.parametrize(("bounce_type", "subtype", "status", "diagnostic", "hard", "reason"), [
    ("Transient", "General", "5.1.1", "smtp; 550 5.1.1 no such user", True, "user_unknown"),  # code first
    ("Transient", "General", "5.4.4", "smtp; 550 5.4.4 unable to route", False, "network_error"),
    ("Permanent", "General", "5.7.1", "smtp; 550 5.7.1 blocked by policy", False, "blocked"),
    ("Permanent", "General", None, None, False, "undefined"),
    ("Permanent", "NoEmail", "4.4.7", "smtp; 451 4.4.7 try later", False, "expired"),  # the code says temporary
    ("Permanent", "NoEmail", None, None, True, "user_unknown"),
    ("Permanent", "Suppressed", None, "Amazon SES has suppressed sending to this address", True, "suppressed"),
    ("Permanent", "OnAccountSuppressionList", None, None, True, "suppressed"),
    ("Permanent", "NoEmail", "5.7.1", "550 5.7.1 rejected by reputation filter", False, "blocked"),
    ("Transient", "MailboxFull", None, None, False, "mailbox_full"),
    ("Transient", "ContentRejected", None, None, False, "spam_block"),
    ("Undetermined", "Undetermined", None, None, False, "undefined"),
])
def test_ses_bounce_hardness(bounce_type, subtype, status, diagnostic, hard, reason):
    item = {"emailAddress": "jane@example.com", "action": "failed"}
    item.update({k: v for k, v in (("status", status), ("diagnosticCode", diagnostic)) if v})
    result = rcpt(only(ses_parse(ses_bounce(bounce_type, subtype, [item]))))
    assert (result.hard, result.reason) == (hard, reason)


def test_ses_one_event_per_recipient_with_stable_distinct_keys():
    recipients = [{"emailAddress": "A@example.com", "status": "5.1.1"}, {"emailAddress": "b@example.com",
                                                                         "status": "5.1.1"}]
    first, second = ses_parse(ses_bounce(recipients=recipients))
    assert first.dedupe_key != second.dedupe_key
    assert first.dedupe_key.startswith("ses:") and "a@example.com" in first.dedupe_key
    assert [e.dedupe_key for e in ses_parse(ses_bounce(recipients=recipients))] == [first.dedupe_key,
                                                                                     second.dedupe_key]
    # The same bounce published again (another topic, another SNS MessageId) is the same event.
    again = ses_parse(ses_bounce(recipients=recipients), message_id="another-sns-message")
    assert [e.dedupe_key for e in again] == [first.dedupe_key, second.dedupe_key]


def test_ses_event_publishing_format_is_read_too():
    inner = ses_bounce()
    inner["eventType"] = inner.pop("notificationType")
    assert rcpt(only(ses_parse(inner))).hard is True


def test_ses_complaint_and_its_feedback_type():
    inner = {"notificationType": "Complaint", "mail": MAIL,
             "complaint": {"complainedRecipients": [{"emailAddress": "Jane@Example.com"}],
                           "timestamp": "2023-11-14T22:15:00.000Z", "feedbackId": "0100018b-complaint",
                           "userAgent": "Yahoo!-Mail-Feedback/2.0", "complaintFeedbackType": "abuse",
                           "arrivalDate": "2023-11-14T22:14:00.000Z"}}
    event = only(ses_parse(inner))
    assert event.classification.kind == COMPLAINT
    assert event.classification.feedback_type == "abuse"
    assert rcpt(event).address == "jane@example.com"
    assert event.classification.original.account_header == "42"


def test_ses_original_names_its_list_from_the_mail_headers():
    inner = ses_bounce()
    inner["mail"] = dict(MAIL, headers=[*MAIL["headers"], {"name": "x-list-id", "value": " spring-offers "}])
    assert only(ses_parse(inner)).classification.original.list_name == "spring-offers"
    assert only(ses_parse(ses_bounce())).classification.original.list_name is None


def test_ses_complaint_from_the_account_suppression_list_is_not_a_new_complaint():
    inner = {"notificationType": "Complaint", "mail": MAIL,
             "complaint": {"complainedRecipients": [{"emailAddress": "jane@example.com"}],
                           "complaintSubType": "OnAccountSuppressionList", "feedbackId": "x",
                           "timestamp": "2023-11-14T22:15:00.000Z"}}
    event = only(ses_parse(inner))
    assert event.classification.kind == OTHER and rcpt(event).reason == "ses_suppression_list"


def test_ses_delivery_is_other():
    inner = {"notificationType": "Delivery", "mail": MAIL,
             "delivery": {"timestamp": "2023-11-14T22:11:00.000Z", "recipients": ["jane@example.com"],
                          "smtpResponse": "250 ok", "processingTimeMillis": 500}}
    event = only(ses_parse(inner))
    assert event.classification.kind == OTHER and event.classification.recipients == ()


def test_ses_subscription_confirmation_gives_the_url_to_get():
    message = {"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
               "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
               "TopicArn": TOPIC, "Message": "You have chosen to subscribe to the topic ...",
               "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y",
               "Timestamp": "2023-11-14T22:13:20.000Z"}
    event = only(SES.parse(json.dumps(message).encode(), HEADERS))
    assert event.subscription_url == message["SubscribeURL"]
    assert event.classification.kind == OTHER
    message["SubscribeURL"] = "https://attacker.example/?Action=ConfirmSubscription"
    with pytest.raises(Rejected):
        SES.parse(json.dumps(message).encode(), HEADERS)


def test_ses_unsubscribe_confirmation_is_other():
    message = {"Type": "UnsubscribeConfirmation", "MessageId": "m-1", "Token": "t", "TopicArn": TOPIC,
               "Message": "You have chosen to deactivate subscription", "Timestamp": "2023-11-14T22:13:20.000Z",
               "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}
    event = only(SES.parse(json.dumps(message).encode(), HEADERS))
    assert event.classification.kind == OTHER and event.subscription_url is None


def test_ses_json_by_email_gets_the_webhooks_verdict_in_one_classification():
    recipients = [{"emailAddress": "A@Example.com", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no such user"},
                  {"emailAddress": "b@example.com", "diagnosticCode": "smtp; 550 user unknown"},
                  {"emailAddress": "c@example.com", "status": "5.2.2", "diagnosticCode": "552 5.2.2 mailbox full"}]
    inner = ses_bounce("Transient", "General", recipients)
    raw = "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n\n" + json.dumps(inner)
    by_mail, by_webhook = classify(raw.encode()), ses_parse(inner)
    assert by_mail.kind == BOUNCE
    assert by_mail.recipients == tuple(rcpt(event) for event in by_webhook)
    # b: SES says Transient and no enhanced status code says otherwise: soft (as the webhook always read it).
    assert [(r.address, r.hard) for r in by_mail.recipients] == [
        ("a@example.com", True), ("b@example.com", False), ("c@example.com", False)]
    assert {event.classification.original for event in by_webhook} == {by_mail.original}
    assert by_mail.original.account_header == "42" and by_mail.original.dkim_domains == ("dealer.example",)


def test_ses_notification_that_is_not_ses_json_is_rejected_and_long_keys_fit():
    with pytest.raises(Rejected):
        SES.parse(json.dumps(dict(sns_notification({}), Message="Hello from the console")).encode(), HEADERS)
    long_address = "x" * 240 + "@example.com"
    event = only(ses_parse(ses_bounce(recipients=[{"emailAddress": long_address, "status": "5.1.1"}])))
    assert len(event.dedupe_key) <= 200 and event.dedupe_key.startswith("ses:sha256:")


class Fetcher:
    def __init__(self, pem: bytes):
        self.pem, self.urls = pem, []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.pem


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_verify_accepts_a_signed_notification(sns_key, version):
    key, pem = sns_key
    fetch = Fetcher(pem)
    body = json.dumps(signed(sns_notification(ses_bounce()), key, version)).encode()
    ses.Ses(ses.topic_arns(TOPIC), fetch_cert=fetch).verify(body, {"x-amz-sns-message-type": "Notification"}, NOW)
    assert fetch.urls == [CERT_URL]


def test_ses_verify_accepts_a_subject_and_a_subscription_confirmation(sns_key):
    key, pem = sns_key
    with_subject = signed(sns_notification(ses_bounce(), Subject="Amazon SES Email Event Notification"), key)
    ses.Ses(fetch_cert=Fetcher(pem)).verify(json.dumps(with_subject).encode(), HEADERS, NOW)
    confirmation = signed({"Type": "SubscriptionConfirmation", "MessageId": "m", "Token": "t", "TopicArn": TOPIC,
                           "Message": "confirm", "Timestamp": "2023-11-14T22:13:20.000Z",
                           "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}, key)
    ses.Ses(ses.topic_arns([TOPIC]), fetch_cert=Fetcher(pem)).verify(json.dumps(confirmation).encode(), HEADERS, NOW)


def test_ses_verify_refuses_a_tampered_message(sns_key):
    key, pem = sns_key
    message = signed(sns_notification(ses_bounce()), key)
    message["Message"] = message["Message"].replace("Jane@Example.com", "victim@example.com")
    with pytest.raises(Rejected, match="bad signature"):
        ses.Ses(fetch_cert=Fetcher(pem)).verify(json.dumps(message).encode(), HEADERS, NOW)


def test_ses_verify_refuses_a_signature_by_another_key(sns_key):
    _, pem = sns_key
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps(signed(sns_notification(ses_bounce()), other)).encode()
    with pytest.raises(Rejected, match="bad signature"):
        ses.Ses(fetch_cert=Fetcher(pem)).verify(body, HEADERS, NOW)


def test_ses_verify_refuses_a_topic_not_configured(sns_key):
    key, pem = sns_key
    body = json.dumps(signed(sns_notification(ses_bounce()), key)).encode()
    with pytest.raises(Rejected, match="topic"):
        ses.Ses(ses.topic_arns("arn:aws:sns:us-east-1:999999999999:other, arn:aws:sns:eu-west-1:123456789012:x"),
                fetch_cert=Fetcher(pem)).verify(body, HEADERS, NOW)


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/cert.pem",
    "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
    "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
    "https://s3.amazonaws.com/cert.pem",
    "https://user@sns.us-east-1.amazonaws.com/cert.pem",
    "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
    "file:///etc/passwd",
])
def test_ses_verify_never_fetches_a_certificate_off_sns(sns_key, url):
    key, pem = sns_key
    fetch = Fetcher(pem)
    body = json.dumps(signed(dict(sns_notification(ses_bounce()), SigningCertURL=url), key)).encode()
    with pytest.raises(Rejected, match="SigningCertURL"):
        ses.Ses(fetch_cert=fetch).verify(body, HEADERS, NOW)
    assert fetch.urls == []


def test_ses_verify_refuses_when_the_certificate_cannot_be_had_or_is_expired(sns_key):
    key, pem = sns_key
    body = json.dumps(signed(sns_notification(ses_bounce()), key)).encode()

    def broken(url):
        raise OSError("connection refused")
    with pytest.raises(Rejected, match="certificate unavailable"):
        ses.Ses(fetch_cert=broken).verify(body, HEADERS, NOW)
    with pytest.raises(Rejected, match="certificate unavailable"):
        ses.Ses(fetch_cert=lambda url: b"not a certificate").verify(body, HEADERS, NOW)
    with pytest.raises(Rejected, match="expired"):
        ses.Ses(fetch_cert=Fetcher(pem)).verify(body, HEADERS, NOW + 400 * 86400)


def test_ses_verify_refuses_an_unknown_signature_version_and_a_type_mismatch(sns_key):
    key, pem = sns_key
    message = signed(sns_notification(ses_bounce()), key)
    with pytest.raises(Rejected, match="SignatureVersion"):
        ses.Ses(fetch_cert=Fetcher(pem)).verify(json.dumps(dict(message, SignatureVersion="3")).encode(), HEADERS, NOW)
    with pytest.raises(Rejected, match="x-amz-sns-message-type"):
        ses.Ses(fetch_cert=Fetcher(pem)).verify(json.dumps(message).encode(),
                                                {"X-Amz-Sns-Message-Type": "SubscriptionConfirmation"}, NOW)


# --- SendGrid ---------------------------------------------------------------------------------

def sg(event: str, **fields) -> dict:
    base = {"email": "Jane@Example.com", "timestamp": 1700000000, "smtp-id": "<offer-1@dealer.example>",
            "event": event, "category": ["spring"], "sg_event_id": f"sg-{event}-{fields.get('type', '')}-1",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "X-Account-ID": "42"}
    return {**base, **fields}


SENDGRID_BATCH = [
    sg("processed"),
    sg("delivered", response="250 OK"),
    sg("open", useragent="Mozilla/5.0", ip="255.255.255.255"),
    sg("click", url="https://dealer.example/offer"),
    sg("deferred", response="400 try again later", attempt="5"),
    sg("bounce", type="bounce", status="5.1.1", reason="550 5.1.1 The email account that you tried to reach does "
                                                       "not exist.", bounce_classification="Invalid Address"),
    sg("bounce", type="blocked", status="5.0.0", reason="550 5.1.1 rejected: user unknown",
       sg_event_id="sg-blocked-type"),
    sg("bounce", type="bounce", status="5.7.1", reason="550 5.7.1 Our system has detected unsolicited mail",
       bounce_classification="Reputation", sg_event_id="sg-reputation"),
    sg("dropped", reason="Bounced Address", status="5.0.0", sg_event_id="sg-dropped-bounced"),
    sg("dropped", reason="Invalid", sg_event_id="sg-dropped-invalid", email="not an email address"),
    sg("dropped", reason="Unsubscribed Address", sg_event_id="sg-dropped-unsub"),
    sg("dropped", reason="Spam Reporting Address", sg_event_id="sg-dropped-spam"),
    sg("spamreport"),
    sg("unsubscribe"),
    sg("group_unsubscribe", asm_group_id=10),
    sg("group_resubscribe", asm_group_id=10),
]


def sendgrid_events() -> dict[str, ProviderEvent]:
    events = SENDGRID.parse(json.dumps(SENDGRID_BATCH).encode(), HEADERS)
    return {e.dedupe_key.removeprefix("sendgrid:"): e for e in events}


def test_sendgrid_reads_bounces_complaints_and_opt_outs_and_leaves_out_the_rest():
    events = sendgrid_events()
    assert sorted(events) == sorted(["sg-bounce-bounce-1", "sg-blocked-type", "sg-reputation", "sg-dropped-bounced",
                                     "sg-dropped-invalid", "sg-dropped-unsub", "sg-dropped-spam", "sg-spamreport--1",
                                     "sg-unsubscribe--1", "sg-group_unsubscribe--1"])
    hard = events["sg-bounce-bounce-1"]
    assert hard.classification.kind == BOUNCE
    assert (rcpt(hard).address, rcpt(hard).hard, rcpt(hard).reason, rcpt(hard).status) == (
        "jane@example.com", True, "user_unknown", "5.1.1")
    assert hard.classification.original.account_header == "42"
    assert hard.classification.original.message_id == "offer-1@dealer.example"
    assert hard.occurred_at == "2023-11-14T22:13:20+00:00"


@pytest.mark.parametrize(("key", "kind", "hard", "reason"), [
    ("sg-blocked-type", BOUNCE, False, "blocked"),  # SendGrid "blocked": soft, whatever the text says
    ("sg-reputation", BOUNCE, False, "blocked"),
    ("sg-dropped-bounced", BOUNCE, True, "suppressed"),
    ("sg-dropped-invalid", BOUNCE, True, "invalid_address"),
    ("sg-dropped-unsub", OTHER, None, "dropped"),
    ("sg-dropped-spam", OTHER, None, "dropped"),
])
def test_sendgrid_bounce_and_drop_kinds(key, kind, hard, reason):
    event = sendgrid_events()[key]
    assert (event.classification.kind, rcpt(event).hard, rcpt(event).reason) == (kind, hard, reason)
    assert not event.unsubscribe


def test_sendgrid_spamreport_is_a_complaint_and_unsubscribes_are_opt_outs():
    events = sendgrid_events()
    complaint = events["sg-spamreport--1"]
    assert complaint.classification.kind == COMPLAINT and complaint.classification.feedback_type == "abuse"
    for key in ("sg-unsubscribe--1", "sg-group_unsubscribe--1"):
        assert events[key].unsubscribe and events[key].classification.kind == OTHER
    assert "asm_group_id=10" in events["sg-group_unsubscribe--1"].classification.detail


def test_sendgrid_group_unsubscribe_is_from_the_list_custom_arg_or_the_group():
    named = only(SENDGRID.parse(json.dumps([sg("group_unsubscribe", asm_group_id=10,
                                                **{"X-List-ID": "spring-offers"})]).encode(), HEADERS))
    assert named.unsubscribe and named.unsubscribe_list == "spring-offers"
    assert named.classification.original.list_name == "spring-offers"
    unnamed = only(SENDGRID.parse(json.dumps([sg("group_unsubscribe", asm_group_id=10)]).encode(), HEADERS))
    assert unnamed.unsubscribe_list == "sendgrid-group-10"
    by_topic = sendgrid.SendGrid(list_header="topic")
    other_arg = only(by_topic.parse(json.dumps([sg("group_unsubscribe", asm_group_id=10, Topic="service")]).encode(),
                                    HEADERS))
    assert other_arg.unsubscribe_list == "service"


def test_sendgrid_unsubscribe_and_spamreport_are_for_the_whole_account_whatever_the_list():
    batch = [sg(name, **{"X-List-ID": "spring-offers"}) for name in ("unsubscribe", "spamreport")]
    unsubscribe, complaint = SENDGRID.parse(json.dumps(batch).encode(), HEADERS)
    assert unsubscribe.unsubscribe and unsubscribe.unsubscribe_list is None
    assert not complaint.unsubscribe and complaint.unsubscribe_list is None
    assert complaint.classification.original.list_name == "spring-offers"  # kept as evidence


def test_sendgrid_event_without_an_id_gets_a_stable_key_of_its_own():
    first, second = sg("spamreport", sg_event_id=None), sg("spamreport", sg_event_id=None, email="bob@example.org")
    keys = [e.dedupe_key for e in SENDGRID.parse(json.dumps([first, second]).encode(), HEADERS)]
    assert keys[0] != keys[1]
    assert keys == [e.dedupe_key for e in SENDGRID.parse(json.dumps([first, second]).encode(), HEADERS)]


SENDGRID_SDK_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQG"
                    "hHPTnlvFYPAZFceEu/1FwCM/QmGUhA==")  # SendGrid's SDK tests' public key (sendgrid-nodejs)


@pytest.fixture(scope="module")
def sendgrid_key():
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, {"SENDGRID_VERIFICATION_KEY": base64.b64encode(der).decode()}


def sendgrid_headers(key, body: bytes, timestamp: str = "1700000000") -> dict[str, str]:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {sendgrid.SIGNATURE_HEADER: base64.b64encode(signature).decode(), sendgrid.TIMESTAMP_HEADER: timestamp}


def test_sendgrid_verify_accepts_a_signed_batch(sendgrid_key):
    key, configured = sendgrid_key
    body = json.dumps(SENDGRID_BATCH).encode()
    lower = {k.lower(): v for k, v in sendgrid_headers(key, body).items()}
    sendgrid.SendGrid.from_settings(configured).verify(body, lower, NOW)


def test_sendgrid_verify_refuses_tampered_unsigned_and_other_keys(sendgrid_key):
    key, configured = sendgrid_key
    adapter = sendgrid.SendGrid.from_settings(configured)
    body = json.dumps(SENDGRID_BATCH).encode()
    headers = sendgrid_headers(key, body)
    with pytest.raises(Rejected, match="bad signature"):
        adapter.verify(body.replace(b"Jane", b"Joan"), headers, NOW)
    with pytest.raises(Rejected, match="bad signature"):
        adapter.verify(body, dict(headers, **{sendgrid.TIMESTAMP_HEADER: "1700000001"}), NOW)
    with pytest.raises(Rejected, match="missing"):
        adapter.verify(body, {}, NOW)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Rejected, match="bad signature"):
        adapter.verify(body, sendgrid_headers(other, body), NOW)
    with pytest.raises(ValueError, match="SENDGRID_VERIFICATION_KEY is not a public key"):
        sendgrid.SendGrid.from_settings({"SENDGRID_VERIFICATION_KEY": "bm90IGEga2V5"})


def test_sendgrid_verify_accepts_sendgrids_own_published_example():
    # The key, signature and payload of SendGrid's SDK tests (sendgrid-nodejs eventwebhook).
    adapter = sendgrid.SendGrid(SENDGRID_SDK_KEY)
    headers = {sendgrid.SIGNATURE_HEADER: "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQs"
                                          "bVRamr2nlxFDWYNH2j/0=", sendgrid.TIMESTAMP_HEADER: "1588788367"}
    body = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'
    adapter.verify(body, headers, NOW)
    with pytest.raises(Rejected):
        adapter.verify(body + b"\r\n", headers, NOW)


def test_sendgrid_verify_accepts_anything_when_no_key_is_configured():
    sendgrid.SendGrid().verify(b"[]", {}, NOW)
    sendgrid.SendGrid.from_settings({"SENDGRID_VERIFICATION_KEY": ""}).verify(b"[]", {}, NOW)


# --- Mailgun ----------------------------------------------------------------------------------

MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def mailgun_payload(event_data: dict, token: str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
                    timestamp: int = int(NOW), key: str = MAILGUN_KEY) -> dict:
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": str(timestamp), "token": token, "signature": signature},
            "event-data": event_data}


def mg(event: str, **fields) -> dict:
    data = {"event": event, "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": 1700000000.375624,
            "log-level": "error", "recipient": "Jane@Example.com", "recipient-domain": "example.com",
            "envelope": {"sender": "bounces+a42-x@mg.dealer.example", "transport": "smtp",
                         "targets": "jane@example.com"},
            "message": {"headers": {"to": "Jane <jane@example.com>", "message-id": "offer-1@dealer.example",
                                    "from": "Best Cars <offers@dealer.example>", "subject": "Spring offers"},
                        "attachments": [], "size": 111},
            "user-variables": {"x-account-id": "42"}, "tags": [], "campaigns": []}
    return {**data, **fields}


def failed(severity: str, reason: str, code: int, message: str, description: str = "") -> dict:
    return mg("failed", severity=severity, reason=reason,
              **{"delivery-status": {"attempt-no": 1, "code": code, "message": message, "description": description,
                                     "session-seconds": 0.1, "mx-host": "mx.example.com"}})


def mailgun_parse(event_data: dict, **kwargs) -> ProviderEvent:
    return only(MAILGUN.parse(json.dumps(mailgun_payload(event_data, **kwargs)).encode(), HEADERS))


def test_mailgun_permanent_failure_for_an_unknown_user_is_hard():
    event = mailgun_parse(failed("permanent", "bounce", 550, "5.1.1 The email account that you tried to reach "
                                                             "does not exist."))
    result = rcpt(event)
    assert event.classification.kind == BOUNCE
    assert (result.address, result.status, result.hard, result.reason) == ("jane@example.com", "5.1.1", True,
                                                                           "user_unknown")
    original = event.classification.original
    assert (original.message_id, original.from_domain, original.account_header, original.return_path) == (
        "offer-1@dealer.example", "dealer.example", "42", "bounces+a42-x@mg.dealer.example")
    assert event.dedupe_key == "mailgun:a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    assert event.occurred_at.startswith("2023-11-14T22:13:20.3756")


@pytest.mark.parametrize(("data", "kind", "hard", "reason"), [
    (failed("permanent", "bounce", 550, "5.7.1 Message rejected as spam"), BOUNCE, False, "spam_block"),
    (failed("permanent", "espblock", 550, "Mailbox unavailable"), BOUNCE, False, "blocked"),
    (failed("permanent", "suppress-bounce", 605, "", "Not delivering to previously bounced address"), BOUNCE,
     True, "suppressed"),
    # RFC 5321's generic 550 text with no stage said reads as the RCPT TO answer: the mailbox does not exist.
    (failed("permanent", "generic", 550, "Requested action not taken: mailbox unavailable"), BOUNCE, True,
     "user_unknown"),
    (failed("permanent", "old", 421, "", "Too old"), BOUNCE, False, "expired"),
    (failed("permanent", "suppress-unsubscribe", 606, "", "Not delivering to unsubscribed address"), OTHER, None,
     "provider_unsubscribed"),
    (failed("temporary", "generic", 452, "4.2.2 The email account that you tried to reach is over quota."), OTHER,
     None, "mailbox_full"),  # Mailgun retries: not a bounce (yet)
])
def test_mailgun_failure_kinds(data, kind, hard, reason):
    event = mailgun_parse(data)
    assert (event.classification.kind, rcpt(event).hard, rcpt(event).reason) == (kind, hard, reason)


def test_mailgun_complaint_unsubscribe_and_others():
    complaint = mailgun_parse(mg("complained"))
    assert complaint.classification.kind == COMPLAINT and rcpt(complaint).address == "jane@example.com"
    unsubscribed = mailgun_parse(mg("unsubscribed"))
    assert unsubscribed.unsubscribe and unsubscribed.classification.kind == OTHER
    delivered = mailgun_parse(mg("delivered"))
    assert delivered.classification.kind == OTHER and not delivered.unsubscribe
    assert delivered.dedupe_key.startswith("mailgun:")


def test_mailgun_unsubscribe_is_from_the_list_in_the_user_variables():
    variables = {"user-variables": {"x-account-id": "42", "x-list-id": "spring-offers"}}
    assert mailgun_parse(mg("unsubscribed", **variables)).unsubscribe_list == "spring-offers"
    assert mailgun_parse(mg("unsubscribed")).unsubscribe_list is None
    complaint = mailgun_parse(mg("complained", **variables), token="another-token")
    assert complaint.unsubscribe_list is None and complaint.classification.original.list_name == "spring-offers"


def test_mailgun_verify_accepts_a_fresh_signed_payload():
    body = json.dumps(mailgun_payload(mg("complained"), timestamp=int(NOW) - 299)).encode()
    mailgun.Mailgun.from_settings({"MAILGUN_SIGNING_KEY": MAILGUN_KEY}).verify(body, HEADERS, NOW)


def test_mailgun_verify_refuses_bad_signature_stale_or_future_timestamp_and_no_key():
    configured = mailgun.Mailgun(MAILGUN_KEY)
    with pytest.raises(Rejected, match="bad signature"):
        configured.verify(json.dumps(mailgun_payload(mg("complained"), key="another-key")).encode(), HEADERS, NOW)
    tampered = mailgun_payload(mg("complained"))
    tampered["signature"]["token"] += "0"
    with pytest.raises(Rejected, match="bad signature"):
        configured.verify(json.dumps(tampered).encode(), HEADERS, NOW)
    for timestamp in (int(NOW) - 301, int(NOW) + 301):
        with pytest.raises(Rejected, match="timestamp"):
            configured.verify(json.dumps(mailgun_payload(mg("complained"), timestamp=timestamp)).encode(), HEADERS,
                              NOW)
    stale = json.dumps(mailgun_payload(mg("complained"), timestamp=int(NOW) - 3000)).encode()
    mailgun.Mailgun.from_settings({"MAILGUN_SIGNING_KEY": MAILGUN_KEY, "MAILGUN_MAX_AGE": 3600}).verify(
        stale, HEADERS, NOW)
    with pytest.raises(Rejected, match="not configured"):
        mailgun.Mailgun().verify(stale, HEADERS, NOW)


def test_mailgun_a_replayed_token_is_the_same_event_whatever_it_carries():
    # The signature covers timestamp + token only: a captured signature can carry another event.
    original = mailgun_parse(failed("temporary", "generic", 452, "4.2.2 over quota"))
    replay = mailgun_parse(mg("complained", recipient="victim@example.com"))
    assert replay.dedupe_key == original.dedupe_key
    assert mailgun_parse(mg("complained"), token="another-token").dedupe_key != original.dedupe_key


# --- Postmark ---------------------------------------------------------------------------------

def pm_bounce(type_: str, details: str = "Test bounce details", **fields) -> dict:
    return {"RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807, "Type": type_,
            "TypeCode": 1, "Name": type_, "Tag": "spring", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Metadata": {"X-Account-ID": "42"}, "ServerID": 23,
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": details, "Email": "Jane@Example.com", "From": "offers@dealer.example",
            "BouncedAt": "2023-11-14T22:13:20.9070259Z", "DumpAvailable": True, "Inactive": True,
            "CanActivate": True, "Subject": "Spring offers", **fields}


def postmark_parse(payload: dict) -> ProviderEvent:
    return only(POSTMARK.parse(json.dumps(payload).encode(), HEADERS))


def test_postmark_hard_bounce_reads_details_not_the_generic_description():
    event = postmark_parse(pm_bounce("HardBounce", "smtp;550 5.1.1 The email account that you tried to reach "
                                                   "does not exist."))
    result = rcpt(event)
    assert (result.address, result.status, result.hard, result.reason) == ("jane@example.com", "5.1.1", True,
                                                                           "user_unknown")
    assert event.dedupe_key == "postmark:4323372036854775807"
    assert event.occurred_at == "2023-11-14T22:13:20.907025+00:00"
    original = event.classification.original
    assert (original.message_id, original.from_domain, original.account_header) == (
        "883953f4-6105-42a2-a16a-77a8eac79483", "dealer.example", "42")


@pytest.mark.parametrize(("payload", "kind", "hard", "reason", "unsubscribe"), [
    (pm_bounce("HardBounce", "smtp;550 5.7.1 Service unavailable, client host blocked"), BOUNCE, False, "blocked",
     False),
    (pm_bounce("HardBounce"), BOUNCE, True, "user_unknown", False),  # the Type itself says the mailbox is gone
    (pm_bounce("SoftBounce", "smtp;452 4.2.2 mailbox full"), BOUNCE, False, "mailbox_full", False),
    (pm_bounce("Transient"), BOUNCE, False, "undefined", False),
    (pm_bounce("DnsError"), BOUNCE, False, "network_error", False),
    (pm_bounce("Blocked", "smtp;550 5.1.1 user unknown"), BOUNCE, False, "blocked", False),
    (pm_bounce("SpamNotification"), BOUNCE, False, "spam_block", False),
    (pm_bounce("BadEmailAddress"), BOUNCE, True, "invalid_address", False),
    (pm_bounce("Unsubscribe"), OTHER, None, "unsubscribe", True),
    (pm_bounce("AutoResponder", "I am on vacation"), OTHER, None, None, False),
])
def test_postmark_bounce_types(payload, kind, hard, reason, unsubscribe):
    event = postmark_parse(payload)
    assert (event.classification.kind, rcpt(event).hard, rcpt(event).reason, event.unsubscribe) == (
        kind, hard, reason, unsubscribe)


def test_postmark_spam_complaint():
    payload = pm_bounce("SpamComplaint", RecordType="SpamComplaint", TypeCode=512, ID=42)
    event = postmark_parse(payload)
    assert event.classification.kind == COMPLAINT and event.classification.feedback_type == "abuse"
    assert event.dedupe_key == "postmark:42" and rcpt(event).address == "jane@example.com"


def subscription_change(**fields) -> dict:
    return {"RecordType": "SubscriptionChange", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ServerID": 123456, "MessageStream": "outbound", "ChangedAt": "2023-11-14T22:13:20Z",
            "Recipient": "Jane@Example.com", "Origin": "Recipient", "SuppressSending": True,
            "SuppressionReason": "ManualSuppression", "Tag": "spring", "Metadata": {"x-account-id": "42"},
            **fields}


def test_postmark_opt_outs_are_from_the_list_in_the_metadata_or_the_bounce_content():
    listed = subscription_change(Metadata={"x-account-id": "42", "X-List-ID": "spring-offers"})
    assert postmark_parse(listed).unsubscribe_list == "spring-offers"
    assert postmark_parse(subscription_change()).unsubscribe_list is None
    content = pm_bounce("Unsubscribe", Metadata={}, Content="X-Account-ID: 42\r\nX-List-ID: service\r\n\r\nbody")
    assert postmark_parse(content).unsubscribe_list == "service"
    complaint = pm_bounce("SpamComplaint", RecordType="SpamComplaint", Metadata={"X-List-ID": "spring-offers"})
    assert postmark_parse(complaint).unsubscribe_list is None


def test_postmark_subscription_change_by_the_recipient_is_an_opt_out():
    event = postmark_parse(subscription_change())
    assert event.unsubscribe and event.classification.kind == OTHER
    assert rcpt(event).address == "jane@example.com"
    assert event.classification.original.account_header == "42"
    assert event.occurred_at == "2023-11-14T22:13:20+00:00"


@pytest.mark.parametrize("fields", [{"Origin": "Customer", "MessageID": None}, {"SuppressSending": False},
                                    {"SuppressionReason": "HardBounce"}])
def test_postmark_other_subscription_changes_are_not_opt_outs(fields):
    event = postmark_parse(subscription_change(**fields))
    assert not event.unsubscribe and event.classification.kind == OTHER


def test_postmark_account_header_from_bounce_content_when_no_metadata():
    payload = pm_bounce("HardBounce", Metadata={}, Content="Return-Path: <>\r\nX-Account-ID: 77\r\n\r\nbody")
    assert postmark_parse(payload).classification.original.account_header == "77"


def test_postmark_keys_are_stable_and_distinct():
    one, two = pm_bounce("HardBounce", ID=1), pm_bounce("HardBounce", ID=2, Email="bob@example.org")
    assert postmark_parse(one).dedupe_key != postmark_parse(two).dedupe_key
    assert postmark_parse(subscription_change()).dedupe_key == postmark_parse(subscription_change()).dedupe_key
    assert postmark_parse(subscription_change()).dedupe_key != postmark_parse(
        subscription_change(Recipient="bob@example.org")).dedupe_key


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_postmark_verify_with_a_token_needs_it_in_basic_auth_or_the_token_header():
    configured = postmark.Postmark.from_settings({"POSTMARK_WEBHOOK_TOKEN": "s3cret-token"})
    body = json.dumps(pm_bounce("HardBounce")).encode()
    configured.verify(body, basic("postmark", "s3cret-token"), NOW)
    configured.verify(body, basic("s3cret-token", ""), NOW)
    configured.verify(body, {"x-webhook-token": "s3cret-token"}, NOW)
    for headers in ({}, basic("postmark", "wrong"), {"X-Webhook-Token": "s3cret"}, {"Authorization": "Basic !!"},
                    {"Authorization": "Bearer s3cret-token"}):
        with pytest.raises(Rejected, match="token"):
            configured.verify(body, headers, NOW)


def test_postmark_verify_without_a_token_accepts():
    postmark.Postmark().verify(b"{}", {}, NOW)


# --- Malformed payloads: Rejected, never another exception ------------------------------------

PARSERS = {"ses": SES, "sendgrid": SENDGRID, "mailgun": MAILGUN, "postmark": POSTMARK}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)


def check_parse(adapter, body: bytes) -> None:
    """parse gives Rejected or events, and each event's finding, through JSON, is the event again."""
    try:
        events = adapter.parse(body, HEADERS)
    except Rejected:
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, ProviderEvent) and len(event.dedupe_key) <= 200
        # What ingest stores for the worker (events.finding) gives the same event back.
        assert ProviderEvent.from_finding(event.dedupe_key, json.loads(json.dumps(event.finding()))) == event


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=200)
@given(body=st.binary(max_size=200))
def test_parse_of_random_bytes_is_rejected_or_a_list(name, body):
    check_parse(PARSERS[name], body)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=200)
@given(value=json_values)
def test_parse_of_random_json_is_rejected_or_a_list(name, value):
    check_parse(PARSERS[name], json.dumps(value).encode())


def paths(value, prefix=()):
    """Every path to a value inside `value` (dict keys and list indexes)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from paths(child, (*prefix, key))


def mutated(sample, path, replacement):
    value = copy.deepcopy(sample)
    if not path:
        return replacement
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    return value


SAMPLES = {
    "sendgrid": [SENDGRID_BATCH],
    "mailgun": [mailgun_payload(failed("permanent", "bounce", 550, "5.1.1 no such user")),
                mailgun_payload(mg("complained"))],
    "postmark": [pm_bounce("HardBounce"), subscription_change()],
}
SES_INNER = [ses_bounce(), {"notificationType": "Complaint", "mail": MAIL,
                            "complaint": {"complainedRecipients": [{"emailAddress": "a@example.com"}],
                                          "complaintFeedbackType": "abuse"}}]


@st.composite
def mutations(draw, samples):
    sample = draw(st.sampled_from(samples))
    path = draw(st.sampled_from(list(paths(sample))))
    return mutated(sample, path, draw(json_values))


@pytest.mark.parametrize("name", sorted(SAMPLES))
@settings(max_examples=300)
@given(data=st.data())
def test_parse_of_realistic_payloads_with_one_value_replaced_is_rejected_or_a_list(name, data):
    check_parse(PARSERS[name], json.dumps(data.draw(mutations(SAMPLES[name]))).encode())


@settings(max_examples=300)
@given(inner=mutations(SES_INNER), envelope_change=mutations([sns_notification({})]))
def test_ses_parse_of_notifications_with_one_value_replaced_is_rejected_or_a_list(inner, envelope_change):
    check_parse(SES, json.dumps(sns_notification(inner)).encode())
    check_parse(SES, json.dumps(envelope_change).encode())


def test_what_ingest_stores_for_an_event_gives_the_worker_the_same_event():
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": "m", "Token": "t", "TopicArn": TOPIC,
                    "Message": "confirm", "Timestamp": "2023-11-14T22:13:20.000Z",
                    "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}
    samples = [*SENDGRID.parse(json.dumps(SENDGRID_BATCH).encode(), HEADERS), *ses_parse(ses_bounce()),
               *SES.parse(json.dumps(confirmation).encode(), HEADERS),
               postmark_parse(subscription_change(Metadata={"X-List-ID": "spring-offers"}))]
    assert {e.unsubscribe_list for e in samples} >= {"sendgrid-group-10", "spring-offers"}
    assert any(e.subscription_url for e in samples) and any(e.classification.original.dkim_domains for e in samples)
    for event in samples:
        assert ProviderEvent.from_finding(event.dedupe_key, json.loads(json.dumps(event.finding()))) == event


VERIFIERS = {"ses": ses.Ses(fetch_cert=lambda url: b"junk"), "sendgrid": sendgrid.SendGrid(SENDGRID_SDK_KEY),
             "mailgun": mailgun.Mailgun(MAILGUN_KEY), "postmark": postmark.Postmark("t")}


@pytest.mark.parametrize("name", sorted(VERIFIERS))
@settings(max_examples=100)
@given(value=json_values, raw=st.binary(max_size=100))
def test_verify_of_junk_is_rejected_or_accepted_never_an_error(name, value, raw):
    junk_headers = {sendgrid.SIGNATURE_HEADER: "MEUCIQ==", sendgrid.TIMESTAMP_HEADER: "1", "Authorization": "Basic x"}
    for body in (json.dumps(value).encode(), raw):
        try:
            VERIFIERS[name].verify(body, junk_headers, NOW)
        except Rejected:
            pass


# --- Built once, from the settings ------------------------------------------------------------

def test_build_makes_an_adapter_for_each_webhook_switched_on_with_the_header_settings():
    assert build({"SES_TOPIC_ARNS": "", "SENDGRID_VERIFICATION_KEY": " ", "MAILGUN_SIGNING_KEY": None}) == {}
    built = build({"SES_TOPIC_ARNS": TOPIC, "SENDGRID_VERIFICATION_KEY": SENDGRID_SDK_KEY,
                   "MAILGUN_SIGNING_KEY": "k", "MAILGUN_MAX_AGE": "60", "POSTMARK_WEBHOOK_TOKEN": "t",
                   "ACCOUNT_HEADER": "X-Dealer", "LIST_HEADER": "X-Campaign-List"})
    assert [type(a) for a in built.values()] == [ses.Ses, sendgrid.SendGrid, mailgun.Mailgun, postmark.Postmark]
    assert built["ses"].topics == {TOPIC} and built["mailgun"].max_age == 60
    event = only(built["sendgrid"].parse(json.dumps([sg("unsubscribe", **{"X-Dealer": "7"})]).encode(), HEADERS))
    assert event.classification.original.account_header == "7"
    assert reader("postmark", {"LIST_HEADER": "X-Campaign-List"}).list_header == "X-Campaign-List"
    with pytest.raises(ValueError):
        reader("smtp", {})


@pytest.mark.parametrize(("settings", "named"), [
    ({"SENDGRID_VERIFICATION_KEY": "bm90IGEga2V5"}, "SENDGRID_VERIFICATION_KEY"),  # base64, not a key
    ({"SENDGRID_VERIFICATION_KEY": "not base64!"}, "SENDGRID_VERIFICATION_KEY"),
    ({"SENDGRID_VERIFICATION_KEY": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
     "SENDGRID_VERIFICATION_KEY"),
    ({"MAILGUN_SIGNING_KEY": "k", "MAILGUN_MAX_AGE": "five minutes"}, "MAILGUN_MAX_AGE"),
    ({"MAILGUN_SIGNING_KEY": "k", "MAILGUN_MAX_AGE": -1}, "MAILGUN_MAX_AGE"),
    ({"MAILGUN_SIGNING_KEY": "k", "MAILGUN_MAX_AGE": "nan"}, "MAILGUN_MAX_AGE"),
    ({"SES_TOPIC_ARNS": "ses-feedback"}, "SES_TOPIC_ARNS"),  # a topic's name, not its ARN
    ({"SES_TOPIC_ARNS": [TOPIC, "arn:aws:sqs:us-east-1:123456789012:queue"]}, "SES_TOPIC_ARNS"),
])
def test_build_refuses_a_bad_setting_naming_it(settings, named):
    with pytest.raises(ValueError, match=named):
        build(settings)


def test_a_sendgrid_key_that_is_not_p256_is_refused_when_the_adapter_is_built():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = rsa_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for configured in (base64.b64encode(der).decode(), pem):
        with pytest.raises(ValueError, match="SENDGRID_VERIFICATION_KEY is not a P-256"):
            sendgrid.SendGrid(configured)
