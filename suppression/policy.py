"""Decisions, as pure functions of recorded facts and the policy (config/policy.py).

The worker records what a message says first (the event, the soft bounce), then asks here what
to do, then logs the decision with its inputs (Mailman's bounce runner works the same way).
Nothing here reads the database, so every rule is tested on its own.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from config.policy import ADDRESS_REASONS, NOT_COMPLAINTS, Count, Policy, Rate
from suppression.models.events import Outcome

NOT_FAILED = frozenset({"delivered", "relayed", "expanded"})  # DSN actions that are not failures


class Recipient(Protocol):
    """What a classifier says about one recipient (workers/findings.py RecipientResult)."""

    action: str | None
    hard: bool | None
    reason: str | None


class BounceAction(str, enum.Enum):
    none = "none"  # not a failure: a delivery report, a relay notice
    suppress = "suppress"  # a dead address: suppressed for every dealer
    suppress_for_a_while = "suppress_for_a_while"  # the soft-bounce limit reached
    count = "count"  # a soft bounce: counted in the dealer's rates, the address kept


@dataclass(frozen=True)
class BounceDecision:
    action: BounceAction
    why: str


def is_failure(recipient: Recipient) -> bool:
    """Did delivery to this recipient fail (now, or for the time being)?"""
    return recipient.hard is not None and recipient.action not in NOT_FAILED


def counts_toward_limit(recipient: Recipient) -> bool:
    """Does this soft bounce say something about the address, so that it counts toward its limit?"""
    return is_failure(recipient) and not recipient.hard and recipient.reason in ADDRESS_REASONS


def bounce_action(recipient: Recipient, recent_soft_bounces: int, policy: Policy) -> BounceDecision:
    """What a bounce does to its recipient's address. `recent_soft_bounces`: the address's soft
    bounces that count toward the limit within policy.soft_bounce_days, this one included."""
    if not is_failure(recipient):
        return BounceDecision(BounceAction.none, "not a failed delivery")
    if recipient.hard:
        return BounceDecision(BounceAction.suppress, f"hard bounce ({recipient.reason})")
    if not counts_toward_limit(recipient):
        return BounceDecision(BounceAction.count, f"soft bounce about the sender or message ({recipient.reason})")
    if recent_soft_bounces >= policy.soft_bounce_limit:
        return BounceDecision(BounceAction.suppress_for_a_while,
                              f"{recent_soft_bounces} soft bounces in {policy.soft_bounce_days} days, "
                              f"limit {policy.soft_bounce_limit}")
    return BounceDecision(BounceAction.count, f"soft bounce {recent_soft_bounces} of {policy.soft_bounce_limit} "
                                              f"in {policy.soft_bounce_days} days ({recipient.reason})")


def is_complaint(feedback_type: str | None) -> bool:
    """Does a feedback report of this type count as a complaint? (abuse, fraud, virus: yes;
    not-spam and DMARC auth-failure reports: no)."""
    return (feedback_type or "abuse").strip().lower() not in NOT_COMPLAINTS


class Level(str, enum.Enum):
    warning = "warning"
    critical = "critical"


def rate_level(rule: Rate, events: int, sends: int) -> Level | None:
    """How far `events` out of `sends` (over the rule's days) cross the rule: critical, warning,
    or None. Below the rule's volume floor the rate is undefined, never zero: None."""
    if sends < max(rule.min_sends, 1):
        return None
    rate = events / sends
    if rule.critical is not None and rate >= rule.critical:
        return Level.critical
    return Level.warning if rate >= rule.warning else None


@dataclass(frozen=True)
class Counts:
    """One account's daily counters summed over a window."""

    sends: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    trap_hits: int = 0
    seed_findings: int = 0
    optout_violations: int = 0
    auth_failure_reports: int = 0


@dataclass(frozen=True)
class Rule:
    """An AUP rule: which counter it reads, and which events are its evidence."""

    name: str
    counter: str
    evidence: Outcome | None


# The AUP rules (docs/DESIGN.md), as data; their thresholds are the policy's fields of the same name.
RATE_RULES = (Rule("complaint_rate", "complaints", Outcome.complaint),
              Rule("hard_bounce_rate", "hard_bounces", Outcome.hard_bounce),
              Rule("unsubscribe_rate", "unsubscribes", Outcome.unsubscribe))
TRAP_RULE = Rule("trap_hits", "trap_hits", Outcome.trap_hit)
# Count rules: any count at or above the threshold within the window, whatever the volume.
OPTOUT_RULE = Rule("optout_ignored", "optout_violations", Outcome.optout_ignored)
SEED_FINDINGS_RULE = Rule("seed_findings", "seed_findings", Outcome.seed_finding)
# Inbox placement reads the seeds' mailboxes, not the counters (suppression/placements.py).
PLACEMENT_RULE = Rule("inbox_placement", "", None)
RULES = {rule.name: rule for rule in (*RATE_RULES, TRAP_RULE, OPTOUT_RULE, SEED_FINDINGS_RULE, PLACEMENT_RULE)}


@dataclass(frozen=True)
class Reading:
    """One rule's reading of one account: the value (None: undefined, too little volume), the
    level it crosses, and what it was judged from."""

    rule: str
    value: float | None
    level: Level | None
    threshold: float  # the level's threshold; the warning threshold when no level is crossed
    window_days: int
    volume: int  # sends in the window
    events: int  # the rule's events in the window


def judge(sums: Mapping[int, Counts], policy: Policy, placement: PlacementSample | None = None) -> list[Reading]:
    """Every rule's reading of one account, from its counters summed over each window (days ->
    Counts, for each of policy.windows()), and its inbox placement when it has a sample."""
    readings = [_rate_reading(rule, getattr(policy, rule.name), sums[getattr(policy, rule.name).days])
                for rule in RATE_RULES]
    counted = [_count_reading(rule, limits, sums[limits.days], level)
               for rule, limits, level in ((TRAP_RULE, policy.trap_hits, Level.critical),
                                           (OPTOUT_RULE, policy.optout_ignored, Level.critical),
                                           (SEED_FINDINGS_RULE, policy.seed_findings, Level.warning))]
    return readings + counted + ([placement_reading(placement, policy)] if placement is not None else [])


class PlacementSample(Protocol):
    """What suppression/placements.py samples: the decided seeds of the last campaigns."""

    campaigns: int
    seeds: int
    inbox: int


def placement_reading(sample: PlacementSample, policy: Policy) -> Reading:
    """The inbox rate over the last campaigns: a warning under the threshold; undefined (None)
    with fewer seeds than the rule's minimum."""
    rule = policy.inbox_placement
    if sample.seeds < rule.min_seeds:
        return Reading(PLACEMENT_RULE.name, None, None, rule.warning, 30, sample.seeds, sample.inbox)
    rate = sample.inbox / sample.seeds
    return Reading(PLACEMENT_RULE.name, rate, Level.warning if rate < rule.warning else None, rule.warning,
                   30, sample.seeds, sample.inbox)


def _rate_reading(rule: Rule, limits: Rate, counts: Counts) -> Reading:
    events = getattr(counts, rule.counter)
    level = rate_level(limits, events, counts.sends)
    value = events / counts.sends if counts.sends >= max(limits.min_sends, 1) else None
    threshold = limits.critical if level == Level.critical else limits.warning
    return Reading(rule.name, value, level, threshold, limits.days, counts.sends, events)


def _count_reading(rule: Rule, limits: Count, counts: Counts, level: Level) -> Reading:
    # Mail to a spam trap means a bought or scraped list, and to an opted-out seed ignored opt-outs,
    # whatever the volume.
    events = getattr(counts, rule.counter)
    return Reading(rule.name, float(events), level if events >= limits.threshold else None, float(limits.threshold),
                   limits.days, counts.sends, events)
