"""Which seeds an account must add to a campaign.

Chosen by rendezvous hashing: each active seed gets a score from (account, campaign, seed), and
the highest scores win. The choice is stable (asked again, the same seeds, and stored, so a seed
added later does not change a campaign already handed out), differs from campaign to campaign
(the rotation), and does not depend on the order seeds were made. Trap seeds are never handed
out, nor an opt-out seed that has opted out of this account already: mailing it would then be
a violation the service itself asked for.
"""
from __future__ import annotations

import hashlib
import re

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from suppression.db import db
from suppression.errors import Invalid
from suppression.models import Seed, SeedAssignment, SeedKind, SeedOptOut, SeedStatus

# Printable ASCII, no space at either end: it travels in a mail header, and is compared as is.
CAMPAIGN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?")


def checked_campaign(campaign: str | None) -> str:
    """The campaign id, or Invalid: 1 to 200 printable ASCII characters."""
    value = campaign or ""
    if not CAMPAIGN.fullmatch(value):
        raise Invalid("campaign: 1 to 200 printable ASCII characters (it goes in a mail header)",
                      code="invalid_campaign", field="campaign")
    return value


def for_campaign(account_id: int, campaign: str) -> list[Seed]:
    """The active seeds the account must add to `campaign`, chosen once and then the same."""
    stored = _stored(account_id, campaign)
    if stored is None:
        stored = _choose(account_id, campaign)
        try:
            with db.session.begin_nested():
                db.session.add_all(SeedAssignment(account_id=account_id, campaign=campaign, seed_id=seed.id)
                                   for seed in stored)
        except IntegrityError:  # the same request at once: it chose the same seeds
            stored = _stored(account_id, campaign) or []
    return [seed for seed in stored if seed.status == SeedStatus.active]


def _stored(account_id: int, campaign: str) -> list[Seed] | None:
    rows = list(db.session.scalars(select(Seed).join(SeedAssignment, SeedAssignment.seed_id == Seed.id)
                                   .where(SeedAssignment.account_id == account_id,
                                          SeedAssignment.campaign == campaign).order_by(Seed.id)))
    return rows or None


def _choose(account_id: int, campaign: str) -> list[Seed]:
    config = current_app.config
    monitors = _active(SeedKind.monitor)
    opted_out = set(db.session.scalars(select(SeedOptOut.seed_id).where(SeedOptOut.account_id == account_id)))
    optouts = [seed for seed in _active(SeedKind.optout) if seed.id not in opted_out]
    chosen = (_top(monitors, account_id, campaign, config["SEEDS_PER_CAMPAIGN"])
              + _top(optouts, account_id, campaign, config["OPTOUT_SEEDS_PER_CAMPAIGN"]))
    return sorted(chosen, key=lambda seed: seed.id)


def _active(kind: SeedKind) -> list[Seed]:
    return list(db.session.scalars(select(Seed).where(Seed.kind == kind, Seed.status == SeedStatus.active)))


def _top(seeds: list[Seed], account_id: int, campaign: str, count: int) -> list[Seed]:
    return sorted(seeds, key=lambda seed: _score(account_id, campaign, seed.id), reverse=True)[:count]


def _score(account_id: int, campaign: str, seed_id: int) -> bytes:
    return hashlib.sha256(f"{account_id}\x00{campaign}\x00{seed_id}".encode()).digest()
