"""Reading seed mailboxes over IMAP (seedlist.imap) against a real Dovecot on loopback."""
from __future__ import annotations

import imaplib
import itertools
import re
import socket
import threading

import pytest

from seedlist.imap import FETCH_BATCH, FolderState, MailboxError, read_new
from tests.dovecot import Dovecot, quoted

_users = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    with Dovecot(tmp_path_factory.mktemp("imap")) as server:
        yield server


@pytest.fixture
def seed(dovecot):
    """A new user on the shared server: (name, password, plain loopback URL)."""
    name, password = f"seed{next(_users)}", "pa ss/w@rd"
    dovecot.add_user(name, password)
    return name, password, f"imap://{name}:pa%20ss%2Fw%40rd@127.0.0.1:{dovecot.port}"


def message(n: int) -> bytes:
    return (f"From: Dealer <news@alpha-motors.example>\r\nTo: seed@example.org\r\nSubject: Offer {n}\r\n"
            f"Message-ID: <offer-{n}@alpha-motors.example>\r\n\r\nBody {n}\r\n").encode()


def read(url, provider="own", states=None, **kw):
    return read_new(url, provider, states or {}, allow_plain_loopback=True, timeout=5, **kw)


def flags(dovecot, user, password, folder) -> list[bytes]:
    conn = dovecot.login(user, password)
    try:
        conn.select(quoted(folder), readonly=True)
        return [item for item in conn.uid("FETCH", "1:*", "(FLAGS)")[1] if item]
    finally:
        conn.logout()


def test_new_messages_with_their_placements_then_nothing_then_only_the_next(dovecot, seed):
    user, password, url = seed
    for folder, n in (("INBOX", 1), ("Junk", 2), ("INBOX", 3)):
        dovecot.append(user, password, folder, message(n))

    got, states = read(url)

    assert [(f.folder, f.placement, f.uid) for f in got] == [("INBOX", "inbox", 1), ("INBOX", "inbox", 2),
                                                             ("Junk", "spam", 1)]
    assert [f.raw for f in got] == [message(1), message(3), message(2)]
    assert states["INBOX"].last_uid == 2 and states["Junk"].last_uid == 1 and states["Spam"].last_uid == 0
    assert all(b"\\Seen" not in item for item in flags(dovecot, user, password, "INBOX"))  # read with PEEK

    again, same = read(url, states=states)
    assert again == [] and same == states

    dovecot.append(user, password, "Junk", message(4))
    last, after = read(url, states=same)
    assert [(f.folder, f.uid, f.raw) for f in last] == [("Junk", 2, message(4))]
    assert after["Junk"] == FolderState(states["Junk"].uidvalidity, 2) and after["INBOX"] == states["INBOX"]


def test_provider_folders_and_missing_ones_skipped(dovecot, seed):
    user, password, url = seed
    dovecot.append(user, password, "[Gmail]/Spam", message(1))
    dovecot.append(user, password, "Junk", message(2))  # not a Gmail folder: not read
    dovecot.append(user, password, "Bulk", message(3))

    gmail, gmail_states = read(url, provider="gmail")
    yahoo, yahoo_states = read(url, provider="Yahoo")

    # Promotions, "[Google Mail]/Spam" and "Bulk Mail" don't exist here: skipped, and given no state.
    assert [(f.folder, f.placement, f.raw) for f in gmail] == [("[Gmail]/Spam", "spam", message(1))]
    assert set(gmail_states) == {"INBOX", "[Gmail]/Spam"}
    assert [(f.folder, f.placement, f.raw) for f in yahoo] == [("Bulk", "spam", message(3))]
    assert set(yahoo_states) == {"INBOX", "Bulk"}


def test_an_expunged_newest_message_does_not_bring_back_the_last_one_read(dovecot, seed):
    user, password, url = seed
    dovecot.append(user, password, "INBOX", message(1))
    _, states = read(url)
    gone = dovecot.append(user, password, "INBOX", message(2))
    conn = dovecot.login(user, password)
    conn.select("INBOX")
    conn.uid("STORE", str(gone), "+FLAGS", "(\\Deleted)")
    conn.expunge()
    conn.logout()

    # UIDNEXT moved on, and "UID 2:*" matches UID 1, the folder's last message: it is not new.
    got, after = read(url, states=states)

    assert got == [] and after["INBOX"] == states["INBOX"]


def test_a_new_uidvalidity_reads_the_folder_from_its_start(dovecot, seed):
    user, password, url = seed
    dovecot.append(user, password, "Junk", message(1))
    dovecot.append(user, password, "Junk", message(2))
    _, states = read(url)
    conn = dovecot.login(user, password)
    conn.delete("Junk")
    conn.create("Junk")
    conn.logout()
    dovecot.append(user, password, "Junk", message(3))  # UID 1 again, under a new UIDVALIDITY

    got, after = read(url, states=states)

    assert [(f.folder, f.uid, f.raw) for f in got] == [("Junk", 1, message(3))]
    assert after["Junk"].uidvalidity != states["Junk"].uidvalidity and after["Junk"].last_uid == 1


def test_a_hundred_messages_in_a_few_fetches(dovecot, seed, monkeypatch):
    user, password, url = seed
    conn = dovecot.login(user, password)
    for n in range(100):
        conn.append("INBOX", None, None, message(n))
    conn.logout()
    commands = []
    uid = imaplib.IMAP4.uid

    def counted(self, command, *args):
        commands.append(command.upper())
        return uid(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", counted)

    got, states = read(url)

    assert [f.raw for f in got] == [message(n) for n in range(100)]
    assert commands.count("FETCH") == -(-100 // FETCH_BATCH) == 2
    assert states["INBOX"].last_uid == 100


def test_at_most_max_messages_and_the_state_stops_after_them(dovecot, seed):
    user, password, url = seed
    for n in range(5):
        dovecot.append(user, password, "INBOX", message(n))
    dovecot.append(user, password, "Junk", message(9))

    first, states = read(url, max_messages=3)
    rest, after = read(url, states=states, max_messages=3)

    assert [f.raw for f in first] == [message(0), message(1), message(2)]
    assert states["INBOX"].last_uid == 3 and "Junk" not in states  # Junk left for the next call
    assert [f.raw for f in rest] == [message(3), message(4), message(9)]
    assert after["INBOX"].last_uid == 5 and after["Junk"].last_uid == 1


def test_a_wrong_password_is_an_auth_error_that_never_shows_it(dovecot, seed):
    user, _, _ = seed
    url = f"imap://{user}:Wrong-Secret-42@127.0.0.1:{dovecot.port}"

    with pytest.raises(MailboxError) as caught:
        read(url)

    assert caught.value.kind == "auth"
    assert "Wrong-Secret-42" not in str(caught.value) and url not in str(caught.value)
    assert f"127.0.0.1:{dovecot.port}" in caught.value.detail


def test_a_stopped_server_is_a_connect_error(tmp_path):
    server = Dovecot(tmp_path).start()
    server.add_user("solo", "secret")
    url = f"imap://solo:secret@127.0.0.1:{server.port}"
    server.append("solo", "secret", "INBOX", message(1))
    assert len(read(url)[0]) == 1
    server.stop()

    with pytest.raises(MailboxError) as caught:
        read(url)

    assert caught.value.kind == "connect" and "secret" not in str(caught.value)


@pytest.fixture
def silent_server():
    """A TCP server on loopback that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()


def test_a_server_that_never_answers_is_a_timeout(silent_server):
    with pytest.raises(MailboxError) as caught:
        read_new(f"imap://u:p@127.0.0.1:{silent_server}", "own", {}, allow_plain_loopback=True, timeout=0.5)

    assert caught.value.kind == "timeout"


@pytest.mark.parametrize("url, allow", [
    ("imap://u:secret@192.0.2.1:143", True),     # not loopback: the password would cross a network in clear
    ("imap://u:secret@imap.example.com", True),
    ("imap://u:secret@127.0.0.1:1", False),      # loopback, but the caller did not allow plain IMAP
])
def test_plain_imap_is_refused_before_connecting(url, allow):
    with pytest.raises(MailboxError) as caught:
        read_new(url, "own", {}, allow_plain_loopback=allow, timeout=0.5)

    assert caught.value.kind == "connect" and "imaps://" in caught.value.detail
    assert "secret" not in str(caught.value)


def test_imaps_verifies_the_certificate(dovecot, seed):
    user, password, _ = seed
    dovecot.append(user, password, "INBOX", message(1))
    url = f"imaps://{user}:pa%20ss%2Fw%40rd@127.0.0.1:{dovecot.tls_port}"

    got, _ = read_new(url, "own", {}, cafile=dovecot.cafile, timeout=5)
    with pytest.raises(MailboxError) as caught:
        read_new(url, "own", {}, timeout=5)  # the system's CAs don't know the test certificate

    assert [f.raw for f in got] == [message(1)]
    assert caught.value.kind == "connect" and re.search("certificate", caught.value.detail)
