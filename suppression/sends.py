"""The only writer of send reports: the volume senders report, counted once per Idempotency-Key
into the daily `sends` counter (the denominator of every AUP rate)."""
from __future__ import annotations

import hashlib
from datetime import date, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from suppression import counters
from suppression.db import db, utcnow
from suppression.errors import Conflict, Invalid
from suppression.models import SendReport

MAX_COUNT = 10_000_000  # sends in one report
OLDEST_DAYS = 31  # a report may be for a day this far back (every AUP window, and the console's charts)


def report(account_id: int, key: str, count: int, day: date | None = None,
           campaign: str | None = None) -> tuple[SendReport, bool]:
    """Count `count` sends on `day` (default today, UTC) for the account, once per `key`: the
    report and True, or for a key seen before with the same report, that one and False.
    Conflict when the key was used for another report."""
    digest = _digest(count, day, campaign)
    found = _existing(account_id, key)
    if found is not None:
        return _replayed(found, digest), False
    day = _checked_day(day)
    row = SendReport(account_id=account_id, idempotency_key=key, digest=digest, count=count, day=day,
                     campaign=campaign)
    try:
        with db.session.begin_nested():  # two deliveries of one report at once: the second finds the first
            db.session.add(row)
    except IntegrityError:
        return _replayed(_existing(account_id, key), digest), False
    counters.bump(account_id, "sends", count, day)
    return row, True


def _existing(account_id: int, key: str) -> SendReport | None:
    return db.session.scalar(select(SendReport).where(SendReport.account_id == account_id,
                                                      SendReport.idempotency_key == key))


def _replayed(found: SendReport, digest: str) -> SendReport:
    if found.digest != digest:
        raise Conflict("this Idempotency-Key was used for another report; use a new key for new sends",
                       code="idempotency_key_reused", details={"report_id": found.id})
    return found


def _checked_day(day: date | None) -> date:
    today = utcnow().date()
    if day is None:
        return today
    if day > today + timedelta(days=1):  # a sender a time zone ahead may be on tomorrow already
        raise Invalid("day is in the future", code="invalid_day", details=[{"field": "day", "problem": "future"}])
    if day < today - timedelta(days=OLDEST_DAYS):
        raise Invalid(f"day is more than {OLDEST_DAYS} days ago", code="invalid_day",
                      details=[{"field": "day", "problem": "too old"}])
    return day


def _digest(count: int, day: date | None, campaign: str | None) -> str:
    # The report as sent (day as given, not as defaulted): its retry tomorrow is still the same report.
    canonical = orjson.dumps({"count": count, "day": day.isoformat() if day else None, "campaign": campaign})
    return hashlib.sha256(canonical).hexdigest()
