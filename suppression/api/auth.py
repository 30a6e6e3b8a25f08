"""Bearer API keys: who is calling, and may they call this."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from suppression import accounts, ratelimit
from suppression.accounts import Caller
from suppression.errors import DomainError, Forbidden
from suppression.models import Role


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


def requires(*roles: Role):
    """Let the view run only for a live key of one of `roles`; sets g.caller."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            caller = _caller_from_header()
            if caller.role not in roles:
                raise Forbidden(f"this endpoint is for {' or '.join(r.value for r in roles)} keys")
            g.caller = caller
            return view(*args, **kwargs)
        return wrapper
    return decorator


def caller() -> Caller:
    """The caller of this request (set by `requires`)."""
    return g.caller


def actor() -> str:
    """How the audit log names the caller."""
    return f"key:{g.caller.key_id}"


def _caller_from_header() -> Caller:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        ratelimit.count_failure("auth", "AUTH_FAILURE_LIMIT")
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    found = accounts.authenticate(secret.strip())
    if found is None:
        ratelimit.count_failure("auth", "AUTH_FAILURE_LIMIT")
        raise Unauthorized("unknown or revoked API key")
    return found
