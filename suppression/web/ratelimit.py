"""Rate limits (Flask-Limiter), per client address: Redis when configured, memory otherwise.

Storage trouble never refuses a request: a recipient's opt-out must go through when Redis is
down, so errors are swallowed and limits fall back to memory.
"""
from __future__ import annotations

import logging
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

from suppression.errors import DomainError

log = logging.getLogger(__name__)
_KEY = "suppression_limiter"
_HOOKS = "suppression_limiter_hooks"
_LIMITED = "suppression_limited_blueprints"  # blueprint name -> exempt_when
# Flask keeps request hooks per scope: None for every request, else a blueprint's name.
_HOOK_TABLES = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


class TooManyAttempts(DomainError):
    http_status = 429
    code = "rate_limited"


def init_app(app: Flask) -> Limiter:
    """The app's limiter (one per app: Flask-Limiter keeps its storage on the instance)."""
    options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if app.config["REDIS_URL"] else {}
    limiter = Limiter(key_func=get_remote_address, swallow_errors=True, in_memory_fallback_enabled=True,
                      storage_uri=app.config["REDIS_URL"] or "memory://", storage_options=options,
                      key_prefix="suppression")
    installed = {table: list(getattr(app, table).get(None, ())) for table in _HOOK_TABLES}
    limiter.init_app(app)
    # Flask-Limiter hooks into every request; only the blueprints given to `limit_blueprint` are
    # limited, so its hooks move there and the API's hot path never runs them.
    app.extensions[_HOOKS] = {table: _take_new(getattr(app, table), installed[table]) for table in _HOOK_TABLES}
    app.extensions[_KEY] = limiter
    app.extensions[_LIMITED] = limited = {}
    # One filter for every limited blueprint: Flask-Limiter exempts a request when any filter says
    # so, so a filter per blueprint would exempt each blueprint's requests through the others'.
    limiter.request_filter(lambda: request.blueprint not in limited or limited[request.blueprint]())
    return limiter


def _take_new(hooks: dict, before: list) -> list:
    added = [f for f in hooks.get(None, ()) if f not in before]
    hooks[None] = before
    return added


def limiter_of(app: Flask | None = None) -> Limiter:
    """The limiter of `app` (default: the current app)."""
    return (app or current_app).extensions[_KEY]


def limit_blueprint(app: Flask, blueprint, limit_name: str, exempt_when=lambda: False) -> None:
    """Apply the limit named `limit_name` in the settings to the views of `blueprint`, except
    requests for which `exempt_when()` is true. Requests to blueprints no one limits skip the
    limiter altogether."""
    limited = app.extensions[_LIMITED]
    if blueprint.name in limited:
        raise ValueError(f"the blueprint {blueprint.name} is limited already")
    limited[blueprint.name] = exempt_when
    limiter_of(app).limit(lambda: setting(limit_name))(blueprint)
    for table, hooks in app.extensions[_HOOKS].items():
        getattr(app, table).setdefault(blueprint.name, []).extend(hooks)


def setting(name: str) -> str:
    """A limit from the app's settings, read per request so tests and operators can change it."""
    return str(current_app.config[name])


def refuse_when_spent(kind: str, limit_name: str) -> None:
    """TooManyAttempts while this client's failures of `kind` have spent the limit named
    `limit_name`, without counting this attempt: where a right answer must wait too (a login)."""
    try:
        spent = not limiter_of().limiter.test(parse(setting(limit_name)), kind, get_remote_address())
    except Exception as exc:  # the limiter's storage is down: let the request be answered
        log.warning("rate limit storage unavailable: %s", type(exc).__name__)
        return
    if spent:
        raise _too_many(parse(setting(limit_name)), kind, "too many failed attempts from your address; wait a while "
                                                             "and retry")


def count_failure(kind: str, limit_name: str) -> None:
    """Count one failure of `kind` (a bad API key, a bad token) from this client; TooManyAttempts
    once the limit named `limit_name` is spent. Only failures are counted, so successful requests
    never wait on the limiter's storage."""
    limit = parse(setting(limit_name))
    try:
        allowed = limiter_of().limiter.hit(limit, kind, get_remote_address())
    except Exception as exc:  # the limiter's storage is down: let the request be answered
        log.warning("rate limit storage unavailable: %s", type(exc).__name__)
        return
    if not allowed:
        raise _too_many(limit, kind, "too many failed attempts from your address; wait a minute and retry")


def _too_many(limit, kind: str, message: str) -> TooManyAttempts:
    """TooManyAttempts, saying in how many seconds the window that was spent ends."""
    found = TooManyAttempts(message)
    try:
        reset_at, _ = limiter_of().limiter.get_window_stats(limit, kind, get_remote_address())
        found.retry_after = max(1, int(reset_at - time.time()) + 1)
    except Exception:  # noqa: BLE001 - the storage just answered; if not now, the window's length will do
        found.retry_after = limit.get_expiry()
    return found
