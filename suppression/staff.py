"""The only writer of staff users: who may use the console, and how they prove it."""
from __future__ import annotations

import functools
import time

import pyotp
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from suppression import addresses, audit
from suppression.db import db, utcnow
from suppression.errors import Conflict, Invalid, NotFound
from suppression.models import StaffRole, StaffUser

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # a hash of a megabyte "password" is a denial of service, not a login
ISSUER = "Suppression console"
# Checked against when the address is unknown, so that a wrong address takes as long as a
# wrong password and the time of an answer does not tell which addresses are staff.
# Made on first use, not at import: a hash costs a tenth of a second of every start-up.
@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not a password of anyone")


def actor(user: StaffUser) -> str:
    """How the audit log and alerts name what this person did."""
    return f"staff:{user.email}"


def create(email: str, password: str, role: StaffRole, actor_name: str, *, totp: bool = False) -> StaffUser:
    """A new staff user; with `totp`, a second-factor secret to enrol in an authenticator app."""
    email = _email(email)
    if db.session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise Conflict(f"a staff user {email} exists already", code="staff_exists")
    user = StaffUser(email=email, role=role, password_hash=_hash(password),
                     totp_secret=pyotp.random_base32() if totp else None, active=True)
    db.session.add(user)
    db.session.flush()
    audit.record(actor_name, "staff.create", f"staff:{user.id}", details={"role": role.value, "totp": totp})
    return user


def totp_uri(user: StaffUser) -> str | None:
    """The otpauth:// URI an authenticator app enrols from (None without a second factor)."""
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER) if user.totp_secret else None


def find(email: str) -> StaffUser:
    """The staff user with this address, or NotFound."""
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no staff user {email}")
    return user


def active_user(user_id: int | None) -> StaffUser | None:
    """The active staff user of a session, or None (deleted or disabled since)."""
    user = db.session.get(StaffUser, user_id) if user_id is not None else None
    return user if user is not None and user.active else None


def authenticate(email: str, password: str, code: str | None) -> StaffUser | None:
    """The active staff user these credentials prove, or None, whichever part was wrong."""
    dummy = _dummy_hash()  # before the look-up, so that only the first login of a process pays for it
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == (email or "").strip().lower()))
    password = (password or "")[:MAX_PASSWORD]
    if user is None:
        check_password_hash(dummy, password)
        return None
    if not (check_password_hash(user.password_hash, password) and user.active and _second_factor(user, code)):
        return None
    user.last_login_at = utcnow()
    audit.record(actor(user), "staff.login", f"staff:{user.id}")
    return user


def _second_factor(user: StaffUser, code: str | None) -> bool:
    if user.totp_secret is None:
        return True
    totp, now = pyotp.TOTP(user.totp_secret), time.time()
    code = (code or "").replace(" ", "")
    # This step or the one before (a code typed as it changes), each accepted once.
    for step in (int(now // totp.interval), int(now // totp.interval) - 1):
        if step > (user.totp_last_step or -1) and totp.verify(code, for_time=step * totp.interval):
            user.totp_last_step = step
            return True
    return False


def set_password(user: StaffUser, password: str, actor_name: str) -> None:
    """Replace the user's password."""
    user.password_hash = _hash(password)
    audit.record(actor_name, "staff.password", f"staff:{user.id}")


def set_active(user: StaffUser, active: bool, actor_name: str) -> None:
    """Let the user log in, or not; a disabled user's open sessions end at their next request."""
    user.active = active
    audit.record(actor_name, "staff.enable" if active else "staff.disable", f"staff:{user.id}")


def listing() -> list[StaffUser]:
    """Every staff user, by address."""
    return list(db.session.scalars(select(StaffUser).order_by(func.lower(StaffUser.email))))


def _email(value: str) -> str:
    normalized = addresses.normalize(value or "")
    if normalized is None:
        raise Invalid(f"{value!r} is not an email address", code="invalid_address")
    return normalized


def _hash(password: str) -> str:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise Invalid(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters", code="weak_password")
    return generate_password_hash(password)  # scrypt, Werkzeug's default
