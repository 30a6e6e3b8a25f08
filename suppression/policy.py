"""Decisions, as pure functions of recorded facts and the policy (config/policy.py).

The worker records what a message says first (the event, the soft bounce), then asks here what
to do, then logs the decision with its inputs (Mailman's bounce runner works the same way).
Nothing here reads the database, so every rule is tested on its own.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from config.policy import ADDRESS_REASONS, NOT_COMPLAINTS, Policy, Rate

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
