"""GET /metrics: the service's figures in Prometheus's text format.

Most are read from the database and Redis when scraped (api/collector.py). The checks are
counted by the process that answers them; with PROMETHEUS_MULTIPROC_DIR set (gunicorn with
several workers) every process writes its counts there and a scrape adds them all up.
"""
from __future__ import annotations

import hmac
import os
from operator import itemgetter

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from config import SettingsError
from suppression.api.auth import public
from suppression.api.blueprint import api_blueprint
from suppression.api.collector import ServiceCollector
from suppression.api.schemas import text_response
from suppression.errors import Unauthenticated
from suppression.web import ratelimit

bp = api_blueprint("metrics", __name__, "ops", url_prefix="", bearer=False)

CHECKS = Counter("suppression_checks", "Addresses checked, by decision (send, suppressed, invalid); per process "
                 "unless PROMETHEUS_MULTIPROC_DIR is set", ["result"], registry=None)
_SEND, _SUPPRESSED, _INVALID = (CHECKS.labels(result) for result in ("send", "suppressed", "invalid"))
_REASON = itemgetter("reason")


def count_checks(decisions: list[dict]) -> None:
    """Count a batch of check decisions: three increments, whatever the batch's size."""
    reasons = list(map(_REASON, decisions))  # loops in C: under 1 ms for 10,000
    send, invalid = reasons.count(None), reasons.count("invalid_address")
    _SEND.inc(send)
    _INVALID.inc(invalid)
    _SUPPRESSED.inc(len(reasons) - send - invalid)


def init_app(app: Flask) -> None:
    """The registry /metrics reads: the database's and Redis's figures, and the checks counted
    by this process, or with PROMETHEUS_MULTIPROC_DIR by every process."""
    registry = CollectorRegistry(auto_describe=False)
    # Not a setting of the app's: prometheus_client reads it from the environment when imported.
    shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared_dir:
        if not os.path.isdir(shared_dir):
            raise SettingsError(f"PROMETHEUS_MULTIPROC_DIR must be a directory, not {shared_dir!r}")
        MultiProcessCollector(registry, path=shared_dir)
    else:
        registry.register(CHECKS)
    registry.register(ServiceCollector(app.config["REDIS_URL"], app.config["METRICS_CACHE_SECONDS"],
                                       app.config["SWEEP_AFTER_SECONDS"]))
    app.extensions["metrics"] = registry


@bp.get("/metrics", responses={200: text_response("text/plain", "Prometheus's text format")})
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
