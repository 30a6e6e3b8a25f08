"""What a seed message changes: its audit kept as findings, the account's counters, and an
opt-out seed's unsubscribe asked for.

Runs in the seeds job's transaction (workers/seed_jobs.py), committed with the event's status, so
a message's findings and counts land once (the job bumps the counters a Result names). Critical findings (a trap hit, an ignored opt-out) count
against an account only when a verifying DKIM signature of one of its own domains backs the
attribution: anyone can put a dealer's domain, header or return path in a forged message, and a
forged message must not suspend a dealer. An unauthenticated one is kept as a warning for staff.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import current_app

from seedlist import authentication, findings, optouts
from seedlist import seeds as seedlist
from seedlist.audit import FAIL, Sender, audit
from seedlist.dns import Resolver
from seedlist.findings import Audited, Extra
from seedlist.message import Facts, NotMail, read
from suppression.db import db
from suppression.models import (
    Account,
    Event,
    FindingSeverity,
    Outcome,
    SeedKind,
    SeedMessage,
)
from workers import attribution
from workers.findings import Original

DNS_RULES = ("dkim_covers_unsubscribe", "dkim_aligned", "dmarc_policy", "spf_record")
log = logging.getLogger(__name__)


@dataclass
class Result:
    account_id: int | None = None
    outcome: Outcome | None = None
    counts: list[str] = field(default_factory=list)  # the account's counters to bump, once each
    optout_id: int | None = None  # an opt-out to perform after the commit
    summary: dict = field(default_factory=dict)  # what the event's classification shows


def resolver() -> Resolver:
    """This process's caching resolver (DNS_NAMESERVERS, DNS_TIMEOUT_MS)."""
    app = current_app._get_current_object()
    found = app.extensions.get("seed_resolver")
    if found is None:
        config = app.config
        servers = [s.strip() for s in str(config["DNS_NAMESERVERS"]).split(",") if s.strip()]
        found = app.extensions["seed_resolver"] = Resolver(servers or None, config["DNS_TIMEOUT_MS"] / 1000)
    return found


def audit_event(event: Event, recipients: tuple[str, ...]) -> Result:
    """Audit one stored seed message and apply what it found."""
    config = current_app.config
    try:
        facts = read(event.raw or b"", config["CAMPAIGN_HEADER"], config["ACCOUNT_HEADER"])
    except NotMail as exc:
        return _unreadable(event, seedlist.among(recipients), str(exc))
    seed = seedlist.among(facts.recipients) or seedlist.among(recipients)
    sender = _sender(facts)
    # Verified once: the audit's DKIM rules and a critical finding's attribution both read them.
    signatures = authentication.signatures(event.raw, resolver()) if facts.dkim_domains else []
    checks = audit(facts, event.raw, sender, resolver(), _authserv_ids(), signatures)
    result = Result(sender.account_id if sender else None)
    extras = _by_kind(seed, sender, facts, signatures, event, result)
    row = findings.record(Audited(event.id, seed.id if seed else None, result.account_id, facts.campaign,
                                  facts.subject, event.received_at), checks, extras)
    _count_content(row, result)
    result.summary = {"kind": "seed", "seed_id": seed.id if seed else None, "seed_kind": seed.kind.value if seed
                      else None, "campaign": facts.campaign,
                      "failed": sorted(c.rule for c in checks if c.result == FAIL) + [e.rule for e in extras]}
    return result


def recheck(event: Event) -> Result:
    """Check an audited message's DNS rules again."""
    row = db.session.get(SeedMessage, event.id)
    if row is None or not row.dns_pending:
        return Result()
    config = current_app.config
    facts = read(event.raw or b"", config["CAMPAIGN_HEADER"], config["ACCOUNT_HEADER"])
    sender = _sender_of(row.account_id) if row.account_id else None
    checks = [c for c in audit(facts, event.raw, sender, resolver(), _authserv_ids()) if c.rule in DNS_RULES]
    findings.recheck(row, checks, config["SEED_DNS_RETRIES"])
    result = Result(row.account_id)
    _count_content(row, result)
    return result


def _unreadable(event: Event, seed: seedlist.Routed | None, why: str) -> Result:
    findings.record(Audited(event.id, seed.id if seed else None, None, None, None, event.received_at), [],
                    [Extra(findings.MALFORMED, FindingSeverity.warning, f"not a readable message: {why}")])
    return Result(summary={"kind": "seed", "seed_id": seed.id if seed else None, "failed": [findings.MALFORMED]})


def _sender(facts: Facts) -> Sender | None:
    original = Original(from_domain=facts.from_domain, dkim_domains=facts.dkim_domains,
                        account_header=facts.account_header, return_path=facts.return_path)
    cached = _attributed.get(original)
    if cached is not None and time.monotonic() - cached[0] < SENDER_CACHE_SECONDS:
        account_id = cached[1]
    else:
        account_id = attribution.account_for(original, ())
        if len(_attributed) > 10_000:
            _attributed.clear()
        _attributed[original] = (time.monotonic(), account_id)
    return _sender_of(account_id) if account_id is not None else None


# Who sent what (the account a message's return path, header and domains name) and what the audit
# compares with (its sending domains, postal address), kept briefly: a campaign's seed messages
# come from one account in a burst. A change of an account's domains shows within this time.
SENDER_CACHE_SECONDS = 30
_senders: dict[int, tuple[float, Sender]] = {}
_attributed: dict[Original, tuple[float, int | None]] = {}


def _sender_of(account_id: int) -> Sender | None:
    cached = _senders.get(account_id)
    if cached is not None and time.monotonic() - cached[0] < SENDER_CACHE_SECONDS:
        return cached[1]
    account = db.session.get(Account, account_id)
    if account is None:
        return None
    sender = Sender(account.id, tuple(d.domain for d in account.domains), account.postal_address)
    if len(_senders) > 10_000:
        _senders.clear()
    _senders[account_id] = (time.monotonic(), sender)
    return sender


def forget_senders() -> None:
    """Read accounts afresh at the next message (this process)."""
    _senders.clear()
    _attributed.clear()


def _authserv_ids() -> frozenset[str] | None:
    ids = {i.strip().lower() for i in str(current_app.config["AUTHSERV_IDS"]).split(",") if i.strip()}
    return frozenset(ids) or None


def _by_kind(seed: seedlist.Routed | None, sender: Sender | None, facts: Facts, signatures: list, event: Event,
             result: Result) -> list[Extra]:
    if seed is None:
        return []  # routed here as a seed, but the seed was retired meanwhile: audited all the same
    if seed.kind == SeedKind.trap:
        return [_critical(findings.TRAP_HIT, "trap_hits", Outcome.trap_hit, sender, signatures, result,
                          "mail to a trap seed, which is never handed out: a bought or scraped list")]
    if seed.kind == SeedKind.optout and sender is not None:
        return _optout(seed, sender, facts, signatures, event, result)
    return []


def _optout(seed: seedlist.Routed, sender: Sender, facts: Facts, signatures: list, event: Event,
            result: Result) -> list[Extra]:
    existing = optouts.of(seed.id, sender.account_id)
    if existing is None:
        link = optouts.one_click_link(facts)
        if link is None:
            return [Extra(findings.OPTOUT_FAILED, FindingSeverity.warning,
                          "the opt-out seed could not unsubscribe: the message offers no RFC 8058 one-click link")]
        asked = optouts.ask(seed.id, sender.account_id, event.id, link, event.received_at)
        result.optout_id = asked.id if asked is not None else None
        return []
    grace = current_app.config["POLICY"].optout_grace_hours
    if not optouts.ignored(existing, event.received_at, grace):
        return []  # within the grace period: the dealer's systems may still be catching up
    return [_critical(findings.OPTOUT_IGNORED, "optout_violations", Outcome.optout_ignored, sender, signatures, result,
                      f"mail to a seed that unsubscribed at {existing.requested_at:%Y-%m-%d %H:%M} UTC, "
                      f"over {grace} h before")]


def _critical(rule: str, counter: str, outcome: Outcome, sender: Sender | None, signatures: list, result: Result,
              detail: str) -> Extra:
    if sender is None:
        return Extra(rule, FindingSeverity.warning, detail + "; attributed to no account")
    if not _authenticated(signatures, sender):
        return Extra(rule, FindingSeverity.warning, detail + f"; attributed to account {sender.account_id} "
                     "without a verifying DKIM signature of its domains, so not counted against it")
    result.counts.append(counter)
    result.outcome = outcome
    return Extra(rule, FindingSeverity.critical, detail)


def _authenticated(signatures: list, sender: Sender) -> bool:
    return any(s.verified and any(authentication.aligned(s.domain, d) for d in sender.domains) for s in signatures)


def _count_content(row: SeedMessage, result: Result) -> None:
    if row.account_id is None or row.counted or not findings.broke_content_rule(row):
        return
    result.counts.append("seed_findings")
    row.counted = True
    result.outcome = result.outcome or Outcome.seed_finding
