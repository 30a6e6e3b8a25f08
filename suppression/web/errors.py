"""Errors as each surface shows them. A surface installs its renderer on its own blueprints
(the API: the JSON error object; the recipient pages: a plain page). A request that matched
no route has no blueprint: the surface mounted where its path points answers it, and
elsewhere the client's Accept header picks JSON or a plain page."""
from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from suppression.db import DRIVER_ERRORS, db, end_failed_session
from suppression.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Unauthenticated,
)

log = logging.getLogger(__name__)

# status, code, message, details -> the response
Renderer = Callable[[int, str, str, object], Response]
_RENDERERS: dict[str, Renderer] = {}  # blueprint name -> its renderer (blueprints are module-level)

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "invalid", 429: "rate_limited", 503: "unavailable"}


RETRY_AFTER_SECONDS = 5  # a restart or failover is over by then, or the client asks again

# What each kind of domain error means to an HTTP client. Errors of the web layer itself (a rate
# limit, an upload type) say so with their own `http_status`.
STATUS_OF = {Invalid: 422, NotFound: 404, Forbidden: 403, Conflict: 409, Unauthenticated: 401, TooLarge: 413}


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error: its own, else its kind's, else 400."""
    return getattr(exc, "http_status", None) or next(
        (STATUS_OF[kind] for kind in type(exc).__mro__ if kind in STATUS_OF), 400)


def json_error(status: int, code: str, message: str, details: object = None) -> Response:
    """The API's error object: {"error": {"code", "message", "details"}}."""
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def plain_page(status: int, code: str, message: str, details: object = None) -> Response:
    """A page that says what went wrong and nothing more (no template: it must always work)."""
    body = (f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{status}</title>'
            f"<p>{escape(message)}</p></html>")
    return Response(body, status, mimetype="text/html")


def install(scope: Blueprint | Flask, render: Renderer) -> None:
    """Show every error raised in `scope`'s requests through `render`; never a stack trace."""
    if isinstance(scope, Blueprint):
        _RENDERERS[scope.name] = render

    @scope.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return _retry_after(render(status_of(exc), exc.code, exc.message, exc.details), exc)

    @scope.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return _retry_after(render(status, HTTP_CODES.get(status, "error"), exc.description or exc.name, None), exc)

    @scope.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        # A race the domain checks could not see (two creates of one domain at once).
        db.session.rollback()
        return render(409, "conflict", "that conflicts with existing data; reload and retry", None)

    def database_unavailable(exc: Exception):
        # The server dropped or refused the connection (a restart, a failover), or psycopg said so
        # on a hot path that uses it directly: nothing the client did, and worth asking again.
        end_failed_session()
        log.warning("database unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
        response = render(503, "unavailable", "the database is unavailable; retry shortly", None)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for kind in (OperationalError, *DRIVER_ERRORS):
        scope.register_error_handler(kind, database_unavailable)

    @scope.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError):
        return database_unavailable(exc) if exc.connection_invalidated else unexpected(exc)

    @scope.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render(500, "internal_error", "something went wrong on our side; it has been logged", None)


def _retry_after(response: Response, exc: Exception) -> Response:
    """A 429 or 503 says when to ask again: the limit's window (or what is left of it), or a
    few seconds."""
    if response.status_code in (429, 503) and "Retry-After" not in response.headers:
        seconds = getattr(exc, "retry_after", None)
        if seconds is None and getattr(exc, "limit", None) is not None:  # Flask-Limiter's own 429
            seconds = exc.limit.limit.get_expiry()
        response.headers["Retry-After"] = str(max(1, int(seconds or RETRY_AFTER_SECONDS)))
    return response


def install_fallback(app: Flask) -> None:
    """Errors outside every blueprint (no route matched): as the surface mounted at the path
    shows them, else JSON, or a plain page for a browser."""
    install(app, _unrouted)


def _unrouted(status: int, code: str, message: str, details: object = None) -> Response:
    return _surface_at(request.path)(status, code, message, details)


def _surface_at(path: str) -> Renderer:
    mounted = [(bp.url_prefix, _RENDERERS[name]) for name, bp in current_app.blueprints.items()
               if bp.url_prefix and name in _RENDERERS and (path + "/").startswith(bp.url_prefix.rstrip("/") + "/")]
    if mounted:
        return max(mounted, key=lambda found: len(found[0]))[1]
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return plain_page
    return json_error
