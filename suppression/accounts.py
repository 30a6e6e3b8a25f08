"""The only writer of accounts, their status and their API keys."""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import update

from suppression import audit
from suppression.db import MAX_SMALL_ID, db, driver_rows, utcnow
from suppression.errors import Conflict, Invalid, NotFound
from suppression.models import Account, AccountDomain, AccountStatus, ApiKey, Role

KEY_PREFIX = "sk_"
MAX_RECENT_CALLERS = 10_000


def digest(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def get(account_id: int) -> Account:
    """The account, or NotFound."""
    account = db.session.get(Account, account_id) if 0 < account_id <= MAX_SMALL_ID else None
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def create(name: str, domains: list[str], actor: str, postal_address: str | None = None) -> Account:
    """A new active account with its sending domains."""
    name = (name or "").strip()
    if not 0 < len(name) <= 200:
        raise Invalid("an account needs a name of at most 200 characters", code="invalid_name", field="name")
    account = Account(name=name, postal_address=postal_address)
    for domain in sorted({_domain(d) for d in domains}):
        if db.session.get(AccountDomain, domain) is not None:
            raise Conflict(f"the domain {domain} already belongs to an account", code="domain_taken")
        account.domains.append(AccountDomain(domain=domain))
    db.session.add(account)
    db.session.flush()
    audit.record(actor, "account.create", f"account:{account.id}", account_id=account.id,
                 details={"name": name, "domains": [d.domain for d in account.domains]})
    return account


def suspend(account: Account, reason: str, actor: str) -> Account:
    """Stop all sending for the account at once."""
    reason = _reason(reason)
    _change_status(account, AccountStatus.active, AccountStatus.suspended, suspension_reason=reason,
                   suspended_at=utcnow(), conflict=Conflict("the account is already suspended",
                                                             code="already_suspended"))
    audit.record(actor, "account.suspend", f"account:{account.id}", account_id=account.id, reason=reason)
    forget_callers()
    return account


def reinstate(account: Account, reason: str, actor: str) -> Account:
    """Let a suspended account send again."""
    reason = _reason(reason)
    _change_status(account, AccountStatus.suspended, AccountStatus.active, suspension_reason=None,
                   suspended_at=None, conflict=Conflict("the account is not suspended", code="not_suspended"))
    audit.record(actor, "account.reinstate", f"account:{account.id}", account_id=account.id, reason=reason)
    forget_callers()
    return account


def _change_status(account: Account, old: AccountStatus, new: AccountStatus, *, conflict: Conflict,
                   **values) -> None:
    # Compare-and-set in one UPDATE: of two simultaneous suspensions exactly one wins, on
    # PostgreSQL and SQLite alike.
    changed = db.session.execute(
        update(Account).where(Account.id == account.id, Account.status == old).values(status=new, **values)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(account)
    if not changed:
        raise conflict


def create_key(role: Role, actor: str, account_id: int | None = None, name: str | None = None) -> tuple[ApiKey, str]:
    """A new API key and its secret, which is shown this once and stored only as a digest."""
    if role == Role.sender and account_id is None:
        raise Invalid("a sender key belongs to one account: give --account")
    if role != Role.sender and account_id is not None:
        raise Invalid(f"a {role.value} key belongs to no account")
    if account_id is not None:
        get(account_id)
    if name is not None and len(name) > 200:
        raise Invalid("a key name has at most 200 characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(digest=digest(secret), prefix=secret[:10], role=role, account_id=account_id, name=name)
    db.session.add(key)
    db.session.flush()
    audit.record(actor, "key.create", f"key:{key.id}", account_id=account_id, details={"role": role.value})
    return key, secret


def revoke_key(key_id: int, actor: str) -> ApiKey:
    """Revoke a key; it stops working on this process's next request, and on every process
    within AUTH_CACHE_SECONDS."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(actor, "key.revoke", f"key:{key.id}", account_id=key.account_id)
    forget_callers()
    return key


@dataclass(frozen=True)
class Caller:
    """Who is calling: a live key, its role, and for a sender its account's state."""

    key_id: int
    role: Role
    account_id: int | None
    account_suspended: bool


_CALLER = ("SELECT k.id, k.role, k.account_id, a.status FROM api_keys k "
           "LEFT JOIN accounts a ON a.id = k.account_id WHERE k.digest = ? AND k.revoked_at IS NULL")


def authenticate(secret: str) -> Caller | None:
    """The caller holding `secret`, or None for an unknown or revoked key. It runs before
    every API call: one indexed query on the driver, and a live key found in the last
    AUTH_CACHE_SECONDS costs no query at all."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 100:
        return None
    key_digest = digest(secret)
    recent = _recent_callers()
    found = recent.get(key_digest)
    now = time.monotonic()
    if found is not None and found[0] > now:
        return found[1]
    rows = driver_rows(_CALLER, (key_digest,))
    if not rows:
        recent.pop(key_digest, None)
        return None
    key_id, role, account_id, status = rows[0]
    caller = Caller(key_id, Role(role), account_id, status == AccountStatus.suspended.value)
    if current_app.config["AUTH_CACHE_SECONDS"] > 0:
        if len(recent) >= MAX_RECENT_CALLERS:
            recent.clear()
        recent[key_digest] = (now + current_app.config["AUTH_CACHE_SECONDS"], caller)
    return caller


def forget_callers() -> None:
    """Drop this process's remembered callers: a revocation or a suspension applies at once here
    (other processes forget within AUTH_CACHE_SECONDS)."""
    _recent_callers().clear()


def _recent_callers() -> dict[str, tuple[float, Caller]]:
    # Per app: tests build apps on two databases in one process. Only live keys are kept, so
    # guessing keys cannot fill it; a plain dict, whose single operations are thread-safe.
    return current_app.extensions.setdefault("recent_callers", {})


def _domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii").encode("ascii").decode("idna")
    except UnicodeError:
        raise Invalid(f"not a domain name: {value!r}", code="invalid_domain", field="domains") from None
    if "." not in domain or len(domain) > 253 or any(c.isspace() or c in "@/" for c in domain):
        raise Invalid(f"not a domain name: {value!r}", code="invalid_domain", field="domains")
    return domain


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a reason is required", code="reason_required", field="reason")
    return reason
