"""Request bodies under real gunicorn: a body over its limit or shorter than its Content-Length is
refused and nothing of it is stored. Werkzeug's test client cannot show this: gunicorn sets
`wsgi.input_terminated`, so Werkzeug neither limits nor checks the stream it hands the app."""
from __future__ import annotations

import json
import os
import socket
import threading

import pytest
from sqlalchemy import func, select

from bench import harness
from suppression.db import db
from suppression.models import Event, Role, Suppression
from tests.conftest import UNSUBSCRIBE_KEY, make_key
from tests.test_inbound import dsn


@pytest.fixture(scope="module")
def served(migrated_app, database_url):
    """gunicorn (config/gunicorn.py, one gthread worker) over the tests' database; its port."""
    env = dict(os.environ, DATABASE_URL=database_url, UNSUBSCRIBE_KEYS=UNSUBSCRIBE_KEY, REDIS_URL="",
               PUBLIC_BASE_URL="https://unsubscribe.example.net", WEB_CONCURRENCY="1", GUNICORN_THREADS="2",
               ACCESS_LOG="/dev/null", LOG_LEVEL="WARNING")
    with harness.gunicorn(env) as server:
        yield int(server.base.rsplit(":", 1)[1])


def exchange(port: int, head: bytes, send_body) -> bytes:
    """Send `head`, then whatever `send_body(sock)` sends while the answer is read; the answer's
    bytes (empty when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sender = threading.Thread(target=_quietly, args=(send_body, sock))
        sender.start()
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:  # reset after an early answer to a body still being sent
            pass
        sender.join(timeout=30)
    return answer


def _quietly(send_body, sock) -> None:
    try:
        send_body(sock)
    except OSError:  # the server answered and closed before the whole body was sent
        pass


def post_head(path: str, key: str, length: int | None = None, mimetype: str = "message/rfc822") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {mimetype}\r\nConnection: close\r\n{framing}\r\n\r\n").encode()


def stored_events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event))


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body.startswith(b"{") else {}


def test_a_chunked_message_over_the_limit_is_413_and_not_stored(app, served):
    key = make_key(app, Role.ingest)
    piece = b"x" * 65536

    def send(sock):
        left = 11_000_000
        while left:
            size = min(left, len(piece))
            sock.sendall(b"%x\r\n" % size + piece[:size] + b"\r\n")
            left -= size
        sock.sendall(b"0\r\n\r\n")

    answer = exchange(served, post_head("/v1/inbound/mail", key), send)
    status, body = status_and_json(answer)
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    assert stored_events(app) == 0


def test_a_message_cut_short_of_its_content_length_is_not_stored(app, served):
    key = make_key(app, Role.ingest)
    raw = dsn("gone@example.com").ljust(2375, b"\n")

    def send(sock):
        sock.sendall(raw[:1921])
        sock.shutdown(socket.SHUT_WR)  # the client gives up half way

    answer = exchange(served, post_head("/v1/inbound/mail", key, len(raw)), send)
    assert answer == b"" or status_and_json(answer)[0] == 400
    assert stored_events(app) == 0
    with app.app_context():  # nor was the fragment read as a bounce
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_a_whole_message_over_gunicorn_is_stored(app, served):
    key = make_key(app, Role.ingest)
    raw = dsn("gone@example.com")
    answer = exchange(served, post_head("/v1/inbound/mail", key, len(raw)), lambda sock: sock.sendall(raw))
    assert status_and_json(answer)[0] == 202
    assert stored_events(app) == 1


def cut_short(body: bytes):
    def send(sock):
        sock.sendall(body[:len(body) * 2 // 3])
        sock.shutdown(socket.SHUT_WR)
    return send


ADDRESSES = "".join(f"person{n}@example.com\n" for n in range(3000)).encode()
BOUNDARY = "b0undary"
MULTIPART = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\n"
             f"Content-Type: text/csv\r\n\r\n").encode() + ADDRESSES + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("mimetype, body", [("text/csv", ADDRESSES),
                                            (f"multipart/form-data; boundary={BOUNDARY}", MULTIPART)],
                         ids=["raw", "multipart"])
def test_an_import_cut_short_is_not_applied(app, served, dealer, mimetype, body):
    head = post_head("/v1/suppressions/import", dealer.key, len(body), mimetype)
    answer = exchange(served, head, cut_short(body))
    assert answer == b"" or status_and_json(answer)[0] == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0
