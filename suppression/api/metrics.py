"""GET /metrics: the service's figures in Prometheus's text format, read from the database and
Redis when scraped (api/collector.py)."""
from __future__ import annotations

import hmac

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
)

from suppression.api.auth import public
from suppression.api.blueprint import api_blueprint
from suppression.api.collector import ServiceCollector
from suppression.errors import Unauthenticated
from suppression.web import ratelimit

bp = api_blueprint("metrics", __name__, "ops", url_prefix="", bearer=False)


def init_app(app: Flask) -> None:
    """The registry /metrics reads: the database's and Redis's figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(app.config["REDIS_URL"], app.config["METRICS_CACHE_SECONDS"]))
    app.extensions["metrics"] = registry


@bp.get("/metrics", responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
@public
def metrics():
    """The service's figures for Prometheus; with METRICS_TOKEN set, for its bearer only."""
    _require_token(current_app.config["METRICS_TOKEN"])
    return Response(generate_latest(current_app.extensions["metrics"]), content_type=CONTENT_TYPE_LATEST)


def _require_token(token: str) -> None:
    if not token:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        ratelimit.count_failure("auth", "AUTH_FAILURE_LIMIT")
        raise Unauthenticated("send the metrics token as 'Authorization: Bearer <token>'")
