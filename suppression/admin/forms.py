"""Reading the console's query strings and forms: a bad value is a clear 400 page, never a guess."""
from __future__ import annotations

from flask import request

from suppression.errors import Invalid
from suppression.web.converters import MAX_ID

MAX_NOTE = 2000


def choice(name: str, allowed: dict[str, object], default: str = "") -> object:
    """The value that `allowed` maps the query parameter `name` to (default when absent)."""
    raw = request.args.get(name, default)
    if raw not in allowed:
        raise Invalid(f"{name} must be one of: {', '.join(k or '(any)' for k in allowed)}")
    return allowed[raw]


def whole(name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
    """A whole-number query parameter, or `default` when absent or empty."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= MAX_ID:
        raise Invalid(f"{name} must be a whole number of at least {minimum}")
    return int(raw)


def note(required: bool = True) -> str | None:
    """The form's note (why the change), at most MAX_NOTE characters."""
    text = (request.form.get("note") or "").strip()
    if len(text) > MAX_NOTE:
        raise Invalid(f"a note has at most {MAX_NOTE} characters")
    if required and not text:
        raise Invalid("say why in the note: it goes into the audit trail")
    return text or None


def text(name: str, limit: int = 320) -> str:
    """A free-text query parameter, trimmed (at most `limit` characters)."""
    value = request.args.get(name, "").strip()
    if len(value) > limit:
        raise Invalid(f"{name} has at most {limit} characters")
    return value
