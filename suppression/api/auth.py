"""Who may call an API view, checked before the body is read.

A view declares its callers (`requires`, or `public` for one that verifies its caller another
way) and, for the hot read paths, `read_only`; `before_view` (a hook of every API blueprint)
acts on the declarations before flask-openapi3 validates the body, so a request without a
valid key is a 401 whatever it carries.
"""
from __future__ import annotations

from flask import current_app, g, request

from suppression import accounts
from suppression.accounts import Caller
from suppression.db import autocommit
from suppression.errors import Forbidden, Unauthenticated
from suppression.models import Role
from suppression.web import ratelimit


def requires(*roles: Role):
    """Let only a live key of one of `roles` call the view; sets g.caller."""
    def declare(view):
        view.required_roles = frozenset(roles)
        return view
    return declare


def public(view):
    """The view takes no API key (a provider's webhook checks the provider's signature)."""
    view.required_roles = frozenset()
    return view


def read_only(view):
    """The view only reads: it runs without a transaction, since on the hot path BEGIN and
    ROLLBACK are two of the four database round trips."""
    view.read_only = True
    return view


def before_view() -> None:
    """Act on the view's declarations: the database mode first, then the caller's key."""
    view = current_app.view_functions[request.endpoint]
    if getattr(view, "read_only", False):
        autocommit()
    roles = view.required_roles
    if not roles:
        return
    found = _caller_from_header()
    if found.role not in roles:
        raise Forbidden(f"this endpoint is for {' or '.join(sorted(r.value for r in roles))} keys")
    g.caller = found


def undeclared(app, blueprint_names: set[str]) -> list[str]:
    """Endpoints of these blueprints that declare no callers (a start-up check)."""
    return [endpoint for endpoint, view in app.view_functions.items()
            if endpoint.partition(".")[0] in blueprint_names and not hasattr(view, "required_roles")]


def caller() -> Caller:
    """The caller of this request."""
    return g.caller


def actor() -> str:
    """How the audit log names the caller."""
    return f"key:{g.caller.key_id}"


def _caller_from_header() -> Caller:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        ratelimit.count_failure("auth", "AUTH_FAILURE_LIMIT")
        raise Unauthenticated("send your API key as 'Authorization: Bearer <key>'")
    found = accounts.authenticate(secret.strip())
    if found is None:
        ratelimit.count_failure("auth", "AUTH_FAILURE_LIMIT")
        raise Unauthenticated("unknown or revoked API key")
    return found
