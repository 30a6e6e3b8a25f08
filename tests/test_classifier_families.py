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
           extra="", ctype="text/plain; charset=utf-8") -> bytes:
    return (f"From: {sender}\nTo: bounces@sender.example\nSubject: {subject}\n{extra}"
            f"MIME-Version: 1.0\nContent-Type: {ctype}\n\n{body}").encode()


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


# --- notices of many MTAs and providers, written from their documented layouts ----------------------

# name: (the message, whether the recipient's address is dead)
NOTICES = {
    "fwd inline postfix": (notice("---------- Forwarded message ---------\nFrom: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\nDate: Mon, 30 Nov 2026\nSubject: Undelivered Mail Returned to Sender\nTo: <news@dealer.example>\n\nThis is the mail system at host mx.sender.example.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n<kim@recipient.example>: host mx.recipient.example[192.0.2.1] said: 550 5.1.1\n    <kim@recipient.example>: Recipient address rejected: User unknown (in reply to\n    RCPT TO command)\n", subject="Fwd: Undelivered Mail Returned to Sender", sender="Pat <pat@sender.example>"), True),
    "o365": (notice("Your message to kim@recipient.example couldn't be delivered.\n\nkim wasn't found at recipient.example.\n\nnews   Office 365   kim\nAction Required                 Recipient\n\nUnknown To address\n\nHow to Fix It\nThe address may be misspelled or may not exist.\n\nDiagnostic information for administrators:\nGenerating server: BN3PR00MB0001.namprd00.prod.outlook.com\n\nkim@recipient.example\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n", subject="Undeliverable: Offers", sender="postmaster@outlook.com"), True),
    "gmail": (notice("** Address not found **\n\nYour message wasn't delivered to kim@recipient.example because the address couldn't be found, or is unable to receive mail.\n\nThe response from the remote server was:\n550 5.1.1 The email account that you tried to reach does not exist.\n", subject="Delivery Status Notification (Failure)", sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>"), True),
    "yahoo": (notice("Sorry, we were unable to deliver your message to the following address.\n\n<kim@recipient.example>:\nRemote host said: 554 delivery error: dd This user doesn't have a yahoo.com account (kim@recipient.example) [0] - mta1.mail.example [RCPT_TO]\n", subject="Failure Notice", sender="MAILER-DAEMON@yahoo.com"), True),
    "sendmail v8 text": (notice("The original message was received at Mon, 30 Nov 2026\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\n<kim@recipient.example>\n    (reason: 550 5.1.1 <kim@recipient.example>... User unknown)\n\n   ----- Transcript of session follows -----\n... while talking to mx.recipient.example.:\n>>> RCPT To:<kim@recipient.example>\n<<< 550 5.1.1 <kim@recipient.example>... User unknown\n550 5.1.1 <kim@recipient.example>... User unknown\n", subject="Returned mail: see transcript for details"), True),
    "exim": (notice("This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  kim@recipient.example\n    SMTP error from remote mail server after RCPT TO:<kim@recipient.example>:\n    550 Unrouteable address\n", subject="Mail delivery failed: returning message to sender", sender="Mail Delivery System <Mailer-Daemon@mx.sender.example>"), True),
    "exim retry": (notice("This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  kim@recipient.example\n    retry timeout exceeded\n", subject="Mail delivery failed: returning message to sender", sender="Mail Delivery System <Mailer-Daemon@mx.sender.example>"), False),
    "courier": (notice("This is a delivery status notification from mx.sender.example,\nrunning the Courier mail server.\n\nThe original message was received on Mon, 30 Nov 2026\nfrom localhost [127.0.0.1]\n\n---------------------------------------------------------------------------\n\n                           UNDELIVERABLE MAIL\n\nYour message to the following recipients cannot be delivered:\n\n<kim@recipient.example>:\n    mx.recipient.example [192.0.2.1]:\n>>> RCPT TO:<kim@recipient.example>\n<<< 550 5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown\n", subject="NOTICE: mail delivery status.", sender="Courier mail server at mx.sender.example <@>"), True),
    "domino": (notice("Your message\n\n  Subject: Offers\n\nwas not delivered to:\n\n  kim@recipient.example\n\nbecause:\n\n  User kim (kim@recipient.example) not listed in Domino Directory\n", subject="DELIVERY FAILURE: User kim (kim@recipient.example) not listed in Domino Directory", sender="Postmaster@recipient.example"), True),
    "mdaemon": (notice("The attached message had PERMANENT fatal delivery errors!\n\nAfter one or more unsuccessful delivery attempts the attached message has\nbeen removed from the mail queue on this server.\n\n--- Session Transcript ---\n Attempting SMTP connection to [192.0.2.1 : 25]\n Waiting for socket connection...\n Socket connection established\n >>> MAIL From:<news@dealer.example>\n <<< 250 2.1.0 Ok\n >>> RCPT To:<kim@recipient.example>\n <<< 550 5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown in local recipient table\n--- End Transcript ---\n", subject="Permanent Delivery Failure", sender="MDaemon@mx.sender.example"), True),
    "mailman reject": (notice("Your message to the list announce@lists.recipient.example has been rejected because you are not a member.\n", subject="Message rejected", sender="announce-bounces@lists.recipient.example"), False),
    "german postfix": (notice("Dies ist das Mailsystem auf mx.sender.example.\n\nIhre Nachricht konnte leider nicht zugestellt werden.\n\n<kim@recipient.example>: host mx.recipient.example said: 550 5.1.1 Empfänger unbekannt (in reply to RCPT TO command)\n", subject="Unzustellbar: Angebote", sender="MAILER-DAEMON@mx.sender.example"), True),
    "short rcpt": (notice("<kim@recipient.example>: host mx.recipient.example[192.0.2.1] said: 550 Invalid address (in reply to RCPT TO command)\n"), True),
    "short rcpt2": (notice("<kim@recipient.example>: host mx.recipient.example[192.0.2.1] said: 550 No such recipient (in reply to RCPT TO command)\n"), True),
    "short rcpt3": (notice("<kim@recipient.example>: host mx.recipient.example[192.0.2.1] said: 550 5.1.1 (in reply to RCPT TO command)\n"), True),
    "no mx": (notice("<kim@recipient.example>: Domain recipient.example has no MX or A records\n"), True),
    "helo": (notice("<kim@recipient.example>: host mx.recipient.example said: 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname (in reply to RCPT TO command)\n"), False),
    "mailfrom": (notice("<kim@recipient.example>: host mx.recipient.example said: 550 5.1.0 <news@dealer.example> sender rejected (in reply to MAIL FROM command)\n"), False),
    "japanese": (notice("次の宛先へのメール送信に失敗しました。\n\nkim@recipient.example\n  宛先のメールアドレスは存在しません。\n", subject="メール送信エラー", sender="postmaster@recipient.example", ctype="text/plain; charset=utf-8"), True),
    "spanish": (notice("No se ha podido entregar el mensaje a los siguientes destinatarios:\n\nkim@recipient.example\n  El buzón no existe\n", subject="No entregado: Ofertas", sender="postmaster@recipient.example"), True),
    "italian": (notice("Il messaggio non è stato consegnato ai seguenti destinatari:\n\nkim@recipient.example\n  Utente sconosciuto\n", subject="Non recapitabile: Offerte", sender="postmaster@recipient.example"), True),
    "portuguese": (notice("Não foi possível entregar a mensagem para:\n\nkim@recipient.example\n  Usuário desconhecido\n", subject="Não entregue: Ofertas", sender="postmaster@recipient.example"), True),
    "russian": (notice("Сообщение не может быть доставлено следующим получателям:\n\nkim@recipient.example\n  Пользователь не найден\n", subject="Не доставлено: Предложения", sender="postmaster@recipient.example"), True),
    "chinese": (notice("您发送的邮件未能送达以下收件人:\n\nkim@recipient.example\n  收件人不存在\n", subject="退信: 优惠", sender="postmaster@recipient.example"), True),
    "exch2003": (notice("Your message did not reach some or all of the intended recipients.\n\n      Subject:\tOffers\n      Sent:\t11/30/2026 9:00 AM\n\nThe following recipient(s) cannot be reached:\n\n      kim@recipient.example on 11/30/2026 9:01 AM\n            The e-mail account does not exist at the organization this message was sent to.\n            <mx.recipient.example #5.1.1 smtp;550 5.1.1 User unknown>\n", subject="Undeliverable: Offers", sender="System Administrator <postmaster@recipient.example>"), True),
    "exch2007": (notice("Delivery has failed to these recipients or groups:\n\nkim@recipient.example\nThe e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to resend the message.\n\nDiagnostic information for administrators:\n\nGenerating server: mx.recipient.example\n\nkim@recipient.example\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n", subject="Undeliverable: Offers", sender="postmaster@recipient.example"), True),
    "novell": (notice("The message that you sent was undeliverable to the following:\n\tkim@recipient.example (user not found)\n\nPossible reasons:\n", subject="Mail failure", sender="postmaster@recipient.example"), True),
    "imail": (notice("Unknown user: kim@recipient.example\n\nOriginal message follows.\n", subject="Undeliverable Mail", sender="postmaster@recipient.example"), True),
    "x400": (notice("Your message\n\n  To:      kim@recipient.example\n  Subject: Offers\n\nwas not delivered to:\n\n  kim@recipient.example\n\nbecause:\n\n  Unknown recipient\n", subject="Non-delivery report", sender="X400-Gateway@recipient.example"), True),
    "old gmail": (notice("Delivery to the following recipient failed permanently:\n\n     kim@recipient.example\n\nTechnical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the recipient domain. We recommend contacting the other email provider for further information about the cause of this error. The error that the other server returned was: 550 550 5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown in virtual alias table (state 14).\n", subject="Delivery Status Notification (Failure)", sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>"), True),
    "old exchange queue": (notice("Your message was not delivered because the destination computer was not reachable within the allowed queue period. The amount of time a message is queued before it is returned depends on local configuration parameters.\n\nThe following recipients did not receive this message:\n\n<kim@recipient.example>\n", subject="Undeliverable: Offers", sender="System Administrator <postmaster@sender.example>"), False),
    "vsmtp": (notice("The following message to <kim@recipient.example> was undeliverable.\nThe reason for the problem:\n5.1.0 - Unknown address error 550-'<kim@recipient.example>... No such user'\n", subject="Undeliverable mail", sender="postmaster@sender.example"), True),
    "outlook didnt reach": (notice("Your message did not reach some or all of the intended recipients.\n\nDid not reach the following recipient(s):\n\nkim@recipient.example on Mon, 30 Nov 2026\n    The recipient name is not recognized\n", subject="Undeliverable: Offers", sender="postmaster@recipient.example"), True),
    "mail.ru": (notice("Message was not accepted -- invalid mailbox.  Local mailbox kim@recipient.example is unavailable: user not found\n", subject="Mail failure.", sender="mailer-daemon@corp.mail.example"), True),
    "ezmlm": (notice("Hi. This is the qmail-send program at lists.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<kim@recipient.example>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown\nGiving up on 192.0.2.1.\n", subject="failure notice"), True),
    "qmail dns": (notice("Hi. This is the qmail-send program at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<kim@recipient.example>:\nSorry, I couldn't find any host by that name. (#4.1.2)\n", subject="failure notice"), False),
    "smtp mailbox unavailable plain": (notice("Delivery to the following recipients failed.\n\n       kim@recipient.example\n\nReason: 550 Requested action not taken: mailbox unavailable\n", subject="Undeliverable: Offers", sender="postmaster@sender.example"), True),
    "kerio": (notice("Your message could not be delivered to the following recipient(s):\n\nkim@recipient.example - 550 5.1.1 User unknown\n", subject="Undeliverable: Offers", sender="postmaster@sender.example"), True),
    "html only": (notice("<html><body><p>Delivery has failed to these recipients or groups:</p><p><a href='mailto:kim@recipient.example'>kim@recipient.example</a><br>The email address you entered couldn't be found.</p></body></html>", subject="Undeliverable: Offers", sender="postmaster@recipient.example", ctype="text/html"), True),
    "symantec": (notice("Your message could not be delivered to the following recipients.\n\nkim@recipient.example: 554 5.4.7 The message has been rejected because delivery time expired\n", subject="Undeliverable message", sender="MAILER-DAEMON@messagelabs.example"), False),
    "greylist delay final": (notice("This is the mail system at host mx.sender.example.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n<kim@recipient.example>: host mx.recipient.example said: 450 4.7.1 Greylisted, please try again later (in reply to RCPT TO command)\n"), False),
    "james": (notice("Hi. This is the James mail server at mx.sender.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.  Below\nI include the list of recipients and the reason why I was unable to deliver\nyour message.\n\nFailed recipient(s):\nkim@recipient.example\n\nError message:\n550 5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown\n", subject="[BOUNCE]"), True),
    "interscan": (notice("Sent <<< RCPT TO:<kim@recipient.example>\nReceived >>> 550 5.1.1 <kim@recipient.example>... User unknown\n\nUnable to deliver message to <kim@recipient.example>.\n", subject="Mail could not be delivered", sender="InterScan MSS <postmaster@mx.sender.example>"), True),
    "mailmarshal": (notice("Your message:\n\n   From:    news@dealer.example\n   Subject: Offers\n\nCould not be delivered because of\n\n550 5.1.1 User unknown\n\nThe following recipients were affected:\n\n    kim@recipient.example\n", subject="Undeliverable Mail: \"Offers\"", sender="postmaster@mx.sender.example"), True),
    "barracuda": (notice("Your message to: kim@recipient.example\nwas not delivered because:\n550 5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown\n", subject="Message Delivery Failure", sender="Barracuda <postmaster@mx.sender.example>"), True),
    "mcafee": (notice("--- The following addresses had delivery problems ---\n\n<kim@recipient.example>   (User unknown)\n", subject="Delivery Status", sender="postmaster@mx.sender.example"), True),
    "biglobe": (notice("   ----- The following addresses had delivery problems -----\n********************\nkim@biglobe.example\n  (User unknown)\n********************\n", subject="Returned mail: Delivery failed", sender="postmaster@biglobe.example"), True),
    "kddi": (notice("Your mail sent on: Mon, 30 Nov 2026 09:00:00 +0900\nCould not be delivered to the following address:\n\n<kim@ezweb.example>\n\nThe recipient's address was unknown.\n", subject="Mail System Error - Returned Mail", sender="Postmaster@ezweb.example"), True),
    "messagelabs": (notice("Delivery failed for the following recipient(s):\nkim@recipient.example\n550 #5.1.0 Address rejected.\n", subject="Delivery Status Notification (Failure)", sender="Mail Delivery System <MAILER-DAEMON@messagelabs.example>"), True),
    "x5": (notice("Unable to deliver message to the following address(es).\n\n<kim@recipient.example>:\n192.0.2.1 failed after I sent the message.\nRemote host said: 554 delivery error: dd This user doesn't have an account here\n", subject="failure delivery", sender="MAILER-DAEMON@mx.sender.example"), True),
    "opensmtpd": (notice("Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\nAn error has occurred while attempting to deliver a message for\nthe following list of recipients:\n\nkim@recipient.example: 550 Invalid recipient\n", subject="Delivery status notification: error"), True),
    "activehunter": (notice("  ----- The following addresses had permanent fatal errors -----\n\n<kim@recipient.example>\n\n  ----- Transcript of session follows -----\n550 sorry, no mailbox here by that name (#5.1.1 - chkusr)\n", subject="FAILURE NOTICE :", sender="MAILER-DAEMON@mx.sender.example"), True),
    "gmx": (notice("This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\nits recipients. This is a permanent error. The following address\nfailed:\n\n\"kim@recipient.example\":\nSMTP error from remote server after RCPT command:\nhost: mx.recipient.example\n5.1.1 <kim@recipient.example>: Recipient address rejected: User unknown in virtual alias table\n", subject="Mail delivery failed: returning message to sender", sender="\"Mail Delivery System\" <mailer-daemon@gmx.example>"), True),
    "postfix host not found delay": (notice("This is the mail system at host mx.sender.example.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n\nYour message could not be delivered for more than 3 hour(s).\nIt will be retried until it is 5 day(s) old.\n\n<kim@recipient.example>: Host or domain name not found. Name service error for name=recipient.example type=MX: Host not found, try again\n", subject="Delayed Mail (still being retried)"), False),
    "sender blocked spamhaus": (notice("<kim@recipient.example>: host mx.recipient.example said: 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org (in reply to RCPT TO command)\n"), False),
    "sender domain rcpt": (notice("<kim@recipient.example>: host mx.recipient.example said: 553 5.1.8 <news@dealer.example>: Sender address rejected: Domain not found (in reply to RCPT TO command)\n"), False),
    "helo at rcpt": (notice("<kim@recipient.example>: host mx.recipient.example said: 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname (in reply to RCPT TO command)\n"), False),
}


@pytest.mark.parametrize("name", NOTICES)
def test_a_notice_of_each_mta_names_its_recipient_and_whether_it_is_dead(name):
    raw, hard = NOTICES[name]
    kind, recipients = verdict(raw)
    assert kind == BOUNCE
    assert len(recipients) == 1 and next(iter(recipients.values())) is hard


def test_a_challenge_response_request_is_not_a_bounce():
    body = ("Hello, I received your message about \"Offers\". To be delivered to my Inbox, please add yourself "
            "to my Guest List by clicking the link below.\n")
    raw = notice(body, subject="Re: Offers (Action Required)", sender="noreply@challenge.example")
    assert verdict(raw)[0] == OTHER


def test_a_forwarded_address_carries_the_address_the_sender_mailed():
    body = ("This is the mail system at host mx.sender.example.\n\n"
            "<kim@forward.example> (expanded from <kim@recipient.example>): host mx.forward.example said: "
            "550 5.1.1 user unknown (in reply to RCPT TO command)\n")
    (result,) = classify(notice(body)).recipients
    assert (result.address, result.original, result.mailed, result.hard) == (
        "kim@forward.example", "kim@recipient.example", "kim@recipient.example", True)
    raw = dsn(rcpt="kim@forward.example").replace("Final-Recipient:", "Original-Recipient: rfc822; kim@recipient.example\nFinal-Recipient:")
    (result,) = classify(raw.encode()).recipients
    assert (result.address, result.original) == ("kim@forward.example", "kim@recipient.example")


@pytest.mark.parametrize(("subject", "body"), [
    ("Spam quarantine digest", "3 messages were held for you:\n  news@dealer.example  Offers\n"),
    ("Your mailbox is almost full", "Dear kim@recipient.example, your mailbox is over 90% of its quota.\n"),
])
def test_a_mail_systems_notice_that_is_not_a_bounce_stays_other(subject, body):
    assert verdict(notice(body, subject=subject, sender="postmaster@recipient.example"))[0] == OTHER


@pytest.mark.parametrize("subject", ["Unzustellbar: Angebote", "Non remis : Offres", "No entregado: Ofertas",
                                     "Nondeliverable mail", "退信"])
def test_a_bounce_subject_in_other_languages_makes_a_bounce_of_a_notice(subject):
    body = "kim@recipient.example\n    550 5.1.1 unknown\n"
    assert verdict(notice(body, subject=subject, sender="Pat <system@recipient.example>")) == (
        BOUNCE, {"kim@recipient.example": True})


def test_an_arf_reports_fields_in_a_text_part_are_read_as_the_report():
    raw = ("From: fbl@isp.example\nTo: abuse@sender.example\nSubject: FW: complaint\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
           "Feedback-Type: abuse\nUser-Agent: ISP-FBL/2.0\nVersion: 1\nOriginal-Rcpt-To: <kim@recipient.example>\n\n"
           "--b\nContent-Type: message/rfc822\n\nFrom: news@dealer.example\nTo: kim@recipient.example\n"
           "Subject: Offers\n\nHello\n--b--\n")
    assert verdict(raw) == (COMPLAINT, {"kim@recipient.example": None})
