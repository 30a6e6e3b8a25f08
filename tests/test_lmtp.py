"""The LMTP listener (workers/lmtp.py) on a free loopback port, with Python's LMTP client as the
MTA: each message is stored and committed before its 250s, one reply per recipient; too large is
552, a database that cannot be reached is 451 for every recipient, and nothing is lost."""
from __future__ import annotations

import smtplib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import unquote

import pytest
from aiosmtpd.lmtp import LMTP
from sqlalchemy import select, text

from suppression import create_app
from suppression.db import db
from suppression.models import Event, EventStatus, Reason, Suppression
from tests.conftest import UNSUBSCRIBE_KEY, work
from tests.test_inbound import arf, decision, dsn
from workers.lmtp import Listener, Server, deliver

BOUNCES = "bounces@bounce.example"


@pytest.fixture
def listen():
    """Start a listener for an app on a free loopback port: `listen(app)` -> (host, port)."""
    started: list[Listener] = []

    def start(app) -> tuple[str, int]:
        listener = Listener(app, "127.0.0.1", 0)
        started.append(listener)
        return listener.start()
    yield start
    for listener in started:
        listener.stop()


def send(address: tuple[str, int], raw: bytes, recipients: list[str]) -> list[tuple[int, bytes]]:
    """One LMTP transaction: the reply for each recipient after DATA, in order."""
    with smtplib.LMTP(*address, timeout=30) as lmtp:
        lmtp.ehlo_or_helo_if_needed()
        assert lmtp.mail("MAILER-DAEMON@mta.example")[0] == 250
        for recipient in recipients:
            assert lmtp.rcpt(recipient)[0] == 250
        # smtplib reads one reply to DATA; LMTP sends one per recipient, the others follow.
        replies = [lmtp.data(raw)]
        replies += [lmtp.getreply() for _ in recipients[1:]]
        return replies


def events(app) -> list[tuple[str, EventStatus]]:
    with app.app_context():
        return db.session.execute(select(Event.kind, Event.status).order_by(Event.id)).all()


def suppressed(app) -> list[tuple[str, Reason]]:
    with app.app_context():
        return db.session.execute(select(Suppression.address, Suppression.reason).order_by(Suppression.id)).all()


def test_a_dsn_over_lmtp_is_stored_processed_and_suppresses(app, listen, make_dealer):
    alpha = make_dealer("Alpha Motors", ("alpha-motors.example",))
    to = f"bounces+a{alpha.account_id}-7@bounce.example"
    replies = send(listen(app), dsn("Gone@Example.com", to=to), [to])
    assert [code for code, _ in replies] == [250]
    assert events(app) == [("auto", EventStatus.processed)]
    assert suppressed(app) == [("gone@example.com", Reason.hard_bounce)]
    assert decision(alpha, "gone@example.com")["reason"] == "hard_bounce"


def test_a_verp_bounce_is_attributed_by_its_envelope_recipient_when_its_to_header_is_not_it(app, listen,
                                                                                          make_dealer):
    beta = make_dealer("Beta Cars")  # no sending domains: only the VERP address names the account
    verp = f"bounces+a{beta.account_id}-9@bounce.example"
    raw = dsn("lost@example.com", to="postmaster@bounce.example")  # the To of a bounce need not be its return path
    assert [code for code, _ in send(listen(app), raw, [verp])] == [250]
    with app.app_context():
        event = db.session.execute(select(Event)).scalar_one()
        assert (event.account_id, event.status) == (beta.account_id, EventStatus.processed)
        # Recorded as Postfix's local(8) would, in front of the bytes the MTA sent.
        assert event.raw == f"X-Original-To: {verp}\r\n".encode() + raw
    assert decision(beta, "lost@example.com")["reason"] == "hard_bounce"


def test_an_arf_complaint_over_lmtp_suppresses_for_the_dealer(app, listen, make_dealer):
    alpha = make_dealer("Alpha Motors")
    raw = arf("angry@example.com", original_headers=f"X-Account-ID: {alpha.account_id}")
    assert [code for code, _ in send(listen(app), raw, ["fbl@platform.example"])] == [250]
    assert decision(alpha, "angry@example.com")["reason"] == "complained"


def test_mail_to_the_mailto_address_is_an_opt_out_by_its_envelope_recipient(app, listen, dealer):
    link = dealer.post("/v1/unsubscribe-links", json={"recipients": [{"address": "reply@example.com"}]}).json
    address, subject = link["results"][0]["mailto"].removeprefix("mailto:").split("?subject=")
    # The headers do not name the mailto address (a mail client that Bcc'd it): only the envelope does.
    raw = (f"From: reply@example.com\r\nTo: list-owner@dealer.example\r\nSubject: {unquote(subject)}\r\n"
           "\r\nunsubscribe\r\n").encode()
    assert [code for code, _ in send(listen(app), raw, [address.upper()])] == [250]
    assert events(app) == [("unsubscribe", EventStatus.processed)]
    assert decision(dealer, "reply@example.com")["reason"] == "unsubscribed"


def test_two_recipients_get_two_replies_and_the_message_is_one_event(app, listen, dealer):
    address = listen(app)
    raw = dsn("twice@example.com")
    replies = send(address, raw, [BOUNCES, "bounces+x@bounce.example"])
    assert [code for code, _ in replies] == [250, 250]
    assert [code for code, _ in send(address, raw, [BOUNCES])] == [250]  # the MTA delivered it again
    assert events(app) == [("auto", EventStatus.processed)]


def test_a_malformed_message_is_stored_and_marked_not_refused(app, listen):
    replies = send(listen(app), b"\x00\xff not a message at all\r\n", [BOUNCES, "other@bounce.example"])
    assert [code for code, _ in replies] == [250, 250]
    assert events(app) == [("auto", EventStatus.failed)]


def test_a_message_over_max_inbound_bytes_gets_552_for_each_recipient(app, listen, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_INBOUND_BYTES", 2_000)
    address = listen(app)
    big = dsn("big@example.com").replace(b"I'm sorry", b"x" * 900 + b"\r\n" + b"y" * 900 + b"\r\nI'm sorry")
    assert [code for code, _ in send(address, big, [BOUNCES, "other@bounce.example"])] == [552, 552]
    assert [code for code, _ in send(address, dsn("small@example.com"), [BOUNCES])] == [250]  # the same connection's next
    assert events(app) == [("auto", EventStatus.processed)]


def test_with_the_database_unreachable_every_recipient_gets_451_and_nothing_is_lost(app, listen):
    down = create_app({"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x", "SECRET_KEY": "s" * 64,
                       "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY, "PUBLIC_BASE_URL": "https://unsubscribe.example.net"})
    raw = dsn("kept@example.com")
    replies = send(listen(down), raw, [BOUNCES, "other@bounce.example"])
    assert [code for code, _ in replies] == [451, 451]
    assert events(app) == []
    # The MTA kept it and delivers it again, once the database is back.
    assert [code for code, _ in send(listen(app), raw, [BOUNCES, "other@bounce.example"])] == [250, 250]
    assert events(app) == [("auto", EventStatus.processed)]
    assert suppressed(app) == [("kept@example.com", Reason.hard_bounce)]


def test_with_redis_unreachable_the_message_is_stored_answered_250_and_swept_later(app, listen, database_url,
                                                                                  redis_url):
    """Redis down is no reason to make the MTA retry: the message is committed (pending), and the
    sweep queues it once Redis is back."""
    settings = {"DATABASE_URL": database_url, "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY}
    down = create_app(settings | {"REDIS_URL": "redis://127.0.0.1:1/0"})
    replies = send(listen(down), dsn("queued-later@example.com"), [BOUNCES])
    assert [code for code, _ in replies] == [250]
    assert events(app) == [("auto", EventStatus.pending)]
    up = create_app(settings | {"REDIS_URL": redis_url})
    assert up.test_cli_runner().invoke(args=["inbound", "sweep", "--older-than", "0"]).exit_code == 0
    work(up)
    assert events(app) == [("auto", EventStatus.processed)]
    assert suppressed(app) == [("queued-later@example.com", Reason.hard_bounce)]


def test_messages_from_many_connections_at_once_are_each_stored_once(app, listen):
    address = listen(app)
    raws = [dsn(f"many{n}@example.com") for n in range(12)]

    def client(share: list[bytes]) -> list[int]:
        return [code for raw in share for code, _ in send(address, raw, [BOUNCES])]
    # Twelve messages from six connections, each sent twice: what arrives together is one batch.
    with ThreadPoolExecutor(6) as pool:
        codes = [code for share in pool.map(client, [raws[n::6] * 2 for n in range(6)]) for code in share]
    assert codes == [250] * 24
    assert events(app) == [("auto", EventStatus.processed)] * 12
    assert sorted(address for address, _ in suppressed(app)) == sorted(f"many{n}@example.com" for n in range(12))


@contextmanager
def refusing(app, marker: bytes):
    """The database refuses to store a message whose bytes hold `marker` (a trigger), as it might
    refuse one message of a batch for a reason of its own."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(
                "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF position(:marker::bytea in NEW.raw) > 0 THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$".replace(":marker", "'" + marker.decode() + "'")))
            db.session.execute(text("CREATE TRIGGER refuse_marked BEFORE INSERT ON events "
                                    "FOR EACH ROW EXECUTE FUNCTION refuse_marked()"))
            dropped = ["DROP TRIGGER refuse_marked ON events", "DROP FUNCTION refuse_marked"]
        else:
            db.session.execute(text(
                f"CREATE TRIGGER refuse_marked BEFORE INSERT ON events WHEN instr(NEW.raw, X'{marker.hex()}') > 0 "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
            dropped = ["DROP TRIGGER refuse_marked"]
        db.session.commit()
    try:
        yield
    finally:
        with app.app_context():
            for statement in dropped:
                db.session.execute(text(statement))
            db.session.commit()


def test_in_a_batch_each_message_gets_its_own_reply_and_the_good_ones_are_stored(app):
    with refusing(app, b"poisoned"):
        replies = deliver(app, [
            (dsn("first@example.com"), [BOUNCES]),
            (b"\r\n", [BOUNCES]),  # empty: nothing to store
            (dsn("bad@example.com").replace(b"I'm sorry", b"poisoned"), [BOUNCES]),  # the database refuses it
            (dsn("second@example.com"), [BOUNCES, "other@bounce.example"]),
            (dsn("first@example.com"), [BOUNCES]),  # the MTA's copy, in the same batch
        ])
    assert [reply[:3] for reply in replies] == ["250", "554", "451", "250", "250"]
    assert events(app) == [("auto", EventStatus.processed)] * 2
    assert sorted(address for address, _ in suppressed(app)) == ["first@example.com", "second@example.com"]


@pytest.mark.parametrize("path", [
    "<bounces+a1-7@bounce.example>", " <MAILER-DAEMON@mta.example> SIZE=1000 BODY=8BITMIME", "<Gone@Example.COM> ",
    "<a@b.example> (a comment) SIZE=1", "<a@b.example>(c)", '<"odd name"@bounce.example>', "<unsubscribe@[127.0.0.1]>",
    "<>", "<a..b@bounce.example>", "<a@b..example>", "<a@b.example> \t SIZE=1", "<a@b.example>\r\n",
])
def test_the_listener_reads_a_mail_or_rcpt_path_as_aiosmtpd_does(path):
    ours, theirs = Server.__new__(Server), LMTP.__new__(LMTP)
    ours.local_part_limit = theirs.local_part_limit = 0
    assert ours._getaddr(path) == theirs._getaddr(path)


def test_a_client_not_in_lmtp_allow_is_refused_before_the_greeting(app, listen, monkeypatch):
    monkeypatch.setitem(app.config, "LMTP_ALLOW", "192.0.2.1, ::1")
    lmtp = smtplib.LMTP(timeout=30)
    code, _ = lmtp.connect(*listen(app))
    assert code == 554
    with pytest.raises(smtplib.SMTPServerDisconnected):
        lmtp.ehlo("mta.example")
    monkeypatch.setitem(app.config, "LMTP_ALLOW", "192.0.2.1, 127.0.0.1")
    assert [code for code, _ in send(listen(app), dsn("allowed@example.com"), [BOUNCES])] == [250]


def test_the_flask_command_is_registered(app):
    result = app.test_cli_runner().invoke(args=["lmtp", "--help"])
    assert result.exit_code == 0 and "LMTP_BIND" in result.output


def test_a_bad_lmtp_bind_stops_the_command_with_a_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "LMTP_BIND", "8024")
    result = app.test_cli_runner().invoke(args=["lmtp"])
    assert result.exit_code == 1 and "LMTP_BIND must be host:port" in result.output

