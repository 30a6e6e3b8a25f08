"""Bearer API keys: who is calling, and may they call this."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from suppression import accounts
from suppression.errors import DomainError, Forbidden
from suppression.models import Account, ApiKey, Role


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


def requires(*roles: Role):
    """Let the view run only for a live key of one of `roles`; sets g.key."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = _key_from_header()
            if key.role not in roles:
                raise Forbidden(f"this endpoint is for {' or '.join(r.value for r in roles)} keys")
            g.key = key
            return view(*args, **kwargs)
        return wrapper
    return decorator


def actor() -> str:
    """How the audit log names the caller."""
    return f"key:{g.key.id}"


def sender_account() -> Account:
    """The account a sender key acts for."""
    return g.key.account


def _key_from_header() -> ApiKey:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    key = accounts.authenticate(secret.strip())
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return key
