"""Liveness and readiness for load balancers and orchestrators."""
from __future__ import annotations

from typing import Literal

from flask import current_app
from pydantic import BaseModel, Field
from sqlalchemy import text

from suppression.api.auth import public
from suppression.api.blueprint import api_blueprint
from suppression.db import db

bp = api_blueprint("ops", __name__, "ops", url_prefix="", bearer=False)


class Health(BaseModel):
    status: Literal["ok"]


class Checks(BaseModel):
    database: str = Field(description="ok, or error: and what failed")
    redis: str = Field(None, description="ok, or error: and what failed; absent without REDIS_URL")


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: Checks


@bp.get("/healthz", responses={200: Health})
@public
def healthz():
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz", responses={200: Readiness, 503: Readiness})
@public
def readyz():
    """The database (and Redis, when configured) answer; 503 naming what does not."""
    checks = {"database": _probe(lambda: db.session.execute(text("SELECT 1")))}
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _probe(_ping_redis)
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _probe(call) -> str:
    try:
        call()
        return "ok"
    except Exception as exc:  # readiness reports any failure, it never raises
        db.session.rollback()
        return f"error: {type(exc).__name__}"


def _ping_redis() -> None:
    from redis import Redis
    client = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
