"""The composition root: settings, extensions, the web layer, the CLI and the workers' commands."""
from __future__ import annotations

import os
from collections.abc import Mapping

from flask_migrate import Migrate
from flask_openapi3 import Info, OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from seedlist import secrets
from suppression import db as database
from suppression import logs, tokens
from suppression.web import converters, errors, ratelimit, sessions
from suppression.web.jsonio import OrjsonProvider
from workers import providers

migrate = Migrate()
MIGRATIONS = os.path.join(config.ROOT, "migrations")


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
    migrate.init_app(app, database.db, directory=MIGRATIONS, render_as_batch=True)

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
