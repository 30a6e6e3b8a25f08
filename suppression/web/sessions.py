"""Cookie sessions only on the surfaces whose users log in: the staff console.

The API authenticates each call by its key and the recipient pages must set no cookie (RFC
8058), so their requests get Flask's null session: no cookie is read or written, and a view
that tries to store something in it fails loudly. It also saves building the cookie signer on
every request, a sixth of the CPU of a one-click unsubscribe.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class SessionsWhereUsersLogIn(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, for the requests of the given blueprints alone."""

    def __init__(self, blueprints: frozenset[str] = frozenset()):
        self.blueprints = blueprints

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not self._mounted_at(app, request.path):
            return None  # Flask then gives the request a null session
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure wherever the console is reached over https (behind a proxy too, with
        # TRUSTED_PROXIES), so that the cookie never travels in clear after that.
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def _mounted_at(self, app: Flask, path: str) -> bool:
        # Flask opens the session before it matches the URL, so the blueprint is known by where
        # it is mounted, not yet by the request.
        prefixes = [app.blueprints[name].url_prefix for name in self.blueprints if name in app.blueprints]
        return any(prefix and (path + "/").startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


def init_app(app: Flask, blueprints: frozenset[str] = frozenset(), path: str = "/",
             hours: int = 12) -> None:
    """Sessions for `blueprints` only, their cookie sent only under `path`, ending `hours` after
    the last request (the signature's age is checked on the server, whatever the browser keeps)."""
    app.session_interface = SessionsWhereUsersLogIn(blueprints)
    app.config.update(SESSION_COOKIE_NAME="console_session", SESSION_COOKIE_PATH=path,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=hours))
