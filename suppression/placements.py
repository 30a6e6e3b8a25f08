"""Inbox placement: where the seeds a campaign carried found its message (inbox, spam, another
folder), which never got it (missing), and the figures the reports and the AUP rule read.

A seed's outcome for a campaign is the placement of the first message from that account and
campaign found in its mailbox; a message that arrived another way (by the inbound path, with
no folder to tell) is `other`; none by `deadline_hours` after the assignment is `missing`, and
before that `pending` (not counted in any rate)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from suppression.db import db, utcnow
from suppression.models import Placement, Seed, SeedAssignment, SeedMessage

PLACES = ("inbox", "spam", "other")
OUTCOMES = (*PLACES, "missing")


def record(event_id: int, seed_id: int, folder: str, placement: str) -> None:
    """Keep where a message read from a seed's mailbox was found (in the caller's transaction)."""
    if placement not in PLACES:
        raise ValueError(f"placement is one of {PLACES}, not {placement!r}")
    db.session.add(Placement(event_id=event_id, seed_id=seed_id, folder=folder[:200], placement=placement))


@dataclass(frozen=True)
class SeedOutcome:
    account_id: int
    campaign: str
    seed_id: int
    provider: str
    assigned_at: datetime
    outcome: str  # inbox, spam, other, missing, or pending


def outcomes(account_ids: list[int] | None, campaigns: list[str] | None, since: datetime | None,
             deadline_hours: int, now: datetime | None = None) -> list[SeedOutcome]:
    """Each assigned seed's outcome, for these accounts (None: all), campaigns and assignments since."""
    now = now or utcnow()
    message = and_(SeedMessage.seed_id == SeedAssignment.seed_id, SeedMessage.account_id == SeedAssignment.account_id,
                   SeedMessage.campaign == SeedAssignment.campaign)
    stmt = (select(SeedAssignment.account_id, SeedAssignment.campaign, SeedAssignment.seed_id, Seed.provider,
                   SeedAssignment.assigned_at, Placement.placement, Placement.found_at, SeedMessage.event_id)
            .join(Seed, Seed.id == SeedAssignment.seed_id)
            .outerjoin(SeedMessage, message).outerjoin(Placement, Placement.event_id == SeedMessage.event_id))
    if account_ids is not None:
        stmt = stmt.where(SeedAssignment.account_id.in_(account_ids))
    if campaigns is not None:
        stmt = stmt.where(SeedAssignment.campaign.in_(campaigns))
    if since is not None:
        stmt = stmt.where(SeedAssignment.assigned_at >= since)
    found: dict[tuple, list] = {}
    for account_id, campaign, seed_id, provider, assigned_at, placement, found_at, event_id in db.session.execute(stmt):
        found.setdefault((account_id, campaign, seed_id, provider, assigned_at), []).append(
            (found_at, placement, event_id))
    deadline = timedelta(hours=deadline_hours)
    return [SeedOutcome(*key, _outcome(seen, key[4], now, deadline)) for key, seen in found.items()]


def _outcome(seen: list, assigned_at: datetime, now: datetime, deadline: timedelta) -> str:
    placed = sorted((found_at, placement) for found_at, placement, _ in seen if placement is not None)
    if placed:
        return placed[0][1]
    if any(event_id is not None for _, _, event_id in seen):
        return "other"  # it arrived, but not through a mailbox that tells its folder
    return "missing" if now >= assigned_at + deadline else "pending"


def tally(found: list[SeedOutcome]) -> dict:
    """Counts of each outcome and the rates over the decided ones (pending left out)."""
    counts = Counter(o.outcome for o in found)
    decided = sum(counts[o] for o in OUTCOMES)
    return {"seeds": len(found), **{o: counts[o] for o in (*OUTCOMES, "pending")},
            **{f"{o}_rate": round(counts[o] / decided, 4) if decided else None for o in OUTCOMES}}


def report(account_id: int, campaign: str, deadline_hours: int) -> dict:
    """One campaign's placement, overall and per mailbox provider."""
    found = outcomes([account_id], [campaign], None, deadline_hours)
    providers = sorted({o.provider for o in found})
    return {"campaign": campaign, "overall": tally(found),
            "providers": {p: tally([o for o in found if o.provider == p]) for p in providers}}


def trend(account_id: int, days: int, deadline_hours: int) -> list[dict]:
    """The account's placement per day of assignment over the last `days` days, oldest first."""
    since = utcnow() - timedelta(days=days)
    found = outcomes([account_id], None, since, deadline_hours)
    by_day: dict = {}
    for o in found:
        by_day.setdefault(o.assigned_at.date(), []).append(o)
    return [{"day": day.isoformat(), **tally(items)} for day, items in sorted(by_day.items())]


@dataclass(frozen=True)
class Sample:
    """What the placement rule reads for one account: its last campaigns' decided seeds."""

    campaigns: int
    seeds: int  # decided: inbox, spam, other or missing
    inbox: int


def samples(account_ids: list[int] | None, campaigns: int, deadline_hours: int, days: int = 30) -> dict[int, Sample]:
    """For each account with campaigns past their deadline in the last `days` days: its last
    `campaigns` such campaigns, as a Sample."""
    now = utcnow()
    cutoff = now - timedelta(hours=deadline_hours)
    stmt = (select(SeedAssignment.account_id, SeedAssignment.campaign, func.min(SeedAssignment.assigned_at))
            .where(SeedAssignment.assigned_at >= now - timedelta(days=days))
            .group_by(SeedAssignment.account_id, SeedAssignment.campaign)
            .having(func.min(SeedAssignment.assigned_at) <= cutoff))
    if account_ids is not None:
        stmt = stmt.where(SeedAssignment.account_id.in_(account_ids))
    latest: dict[int, list[tuple]] = {}
    for account_id, campaign, first in db.session.execute(stmt):
        latest.setdefault(account_id, []).append((first, campaign))
    chosen = {a: [c for _, c in sorted(found, reverse=True)[:campaigns]] for a, found in latest.items()}
    result = {}
    for account_id, names in chosen.items():
        found = [o for o in outcomes([account_id], names, None, deadline_hours, now) if o.outcome != "pending"]
        result[account_id] = Sample(len(names), len(found), sum(o.outcome == "inbox" for o in found))
    return result

