"""Fixtures: every test that uses `app` runs once on SQLite and once on real PostgreSQL.

TEST_BACKENDS=sqlite limits a run to SQLite (a machine without PostgreSQL); `make test`
runs both. Redis tests use a real server (TEST_REDIS_URL, database 15 by default, flushed).
"""
from __future__ import annotations

import os
import re
import secrets
import threading

import psycopg
import pyotp
import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.serving import make_server

from seedlist import seeds as seedlist
from suppression import accounts, create_app, tokens
from suppression import staff as staff_users
from suppression.db import db
from suppression.models import Role, StaffRole
from suppression.web.ratelimit import limiter_of
from tests import browser
from workers import seeds as seed_audit

BACKENDS = [b.strip() for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per run, so that two runs on one machine (a developer's and CI's) never meet.
PG_DATABASE = os.environ.get("TEST_POSTGRES_DB", f"suppression_test_{os.getpid()}")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
UNSUBSCRIBE_KEY = tokens.new_key()
# Every app the tests build signs sessions alike, as a deployment's processes do (on PostgreSQL
# the app refuses to start without one).
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))


def fresh_postgres(name: str) -> str:
    """An empty PostgreSQL database called `name`; its URL."""
    drop_postgres(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config, items):
    """Tests marked postgresql_only (row locks, dropped server connections) run on PostgreSQL
    alone: their SQLite copies are deselected, not skipped, since there is nothing to test there."""
    kept, dropped = [], []
    for item in items:
        on_sqlite = getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgresql_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
        return
    yield fresh_postgres(PG_DATABASE)
    drop_postgres(PG_DATABASE)


@pytest.fixture(scope="session")
def migrated_app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY,
                      "PUBLIC_BASE_URL": "https://unsubscribe.example.net"})
    with app.app_context():
        upgrade()  # the schema comes from the migrations, as in production
    return app


@pytest.fixture
def app(migrated_app):
    """The app, with every table and rate-limit counter emptied after the test."""
    yield migrated_app
    limiter_of(migrated_app).reset()
    seedlist.forget_routing()  # the seeds it routed by, and the accounts it audited for, are gone
    seed_audit.forget_senders()
    with migrated_app.app_context():
        db.session.rollback()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Api:
    """A test client that sends one API key."""

    def __init__(self, client, key: str, account_id: int | None = None):
        self.client, self.key, self.account_id = client, key, account_id

    def __getattr__(self, method):
        call = getattr(self.client, method)

        def send(path, **kwargs):
            headers = {"Authorization": f"Bearer {self.key}"} | kwargs.pop("headers", {})
            return call(path, headers=headers, **kwargs)
        return send


def make_key(app, role: Role, account_id: int | None = None) -> str:
    with app.app_context():
        _, secret = accounts.create_key(role, "test", account_id)
        db.session.commit()
    return secret


@pytest.fixture
def staff(app, client) -> Api:
    return Api(client, make_key(app, Role.staff))


@pytest.fixture
def make_dealer(app, client):
    """make_dealer(name) -> an Api for a new account's sender key (.account_id set)."""
    def make(name: str = "Dealer", domains: tuple[str, ...] = ()) -> Api:
        with app.app_context():
            account = accounts.create(name, list(domains), "test")
            db.session.commit()
            account_id = account.id
        return Api(client, make_key(app, Role.sender, account_id), account_id)
    return make


@pytest.fixture
def dealer(make_dealer) -> Api:
    return make_dealer("Alpha Motors", ("alpha-motors.example",))


@pytest.fixture
def queued_app(app, database_url, redis_url):
    """The app with jobs going to real Redis (TEST_REDIS_URL, emptied) rather than inline."""
    return create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                       "UNSUBSCRIBE_KEYS": app.config["UNSUBSCRIBE_KEYS"]})


@pytest.fixture
def redis_app(redis_url, tmp_path):
    """An app with Redis and a throwaway SQLite database, for jobs that need no tables."""
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/unused.db", "REDIS_URL": redis_url,
                       "UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEY})


def work(app) -> None:
    """Run the queued jobs through the real entry point (`make worker`), until the queues are empty."""
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def redis_url():
    from redis import Redis
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


STAFF_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A browser-less staff session on /admin: logs in, and sends each form with its CSRF token."""

    def __init__(self, client, email: str):
        self.client, self.email = client, email

    def login(self, password: str = STAFF_PASSWORD, code: str | None = None):
        form = {"email": self.email, "password": password, "code": code or "", "csrf_token": self.token("/admin/login")}
        return self.client.post("/admin/login", data=form)

    def token(self, page: str = "/admin/") -> str:
        """The CSRF token of this session, as a console page carries it."""
        return _CSRF.search(self.client.get(page).get_data(as_text=True)).group(1)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):
        return self.client.post(path, data={"csrf_token": self.token(), **(data or {})}, **kwargs)


@pytest.fixture
def make_staff(app):
    """make_staff(email, role="admin", totp=False) -> a logged-in Console (its own client), and the
    user's TOTP secret as .totp_secret."""
    def make(email: str = "ana@platform.example", role: str = "admin", totp: bool = False,
             login: bool = True) -> Console:
        with app.app_context():
            user = staff_users.create(email, STAFF_PASSWORD, StaffRole(role), "test", totp=totp)
            db.session.commit()
            secret = user.totp_secret
        console = Console(app.test_client(), email)
        console.totp_secret = secret
        if login:
            assert console.login(code=pyotp.TOTP(secret).now() if secret else None).status_code == 302
        return console
    return make


# Browser tests (tests/browser.py starts the browser)

@pytest.fixture
def live_url(app):
    """The test app served over real HTTP on a free local port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    # Stopped before `app` empties the tables, so no request of ours is still holding a session.
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def chromium():
    """chromium() -> this module's one headless Chromium, started on first use (a launch takes seconds)."""
    drivers = []

    def driver():
        if not drivers:
            drivers.append(browser.start_phone())
        return drivers[0]

    # Selenium Manager would fetch a browser when it finds none; offline it cannot.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        yield driver
    for started in drivers:
        started.quit()
