"""Domain exceptions. The API maps them to the JSON error object in one place (api/errors.py)."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: object = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details


class Invalid(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class AccountSuspended(Forbidden):
    code = "account_suspended"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthorized"


class TooLarge(DomainError):
    status = 413
    code = "payload_too_large"
