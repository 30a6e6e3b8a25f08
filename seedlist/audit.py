"""The audit of one seed message: every rule as data, each read from the message's facts (and
DNS, through a caching resolver), each giving pass, fail or unknown (DNS did not answer: never a
pass). Pure apart from DNS: what the findings do (counters, alerts) is the job's business.

Rules that do not apply (the receiving side wrote no Authentication-Results; no account to
compare the From domain with) give no result at all.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from seedlist import authentication
from seedlist.dns import DnsUnavailable, Resolver
from seedlist.message import Facts

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
ONE_CLICK = "List-Unsubscribe=One-Click"
UNSUBSCRIBE_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")
_REPLY_PREFIX = re.compile(r"^\s*(re|fwd?|aw|wg|sv|vs|tr)\s*(\[\d+\])?\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Sender:
    """What the audit needs to know of the account a message is attributed to."""

    account_id: int
    domains: tuple[str, ...]
    postal_address: str | None


@dataclass(frozen=True)
class Check:
    rule: str
    result: str  # PASS, FAIL or UNKNOWN
    detail: str


@dataclass(frozen=True)
class Context:
    facts: Facts
    raw: bytes
    sender: Sender | None
    resolver: Resolver
    authserv_ids: frozenset[str] | None
    signatures: tuple[authentication.Signature, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    description: str  # what passing means, for staff
    check: Callable[[Context], Check | None]


def audit(facts: Facts, raw: bytes, sender: Sender | None, resolver: Resolver,
          authserv_ids: frozenset[str] | None = None,
          signatures: list[authentication.Signature] | None = None) -> list[Check]:
    """Every rule's check of one message, in RULES order; `signatures`: its DKIM signatures
    verified already (the caller needs them too), else verified here."""
    if signatures is None:
        signatures = authentication.signatures(raw, resolver) if facts.dkim_domains else []
    context = Context(facts, raw, sender, resolver, authserv_ids, tuple(signatures))
    return [check for rule in RULES if (check := rule.check(context)) is not None]


def _check(rule: str, ok: bool, detail: str) -> Check:
    return Check(rule, PASS if ok else FAIL, detail)


def _list_unsubscribe(c: Context) -> Check:
    https = [uri for uri in c.facts.unsubscribe_uris if uri.lower().startswith("https://")]
    if not c.facts.unsubscribe_uris:
        return _check("list_unsubscribe", False, "no List-Unsubscribe header")
    return _check("list_unsubscribe", len(https) == 1,
                  f"{len(https)} https URIs in List-Unsubscribe (one is required)")


def _mailto(c: Context) -> Check:
    mailto = any(uri.lower().startswith("mailto:") for uri in c.facts.unsubscribe_uris)
    return _check("list_unsubscribe_mailto", mailto, "a mailto URI in List-Unsubscribe" if mailto
                  else "no mailto URI in List-Unsubscribe")


def _one_click(c: Context) -> Check:
    values = c.facts.unsubscribe_post
    ok = values == (ONE_CLICK,)
    detail = f"List-Unsubscribe-Post is {ONE_CLICK}" if ok else (
        "no List-Unsubscribe-Post header" if not values else f"List-Unsubscribe-Post is {values[0][:80]!r}"
        + (f" and {len(values) - 1} more" if len(values) > 1 else ""))
    return _check("one_click", ok, detail)


def _verified(c: Context) -> tuple[list[authentication.Signature], bool]:
    """The signatures that verify, and whether any could not be checked (DNS)."""
    return [s for s in c.signatures if s.verified], any(s.verified is None for s in c.signatures)


def _dkim_covers(c: Context) -> Check:
    good, unknown = _verified(c)
    if any(authentication.covers(s, UNSUBSCRIBE_HEADERS) for s in good):
        return _check("dkim_covers_unsubscribe", True, "a verifying DKIM signature covers both unsubscribe headers")
    if unknown:
        return Check("dkim_covers_unsubscribe", UNKNOWN, "a DKIM key could not be looked up (DNS)")
    return _check("dkim_covers_unsubscribe", False, _no_signature(c) or
                  "no verifying DKIM signature covers List-Unsubscribe and List-Unsubscribe-Post")


def _dkim_aligned(c: Context) -> Check:
    good, unknown = _verified(c)
    if any(authentication.aligned(s.domain, c.facts.from_domain) for s in good):
        return _check("dkim_aligned", True, "a verifying DKIM signature's d= is aligned with the From domain")
    if unknown:
        return Check("dkim_aligned", UNKNOWN, "a DKIM key could not be looked up (DNS)")
    domains = ", ".join(s.domain for s in good) or "none"
    return _check("dkim_aligned", False, _no_signature(c) or
                  f"no verifying DKIM signature aligned with {c.facts.from_domain} (verified d=: {domains})")


def _no_signature(c: Context) -> str | None:
    if not c.signatures:
        return "the message has no DKIM signature"
    if not any(s.verified for s in c.signatures):
        errors = "; ".join(s.error or "does not verify" for s in c.signatures)[:300]
        return f"no DKIM signature verifies ({errors})"
    return None


def _dmarc(c: Context) -> Check:
    try:
        record = authentication.dmarc(c.facts.from_domain, c.resolver)
    except DnsUnavailable:
        return Check("dmarc_policy", UNKNOWN, f"the DMARC record of {c.facts.from_domain} could not be looked up")
    if record is None:
        return _check("dmarc_policy", False, f"{c.facts.from_domain} publishes no DMARC record")
    return _check("dmarc_policy", True, f"DMARC p={record.policy} at _dmarc.{record.domain}")


def _spf(c: Context) -> Check:
    # SPF is about the envelope sender (the Return-Path the receiving side wrote), else From.
    domain = (c.facts.return_path or c.facts.from_address).rsplit("@", 1)[-1]
    try:
        record = authentication.spf(domain, c.resolver)
    except DnsUnavailable:
        return Check("spf_record", UNKNOWN, f"the SPF record of {domain} could not be looked up")
    return _check("spf_record", record is not None, f"{domain} publishes SPF: {record[:120]}" if record
                  else f"{domain} publishes no SPF record")


def _receiver(c: Context) -> Check | None:
    verdicts = authentication.authentication_results([v for n, v in c.facts.headers
                                                      if n.lower() == "authentication-results"],
                                                     authserv_ids=c.authserv_ids)
    if not verdicts:
        return None
    shown = ", ".join(f"{method}={verdict}" for method, verdict in sorted(verdicts.items()))
    return _check("receiver_auth", all(v == "pass" for v in verdicts.values()), f"Authentication-Results: {shown}")


def _from_domain(c: Context) -> Check | None:
    if c.sender is None:
        return None
    domain = c.facts.from_domain
    ok = any(domain == d or domain.endswith("." + d) for d in c.sender.domains)
    return _check("from_domain", ok, f"From domain {domain} is " + ("" if ok else "not ")
                  + "one of the account's sending domains")


def _postal_address(c: Context) -> Check | None:
    if c.sender is None:
        return None
    if not c.sender.postal_address:
        return _check("postal_address", False, "the account has no postal address on file to look for")
    wanted = " ".join(c.sender.postal_address.split()).lower()
    return _check("postal_address", wanted in c.facts.text,
                  "the account's postal address is in the body" if wanted in c.facts.text
                  else "the account's postal address is not in the body (CAN-SPAM)")


def _subject(c: Context) -> Check:
    prefix = _REPLY_PREFIX.match(c.facts.subject)
    ok = prefix is None or c.facts.replies_to_something
    return _check("deceptive_subject", ok, "the subject does not pose as a reply or forward" if ok else
                  f"the subject starts {prefix.group(0).strip()!r} with no In-Reply-To or References")


def _campaign(c: Context) -> Check:
    return _check("campaign_header", c.facts.campaign is not None,
                  "the message names its campaign" if c.facts.campaign else "the message names no campaign")


def _attributable(c: Context) -> Check:
    return _check("attributable", c.sender is not None,
                  f"attributed to account {c.sender.account_id}" if c.sender else
                  "no VERP return path, account header, DKIM or From domain names an account")


RULES: tuple[Rule, ...] = (
    Rule("attributable", "the message names its account (VERP, account header, DKIM or From domain)",
         _attributable),
    Rule("list_unsubscribe", "List-Unsubscribe holds exactly one https URI", _list_unsubscribe),
    Rule("list_unsubscribe_mailto", "List-Unsubscribe holds a mailto URI too", _mailto),
    Rule("one_click", "List-Unsubscribe-Post is exactly List-Unsubscribe=One-Click (RFC 8058)", _one_click),
    Rule("dkim_covers_unsubscribe", "a verifying DKIM signature covers both unsubscribe headers", _dkim_covers),
    Rule("dkim_aligned", "a verifying DKIM signature's d= is aligned with the From domain", _dkim_aligned),
    Rule("dmarc_policy", "the From domain publishes a DMARC policy", _dmarc),
    Rule("spf_record", "the envelope sender's domain (Return-Path, else From) publishes an SPF record", _spf),
    Rule("receiver_auth", "the receiving side's Authentication-Results pass SPF, DKIM and DMARC", _receiver),
    Rule("from_domain", "the From domain is one of the account's sending domains", _from_domain),
    Rule("postal_address", "the account's postal address is in the body (CAN-SPAM)", _postal_address),
    Rule("deceptive_subject", "no RE:/FWD: subject without In-Reply-To or References", _subject),
    Rule("campaign_header", "the message carries its campaign id (CAMPAIGN_HEADER)", _campaign),
)
