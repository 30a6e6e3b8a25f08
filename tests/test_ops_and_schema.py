"""Health, readiness, the OpenAPI document, and migrations that match the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from suppression import create_app
from suppression.db import db


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_checks_the_database_and_real_redis(database_url, redis_url):
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    response = app.test_client().get("/readyz")
    assert response.status_code == 200 and response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_is_down(database_url):
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["redis"].startswith("error")


def test_openapi_document_describes_every_route(app, client):
    spec = client.get("/openapi.json").json
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1/"):
            path = rule.rule.replace("<path:", "{").replace("<int:", "{").replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, (path, method)
    assert client.get("/docs/swagger").status_code == 200


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"render_as_batch": True}), db.metadata)
    assert diff == []
