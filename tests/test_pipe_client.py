"""bin/suppression-pipe, the stdlib-only client an MTA pipes each message into: run as a real
process against the app served over HTTP on loopback; its exit codes are what the MTA acts on."""
from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from suppression.db import db
from suppression.models import Event, Role
from tests.conftest import make_key
from tests.test_inbound import dsn

PIPE = Path(__file__).resolve().parent.parent / "bin" / "suppression-pipe"


def pipe(url: str, message: bytes, *args: str, key: str | None = None, key_file: Path | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPRESSION_")}
    env |= {"SUPPRESSION_KEY": key} if key else {}
    env |= {"SUPPRESSION_KEY_FILE": str(key_file)} if key_file else {}
    # The system's python3, not the venv's: the client needs nothing but the standard library.
    # Run as the MTA runs it: the file itself, by its #! line (the system's python3, not the venv's).
    return subprocess.run([str(PIPE), *args, url], input=message, env=env, capture_output=True, timeout=60)


@pytest.fixture
def ingest_key(app) -> str:
    return make_key(app, Role.ingest)


def stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event))


def test_an_accepted_message_exits_0_and_is_stored_once(app, live_url, ingest_key, tmp_path):
    message = dsn("gone@example.com")
    assert pipe(live_url, message, key=ingest_key).returncode == 0
    key_file = tmp_path / "key"
    key_file.write_text(ingest_key + "\n")
    again = pipe(live_url + "/v1/inbound/mail", message, "--kind=bounce", key_file=key_file)
    assert again.returncode == 0 and stored(app) == 1  # a duplicate is accepted, and is the same event


def test_a_message_refused_for_itself_exits_65(app, live_url, ingest_key):
    answer = pipe(live_url, b"   \n", key=ingest_key)
    assert answer.returncode == 65 and b"422" in answer.stderr and stored(app) == 0


@pytest.mark.parametrize("key", ["sk_wrong", None])
def test_a_wrong_or_missing_key_keeps_the_mail_queued(app, live_url, key):
    answer = pipe(live_url, dsn("gone@example.com"), key=key)
    assert answer.returncode == 75 and stored(app) == 0
    assert key is None or key not in answer.stderr.decode()  # the MTA logs stderr: never the key


def answering(status: int | None):
    """A server on loopback that answers every POST with `status`, or never answers (None)."""
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers["Content-Length"]))
            if status is None:
                self.server.stop.wait(10)
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads, server.stop = True, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status", [503, 500, 429, None])
def test_a_server_error_or_no_answer_exits_75_so_the_mta_retries(status):
    server = answering(status)
    try:
        answer = pipe(f"http://127.0.0.1:{server.server_port}", b"From: a@b.example\r\n\r\nx", "--timeout=0.5",
                      key="k")
    finally:
        server.stop.set()
        server.shutdown()
    assert answer.returncode == 75


def test_nothing_listening_exits_75():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert pipe(f"http://127.0.0.1:{port}", b"From: a@b.example\r\n\r\nx", key="k").returncode == 75


def test_a_wrong_command_line_is_a_usage_error():
    assert pipe("ftp://example.net", b"x", key="k").returncode == 64
    assert pipe("http://127.0.0.1:9", b"x", "--kind=other", key="k").returncode == 64


def test_the_client_imports_nothing_but_the_standard_library():
    tree = ast.parse(PIPE.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}
