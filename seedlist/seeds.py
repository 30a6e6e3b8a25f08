"""Seeds: create, list, retire, and find them among a message's recipients.

A seed is never shown with its mailbox's URL: `view` gives whether one is configured and its
host. Staff actions are audited (the audit log holds the seed's id, not the mailbox).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from seedlist import secrets
from suppression import audit
from suppression.addresses import normalize
from suppression.db import MAX_SMALL_ID, db, iso, keyset_page, utcnow
from suppression.errors import Conflict, Invalid, NotFound
from suppression.models import Seed, SeedKind, SeedStatus

PROVIDER = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
# How long a process trusts its list of active seed addresses when routing inbound mail: a seed
# made a moment ago may see its first message read as ordinary mail (kept, never lost).
ROUTING_CACHE_SECONDS = 10


@dataclass(frozen=True)
class NewSeed:
    address: str
    kind: str
    provider: str = "own"
    mailbox: str | None = None


def create(new: NewSeed, actor: str) -> Seed:
    """A new active seed; Invalid for a bad value, Conflict when the address is a seed already."""
    address = normalize(new.address)
    if address is None:
        raise Invalid("address: not a valid email address", code="invalid_address", field="address")
    kind = _kind(new.kind)
    provider = (new.provider or "own").strip().lower()
    if not PROVIDER.fullmatch(provider):
        raise Invalid("provider: a short label such as gmail, outlook, yahoo or own", code="invalid_provider", field="provider")
    seed = Seed(address=address, kind=kind, provider=provider, created_by=actor, status=SeedStatus.active)
    if new.mailbox:
        url = secrets.checked(new.mailbox)
        seed.mailbox_sealed, seed.mailbox_host = secrets.seal(url), secrets.host_of(url)
    try:
        with db.session.begin_nested():
            db.session.add(seed)
    except IntegrityError:
        raise Conflict("this address is a seed already", code="seed_exists") from None
    audit.record(actor, "seed.create", f"seed:{seed.id}", details={"kind": kind.value, "provider": provider})
    forget_routing()
    return seed


def _kind(value: str) -> SeedKind:
    try:
        return SeedKind(value)
    except ValueError:
        raise Invalid("kind: one of monitor, trap, optout", code="invalid_kind", field="kind") from None


def get(seed_id: int) -> Seed:
    seed = db.session.get(Seed, seed_id) if 0 < seed_id <= MAX_SMALL_ID else None
    if seed is None:
        raise NotFound(f"no seed {seed_id}")
    return seed


def retire(seed_id: int, actor: str, reason: str | None = None) -> Seed:
    """Stop using a seed: never handed out again, no longer protected; its history stays."""
    seed = get(seed_id)
    if seed.status == SeedStatus.retired:
        raise Conflict("the seed is retired already", code="seed_retired")
    seed.status, seed.retired_at = SeedStatus.retired, utcnow()
    audit.record(actor, "seed.retire", f"seed:{seed.id}", reason=reason)
    forget_routing()
    return seed


def query(kind: str | None = None, status: str | None = None, provider: str | None = None):
    stmt = select(Seed)
    if kind:
        stmt = stmt.where(Seed.kind == _kind(kind))
    if status:
        stmt = stmt.where(Seed.status == SeedStatus(status))
    if provider:
        stmt = stmt.where(Seed.provider == provider.lower())
    return stmt


def page(stmt, limit: int, before: int | None) -> tuple[list[Seed], int | None]:
    """One page of seeds, newest first, and the cursor of the next."""
    return keyset_page(stmt, Seed.id, limit, before)


def view(seed: Seed) -> dict:
    """A seed as staff see it: never its mailbox's URL."""
    return {"id": seed.id, "address": seed.address, "kind": seed.kind.value, "provider": seed.provider,
            "status": seed.status.value,
            "mailbox": {"configured": seed.mailbox_sealed is not None, "host": seed.mailbox_host,
                        "checked_at": iso(seed.mailbox_checked_at), "error": seed.mailbox_error,
                        "failures": seed.mailbox_failures or 0, "next_poll_at": iso(seed.mailbox_next_poll_at)},
            "created_at": iso(seed.created_at), "created_by": seed.created_by, "retired_at": iso(seed.retired_at)}


def rotate_keys() -> int:
    """Seal every stored mailbox again with the first of SEED_KEYS; how many."""
    count = 0
    for seed in db.session.scalars(select(Seed).where(Seed.mailbox_sealed.is_not(None))):
        seed.mailbox_sealed = secrets.reseal(seed.mailbox_sealed)
        count += 1
    return count


@dataclass(frozen=True)
class Routed:
    """An active seed, as routing knows it (no database read per message)."""

    id: int
    kind: SeedKind


_routing: tuple[float, dict[str, Routed]] = (0.0, {})


def among(addresses: tuple[str, ...]) -> Routed | None:
    """The active seed among a message's recipient addresses (lower-case), if any."""
    global _routing
    loaded_at, active = _routing
    if time.monotonic() - loaded_at > ROUTING_CACHE_SECONDS:
        rows = db.session.execute(select(Seed.address, Seed.id, Seed.kind).where(Seed.status == SeedStatus.active))
        active = {address: Routed(seed_id, kind) for address, seed_id, kind in rows}
        _routing = (time.monotonic(), active)
    return next((active[a] for a in addresses if a in active), None)


def forget_routing() -> None:
    """Read the active seeds afresh at the next message (this process)."""
    global _routing
    _routing = (0.0, {})

