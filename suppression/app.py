"""The composition root: settings, extensions, the web layer, the CLI and the workers' commands."""
from __future__ import annotations

import os
from collections.abc import Mapping

import click
from flask_openapi3 import Info, OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from seedlist import secrets
from suppression import db as database
from suppression import logs, tokens
from suppression.web import converters, errors, ratelimit, sessions
from suppression.web.jsonio import OrjsonProvider
from workers import providers

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
    """Build the app; `overrides` (tests) win over the environment."""
    app = OpenAPI(
        "suppression", info=Info(title="Suppression and compliance API", version="1.0"),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        doc_prefix="/docs", doc_url="/openapi.json", instance_relative_config=True,
    )
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

    app.json = OrjsonProvider(app)
    sessions.init_app(app, frozenset({"admin"}), path="/admin", hours=int(settings["ADMIN_SESSION_HOURS"]))
    database.db.init_app(app)
    app.extensions["migrate"] = _LazyMigrate(app, database.db)
    app.cli.add_command(_LazyDbGroup("db", help="Perform database migrations."))

    if settings["TRUSTED_PROXIES"]:
        hops = int(settings["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    converters.init_app(app)  # before any route is added
    from suppression import admin, api, cli, pages
    tokens.init_app(app)
    secrets.init_app(app)
    ratelimit.init_app(app)
    errors.install_fallback(app)
    api.register(app)
    pages.register(app)
    admin.register(app)
    cli.register(app)
    return app
