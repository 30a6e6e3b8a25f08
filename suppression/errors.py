"""Domain exceptions: what went wrong, in the domain's words. They carry no HTTP status; the web
layer says what each kind means to a client, in one place (web/errors.py)."""
from __future__ import annotations


class DomainError(Exception):
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: object = None, field: str | None = None):
        """`field`: the request's field at fault, named in the details when none are given."""
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details if details is not None or field is None else [{"field": field, "problem": message}]


class Invalid(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class AccountSuspended(Forbidden):
    code = "account_suspended"


class Unauthenticated(DomainError):
    code = "unauthorized"


class TooLarge(DomainError):
    code = "payload_too_large"
