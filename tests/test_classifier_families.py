"""Whole messages, one per family of layout the classifier must read without having seen the MTA:
notices nested in other mail, JSON notices, codes outside the DSN fields, recipients' host and
domain failures, refusals of the sender, list managers, retry-exhausted notices, non-ASCII
addresses, complaint notifications, and mail that is not a bounce at all.

Each message is written here from the layout the MTA or provider documents, with example
addresses; each asserts what a user of the service sees: the kind, the failed recipients, and
whether the address is dead (hard).
"""
from __future__ import annotations

import json

import pytest

from workers.classify import classify
from workers.findings import BOUNCE, COMPLAINT, OTHER

DSN = """From: MAILER-DAEMON@mx.sender.example
To: bounces@sender.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="inner"

--inner
Content-Type: text/plain

This is the mail system at host mx.sender.example.
I'm sorry to have to inform you that your message could not be delivered.

--inner
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.sender.example

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--inner
Content-Type: text/rfc822-headers

From: Dealer <news@dealer.example>
To: {rcpt}
Subject: Offers
Message-ID: <m1@dealer.example>

--inner--
"""


def dsn(rcpt="kim@recipient.example", status="5.1.1", diagnostic="550 5.1.1 user unknown") -> str:
    return DSN.format(rcpt=rcpt, status=status, diagnostic=diagnostic)


def notice(body: str, subject="Undelivered Mail Returned to Sender", sender="MAILER-DAEMON@mx.sender.example",
           extra="") -> bytes:
    return (f"From: {sender}\nTo: bounces@sender.example\nSubject: {subject}\n{extra}"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}").encode()


def verdict(raw: bytes | str):
    result = classify(raw.encode() if isinstance(raw, str) else raw)
    return result.kind, {r.address: r.hard for r in result.recipients}


# --- notices inside other mail -------------------------------------------------------------------------

def test_a_bounce_forwarded_as_an_attachment_is_read_from_inside():
    raw = ("From: Pat Admin <pat@sender.example>\nTo: bounces@sender.example\nSubject: Fwd: a bounce\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\n"
           "See the attached message.\n\n--outer\nContent-Type: message/rfc822\n\n" + dsn() + "\n--outer--\n")
    assert verdict(raw) == (BOUNCE, {"kim@recipient.example": True})


def test_a_dsn_inside_a_providers_notification_is_read():
    raw = ("From: Notifications <notify@provider.example>\nTo: bounces@sender.example\nSubject: Message status\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\n"
           "A message you sent has a delivery report.\n\n--outer\nContent-Type: message/rfc822\n"
           "Content-Transfer-Encoding: base64\n\n"
           + __import__("base64").encodebytes(dsn().encode()).decode() + "\n--outer--\n")
    assert verdict(raw) == (BOUNCE, {"kim@recipient.example": True})


def test_dsn_fields_pasted_into_a_forwarded_text_are_read():
    body = ("---------- Forwarded message ----------\n\n> Final-Recipient: rfc822; kim@recipient.example\n"
            "> Action: failed\n> Status: 5.1.1\n> Diagnostic-Code: smtp; 550 5.1.1 no such user\n")
    raw = notice(body, subject="Fwd: returned mail", sender="Pat <pat@sender.example>")
    assert verdict(raw) == (BOUNCE, {"kim@recipient.example": True})


# --- JSON notices sent by mail ---------------------------------------------------------------------------

def test_a_providers_json_events_sent_by_mail_are_read_by_their_words():
    events = [
        {"email": "kim@recipient.example", "event": "bounce", "reason": "550 5.1.1 The email account does not exist"},
        {"email": "lee@recipient.example", "event": "bounce", "type": "blocked",
         "reason": "554 5.7.1 Service unavailable; client host blocked using Spamhaus"},
        {"email": "max@recipient.example", "event": "delivered", "response": "250 ok"},
    ]
    raw = notice(json.dumps(events), subject="Event notification", sender="events@esp.example")
    assert verdict(raw) == (BOUNCE, {"kim@recipient.example": True, "lee@recipient.example": False})


def test_an_ses_notification_relayed_through_another_sender_is_still_read():
    event = {"notificationType": "Bounce", "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-30T10:00:00.000Z",
        "feedbackId": "f1", "bouncedRecipients": [
            {"emailAddress": "kim@recipient.example", "status": "5.1.1", "action": "failed",
             "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
        "mail": {"messageId": "m1", "source": "news@dealer.example", "timestamp": "2026-11-30T09:59:00.000Z",
                 "destination": ["kim@recipient.example"]}}
    raw = notice(json.dumps(event), subject="Bounce", sender="relay@lists.sender.example")
    assert verdict(raw) == (BOUNCE, {"kim@recipient.example": True})


def test_a_json_complaint_by_mail_is_a_complaint():
    raw = notice(json.dumps({"recipient": "kim@recipient.example", "event": "complained"}),
                 subject="Spam report", sender="events@esp.example")
    assert verdict(raw) == (COMPLAINT, {"kim@recipient.example": None})


# --- codes and the recipient's host or domain ----------------------------------------------------------

def test_a_code_only_in_the_diagnostic_decides_over_a_vague_status():
    assert verdict(dsn(status="5.0.0", diagnostic="550 5.1.1 <kim@recipient.example>: Recipient address rejected"))[1] \
        == {"kim@recipient.example": True}


@pytest.mark.parametrize("diagnostic", [
    "Host or domain name not found. Name service error for name=recipient.example type=A: Host not found",
    "553 5.1.2 Illegal host/domain name found",
    "Unrouteable address",
    "556 5.1.10 Recipient address has null MX",
    "550 5.1.3 Bad destination mailbox address syntax",
])
def test_a_dead_domain_or_host_of_the_recipient_is_hard(diagnostic):
    assert verdict(dsn(status="5.0.0", diagnostic=diagnostic)) == (BOUNCE, {"kim@recipient.example": True})


def test_a_dead_domain_said_only_in_the_notice_text_is_hard():
    body = ("Hi. This is the qmail-send program at mx.sender.example.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            "<kim@recipient.example>:\nSorry, I couldn't find any host named recipient.example. (#5.1.2)\n\n"
            "--- Below this line is a copy of the message.\n\nFrom: news@dealer.example\n")
    assert verdict(notice(body, subject="failure notice")) == (BOUNCE, {"kim@recipient.example": True})


# --- the stage and whose fault it is -------------------------------------------------------------------

def test_a_refusal_of_the_sender_at_mail_from_is_not_the_recipients_fault():
    body = ("This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its recipients.\n\n"
            "  kim@recipient.example\n    SMTP error from remote mail server after MAIL FROM:<news@dealer.example>:\n"
            "    553 5.1.8 <news@dealer.example>: Sender address rejected: Domain not found\n")
    assert verdict(notice(body, subject="Mail delivery failed: returning message to sender")) \
        == (BOUNCE, {"kim@recipient.example": False})


def test_mailbox_unavailable_in_reply_to_rcpt_to_is_hard_and_after_data_is_not():
    rcpt = "host mx.recipient.example said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO command)"
    data = rcpt.replace("RCPT TO", "end of DATA")
    assert verdict(dsn(status="5.0.0", diagnostic=rcpt))[1] == {"kim@recipient.example": True}
    assert verdict(dsn(status="5.0.0", diagnostic=data))[1] == {"kim@recipient.example": False}


def test_a_short_rejection_in_another_language_is_read():
    body = ("Votre message n'a pas pu être remis aux destinataires suivants :\n\n"
            "kim@recipient.example\n    550 Utilisateur inconnu\n")
    assert verdict(notice(body, subject="Non remis : Offers")) == (BOUNCE, {"kim@recipient.example": True})


# --- kind: layouts that are bounces, and mail that is not ------------------------------------------------

def test_a_list_managers_rejection_is_a_soft_bounce():
    body = ("Your message to the list announce@lists.recipient.example was rejected.\n"
            "You are not a member of this list; only members may post.\n")
    kind, recipients = verdict(notice(body, subject="Your message was rejected", sender="announce-owner@lists.recipient.example"))
    assert kind == BOUNCE and not any(recipients.values())


def test_a_retry_exhausted_notice_is_a_soft_bounce():
    body = ("This is the mail system at host mx.sender.example.\n\n"
            "Your message could not be delivered for 5 days. It will be returned to the sender.\n\n"
            "<kim@recipient.example>: connect to mx.recipient.example[192.0.2.7]:25: Connection timed out\n")
    assert verdict(notice(body, subject="Returned mail: delivery time expired")) \
        == (BOUNCE, {"kim@recipient.example": False})


def test_a_recipient_with_a_non_ascii_local_part_is_found():
    body = ("This is the mail system at host mx.sender.example.\n\n"
            "<josé.müller@recipient.example>: host mx.recipient.example said: 550 5.1.1 user unknown "
            "(in reply to RCPT TO command)\n")
    assert verdict(notice(body)) == (BOUNCE, {"josé.müller@recipient.example": True})


def test_a_providers_complaint_notification_is_a_complaint():
    raw = ("From: Postmaster <fbl@mail.provider.example>\nTo: abuse@sender.example\nSubject: Complaint notification\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
           "A user of our service marked the attached message as spam.\n\n--b\nContent-Type: message/rfc822\n\n"
           "From: news@dealer.example\nTo: kim@recipient.example\nSubject: Offers\nMessage-ID: <m1@dealer.example>\n\n"
           "Hello\n--b--\n")
    assert verdict(raw) == (COMPLAINT, {"kim@recipient.example": None})


def test_a_bounce_that_says_spam_is_a_bounce_not_a_complaint():
    raw = dsn(diagnostic="554 5.7.1 Message rejected as spam by the content filter", status="5.7.1")
    assert verdict(raw) == (BOUNCE, {"kim@recipient.example": False})


@pytest.mark.parametrize("raw", [
    notice("Hello postmaster, please add our new server to your allow list. Thanks, Pat",
           subject="Question about your mail server", sender="Pat <pat@partner.example>"),
    notice("Your message to kim@recipient.example was delivered.\n", subject="Delivered: Offers",
           sender="postmaster@recipient.example", extra="Auto-Submitted: auto-replied\n"),
])
def test_mail_that_is_not_a_bounce_stays_other(raw):
    assert verdict(raw)[0] == OTHER
