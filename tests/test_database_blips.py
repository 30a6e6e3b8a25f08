"""PostgreSQL dropping the app's connections (a restart, a failover, an idle timeout): the next
requests answer 503 with Retry-After, never 500, and the request after a 503 works. The
idempotent one-statement writes (a one-click opt-out, storing an inbound message) are tried once
more on a fresh connection, so they are not lost at all."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import func, select

from suppression.db import db
from suppression.models import Event, Role, Suppression
from tests.conftest import PG_ADMIN_URL, Api, make_key
from tests.test_inbound import dsn
from tests.test_unsubscribe import ONE_CLICK, link, path_of

pytestmark = pytest.mark.postgresql_only  # the connections dropped are PostgreSQL's


@pytest.fixture
def postgres_app(app):
    yield app
    with app.app_context():
        db.engine.dispose()  # so that emptying the tables starts on live connections


def drop_connections(app) -> int:
    """Terminate every server connection of the app's database, as a restart does; how many."""
    with app.app_context():
        name = db.engine.url.database
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())


def answered(response, ok: int) -> bool:
    """`ok`, or a 503 that says when to come back; never anything else."""
    if response.status_code == 503:
        assert response.headers["Retry-After"].isdigit()
        return False
    assert response.status_code == ok, (response.status_code, response.get_data(as_text=True)[:300])
    return True


def test_a_dropped_connection_is_503_never_500_and_the_next_request_works(postgres_app, dealer):
    ingest = Api(postgres_app.test_client(), make_key(postgres_app, Role.ingest))
    confirm = path_of(link(dealer, "page@example.com"))
    raw = dsn("gone@example.com")
    requests = {  # each with the status it answers when the database is there
        "check": (lambda: dealer.post("/v1/check", json={"addresses": ["x@example.com"]}), 200),
        "ingest": (lambda: ingest.post("/v1/inbound/mail", data=raw, content_type="message/rfc822"), 202),
        "page": (lambda: dealer.client.get(confirm), 200),  # a recipient's confirmation page
        "one-click": (lambda: dealer.client.post(confirm, data=ONE_CLICK), 200)}
    unavailable = []
    for name, (send, ok) in requests.items():
        assert send().status_code == ok  # the pool holds connections
        assert drop_connections(postgres_app) >= 1
        response = send()
        if not answered(response, ok):
            unavailable.append(name)
            assert response.mimetype == ("text/html" if name == "page" else "application/json")
            if name != "page":
                assert response.json["error"]["code"] == "unavailable"
            assert answered(send(), ok)  # the next request gets a new connection
    assert "check" in unavailable  # its connection was the one dropped (and nothing retries a read)


def test_a_one_click_opt_out_survives_the_connections_dropped_before_it(postgres_app, client, dealer):
    path = path_of(link(dealer, "leaving@example.com"))
    assert drop_connections(postgres_app) >= 1
    assert client.post(path, data=ONE_CLICK).status_code == 200
    with postgres_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)
                                 .where(Suppression.address == "leaving@example.com")) == 1


def test_an_inbound_message_survives_the_connections_dropped_before_it(postgres_app):
    ingest = Api(postgres_app.test_client(), make_key(postgres_app, Role.ingest))
    first = ingest.post("/v1/inbound/mail", data=dsn("first@example.com"), content_type="message/rfc822")
    assert first.status_code == 202  # an MTA posting bounces: its key is known for AUTH_CACHE_SECONDS
    assert drop_connections(postgres_app) >= 1
    response = ingest.post("/v1/inbound/mail", data=dsn("gone@example.com", message_id="<2@mta.example>"),
                           content_type="message/rfc822")
    assert response.status_code == 202, response.get_data(as_text=True)
    with postgres_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 2
