"""The production recipe of deploy/: nginx with deploy/nginx/suppression.conf in front of gunicorn
with config/gunicorn.py, both real, on loopback.

One SQLite database for the module (nothing here depends on the backend); the rate limits count
in Redis (TEST_REDIS_URL), shared by gunicorn's two workers as in production.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
from urllib.parse import urlsplit

import pytest
from flask_migrate import upgrade

from suppression import create_app
from tests.conftest import REDIS_URL, UNSUBSCRIBE_KEY
from tests.nginx_site import gunicorn, nginx, wait_healthy
from tests.slow_clients import probe, slow_clients

SLOW_CLIENTS = 32
PROBES = 50
# The bound: with a buffering proxy a probe waits for no slow client, and /healthz takes
# about 2 ms through nginx on loopback; 100 ms leaves room for a busy machine.
PROBE_BOUND = 0.100
BAD_KEY_LIMIT = 3


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="module")
def site(site_dir):
    """The deploy site's base URL, nginx in front of gunicorn (TRUSTED_PROXIES=1, as deploy/README.md says)."""
    directory = site_dir
    database = f"sqlite:///{directory}/suppression.db"
    env = dict(os.environ, DATABASE_URL=database, REDIS_URL=REDIS_URL,
               UNSUBSCRIBE_KEYS=UNSUBSCRIBE_KEY, TRUSTED_PROXIES="1", AUTH_FAILURE_LIMIT=f"{BAD_KEY_LIMIT}/minute",
               LOG_LEVEL="WARNING")
    log = directory / "gunicorn.log"
    socket_path = directory / "gunicorn.sock"
    with gunicorn(env, f"unix:{socket_path}", log) as app_server, nginx(directory / "nginx",
                                                                      f"unix:{socket_path}") as base:
        # The schema is made while gunicorn's workers load the app (they touch no table to start).
        with create_app({"DATABASE_URL": database, "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY}).app_context():
            upgrade()
        wait_healthy(base, app_server, log)
        yield base


def test_slow_clients_do_not_delay_healthz_behind_nginx(site):
    """32 clients sending headers or bodies a byte every 0.5 s hold nginx connections, not gunicorn's
    8 threads: every /healthz probe answers 200 within 100 ms (gunicorn alone: bench/slow_clients.py)."""
    with slow_clients(site, SLOW_CLIENTS):
        probes = [probe(site) for _ in range(PROBES)]
    statuses = {status for status, _ in probes}
    slowest = max(seconds for _, seconds in probes)
    assert statuses == {200}, f"probe statuses {statuses} with {SLOW_CLIENTS} slow clients"
    assert slowest < PROBE_BOUND, f"slowest of {PROBES} probes: {slowest * 1000:.0f} ms (bound {PROBE_BOUND * 1000:.0f} ms)"


def raw_request(base: str, head: str, source: str = "127.0.0.1") -> tuple[int, dict]:
    """Send a request's `head` alone (no body, whatever it declares); its status and JSON body."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=5, source_address=(source, 0)) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read() or b"{}")


@pytest.mark.parametrize("path, declared, refused", [
    ("/v1/inbound/mail", 10 * 1024 * 1024 + 1, True),  # MAX_INBOUND_BYTES
    ("/v1/check", 4 * 1024 * 1024 + 1, True),  # MAX_JSON_BYTES
    ("/v1/check/filter", 4 * 1024 * 1024 + 1, False),  # MAX_UPLOAD_BYTES: reaches the app (401, no key)
    ("/v1/suppressions/import", 11 * 1024 * 1024, False),
])
def test_nginx_refuses_bodies_over_the_apps_limit_of_each_endpoint(site, path, declared, refused):
    """A body over its endpoint's limit is refused by nginx with the API's 413 error object, before
    gunicorn sees it; CSV uploads may be as large as MAX_UPLOAD_BYTES."""
    if refused:
        status, body = raw_request(site, f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {declared}")
        assert (status, body["error"]["code"]) == (413, "payload_too_large")
        return
    # A body under the limit is read by nginx in full, then passed on: the app refuses the missing key.
    conn = http.client.HTTPConnection(urlsplit(site).hostname, urlsplit(site).port, timeout=30)
    conn.request("POST", path, body=b"a@example.com\n" * (declared // 14 + 1), headers={"Content-Type": "text/csv"})
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["error"]["code"]) == (401, "unauthorized")
    conn.close()


def test_bad_keys_are_counted_per_client_address_forwarded_by_nginx(site, redis_url):
    """With X-Forwarded-For from nginx and TRUSTED_PROXIES=1, one client's failed API keys spend
    that client's limit only; a forwarded address it makes up itself changes nothing."""
    def bad_key(source: str, forged: str = "") -> int:
        extra = f"\r\nX-Forwarded-For: {forged}" if forged else ""
        head = f"GET /v1/suppressions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer wrong{extra}"
        return raw_request(site, head, source)[0]

    assert [bad_key("127.0.0.2") for _ in range(BAD_KEY_LIMIT + 1)] == [401] * BAD_KEY_LIMIT + [429]
    assert bad_key("127.0.0.2", forged="198.51.100.7") == 429
    assert bad_key("127.0.0.3") == 401


def test_nginx_access_log_carries_no_address_nor_unsubscribe_token(site, site_dir):
    """nginx's access log, like gunicorn's, has no query string, and no address or /u/ token in a path."""
    token = "gAAAAABnV3J5c2VjcmV0dG9rZW4tdGhhdC1vcHRzLW91dA"
    for path in (f"/u/{token}", "/v1/suppressions/ann%40example.com", "/v1/suppressions?address=bob@example.com"):
        probe(site, path)
    logged = (site_dir / "nginx" / "suppression.access.log").read_text()
    assert '"GET /u/[token]"' in logged and '"GET [address]"' in logged and '"GET /v1/suppressions"' in logged
    assert "@" not in logged and "%40" not in logged and token not in logged
