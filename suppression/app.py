"""The composition root: settings, extensions, the web layer, the CLI and the workers' commands.

Two apps share the settings and extensions: the whole app (`create_app`: gunicorn and every
`flask --app wsgi` command), and the worker's (`create_worker_app`: `flask --app worker_app worker`,
`lmtp`, `inbound`, `classify`), which imports no web layer (the OpenAPI models, the pages, the rate
limiter): its start is what a restarted worker or listener pays."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import click
from flask import Flask

import config
from seedlist import secrets
from suppression import db as database
from suppression import logs, tokens
from workers import providers

if TYPE_CHECKING:
    from flask_openapi3 import OpenAPI

MIGRATIONS = os.path.join(config.ROOT, "migrations")


# Flask-Migrate imports alembic (half a second of start-up), which only `flask db ...`,
# flask_migrate.upgrade() (tests, benches) and migrations/env.py use: the app gets two
# stand-ins that import it on first use instead.
class _LazyMigrate:
    """app.extensions["migrate"] until first read: then the real Flask-Migrate config."""

    def __init__(self, app, db) -> None:
        self._app, self._db = app, db

    def __getattr__(self, name: str):
        from flask_migrate import Migrate
        Migrate(self._app, self._db, directory=MIGRATIONS, render_as_batch=True)  # replaces this stand-in
        return getattr(self._app.extensions["migrate"], name)


class _LazyDbGroup(click.Group):
    """`flask db ...`: Flask-Migrate's command group, imported when the command runs."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        from flask_migrate.cli import db
        return db.make_context(info_name, args, parent=parent, **extra)


def create_app(overrides: Mapping[str, object] | None = None) -> OpenAPI:
    """Build the whole app, the web layer's and every command; `overrides` (tests) win over the environment."""
    from flask_openapi3 import Info, OpenAPI
    from werkzeug.middleware.proxy_fix import ProxyFix

    from suppression import admin, api, cli, pages
    from suppression.web import converters, errors, ratelimit, sessions
    from suppression.web.jsonio import OrjsonProvider
    app = OpenAPI(
        "suppression", info=Info(title="Suppression and compliance API", version="1.0"),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        doc_prefix="/docs", doc_url="/openapi.json", instance_relative_config=True,
    )
    settings = _configure(app, overrides)
    app.json = OrjsonProvider(app)
    sessions.init_app(app, frozenset({"admin"}), path="/admin", hours=int(settings["ADMIN_SESSION_HOURS"]))
    if settings["TRUSTED_PROXIES"]:
        hops = int(settings["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    converters.init_app(app)  # before any route is added
    ratelimit.init_app(app)
    errors.install_fallback(app)
    api.register(app)
    pages.register(app)
    admin.register(app)
    cli.register(app)
    return app


def create_worker_app(overrides: Mapping[str, object] | None = None) -> Flask:
    """Build the worker's app: the same settings and extensions, the workers' commands, no web layer."""
    from workers import cli, inbound_cli, lmtp_cli, worker
    app = Flask("suppression", instance_relative_config=True)
    _configure(app, overrides)
    for commands in (inbound_cli, lmtp_cli, cli, worker):
        commands.register(app)
    return app


def _configure(app: Flask, overrides: Mapping[str, object] | None) -> Mapping[str, object]:
    """The settings and extensions both apps share; the settings."""
    settings = config.load(overrides=overrides)
    app.config.update(settings)
    # Built once, here, so that a bad key stops the start (ValueError naming the setting).
    app.extensions["providers"] = providers.build(settings)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = config.database_url(str(settings["DATABASE_URL"]), app.instance_path)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = config.engine_options(app.config["SQLALCHEMY_DATABASE_URI"], settings)
    app.config["SECRET_KEY"] = config.secret_key(settings, app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_JSON_BYTES"]
    logs.configure(str(settings["LOG_LEVEL"]))
    database.db.init_app(app)
    app.extensions["migrate"] = _LazyMigrate(app, database.db)
    app.cli.add_command(_LazyDbGroup("db", help="Perform database migrations."))
    tokens.init_app(app)
    secrets.init_app(app)
    return settings
