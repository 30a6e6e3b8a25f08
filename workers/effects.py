"""What a read event changes: suppressions (with the event as evidence, and an audit entry each),
and the daily counts.

Runs in the job's transaction, committed together with the event's status, so an event's
effects land once: a job that dies before the commit leaves the event pending and nothing
applied; a job that runs again after it finds the event processed. What to do is decided by
the pure functions of suppression/policy.py after the facts are recorded, and each decision is
logged with its inputs (never the address).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from suppression import counters, lists, policy, unsubscribe
from suppression.addresses import normalize
from suppression.db import db, utcnow
from suppression.errors import Invalid
from suppression.models import EventStatus, Outcome, Reason, SoftBounce
from suppression.policy import BounceAction
from workers import attribution
from workers.findings import BOUNCE, COMPLAINT, Classification, RecipientResult
from workers.providers import ses
from workers.reading import Reading

ACTOR = "worker"
AUTH_FAILURE = "auth-failure"  # RFC 6591's Feedback-Type of a DMARC failure report
log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What applying an event did: its status, its dealer, and the counters it bumped."""

    status: EventStatus
    account_id: int | None = None
    counted: set[str] = field(default_factory=set)

    @property
    def outcome(self) -> Outcome | None:
        """The weightiest thing the event counted against its dealer (the alerts' evidence)."""
        return next((outcome for counter, outcome in _OUTCOMES if counter in self.counted), None)

    def count(self, counter: str, amount: int = 1) -> None:
        if self.account_id is not None and amount:
            counters.bump(self.account_id, counter, amount)
            self.counted.add(counter)


_OUTCOMES = (("complaints", Outcome.complaint), ("hard_bounces", Outcome.hard_bounce),
             ("unsubscribes", Outcome.unsubscribe), ("soft_bounces", Outcome.soft_bounce))


def apply(event_id: int, reading: Reading) -> Applied:
    """Apply `reading` of event `event_id`."""
    verdict = reading.classification
    if reading.unsubscribe_message is not None:
        return _mailto(reading, event_id)
    if reading.subscription_url:
        ses.confirm_subscription(reading.subscription_url)
        return Applied(EventStatus.processed)
    applied = Applied(EventStatus.processed, attribution.account_for(verdict.original, reading.bounce_to))
    if reading.provider_unsubscribe:
        return _provider_opt_out(verdict, reading, event_id, applied)
    if verdict.kind == BOUNCE:
        for recipient in verdict.recipients:
            _bounce(recipient, event_id, applied)
    elif verdict.kind == COMPLAINT and policy.is_complaint(verdict.feedback_type):
        for recipient in verdict.recipients:
            _complaint(recipient, event_id, applied)
    elif verdict.feedback_type == AUTH_FAILURE and applied.account_id is not None:
        applied.count("auth_failure_reports")  # the dealer's authentication health, never a complaint
    else:
        applied.status = EventStatus.ignored
    return applied


def _bounce(recipient: RecipientResult, event_id: int, applied: Applied) -> None:
    address = normalize(recipient.mailed)  # the address on the dealer's list, when forwarding is reported
    if address is None or not policy.is_failure(recipient):
        return  # a mangled address in a report, or a delivery notice: nothing to record
    account_id = applied.account_id
    rules = current_app.config["POLICY"]
    recent = _record_soft_bounce(address, account_id, event_id, rules) if policy.counts_toward_limit(recipient) else 0
    decision = policy.bounce_action(recipient, recent, rules)
    log.info("event %s: %s: %s (status %s, account %s)", event_id, decision.action.value, decision.why,
             recipient.status, account_id)
    if decision.action == BounceAction.suppress:
        # A dead address is dead for every dealer, attributed or not; so is the one it forwarded to.
        dead = list(dict.fromkeys(filter(None, (address, normalize(recipient.address)))))
        lists.suppress(lists.GLOBAL, dead, Reason.hard_bounce, "bounce", ACTOR, event_id=event_id,
                       dealer_id=account_id)
        applied.count("hard_bounces")
        return
    applied.count("soft_bounces")
    if decision.action == BounceAction.suppress_for_a_while:
        lists.suppress(lists.GLOBAL, [address], Reason.soft_bounce_limit, "bounce", ACTOR, event_id=event_id,
                       dealer_id=account_id, expires_at=utcnow() + timedelta(days=rules.soft_bounce_suppress_days))


def _record_soft_bounce(address: str, account_id: int | None, event_id: int, rules) -> int:
    """Record this soft bounce (once per event); the address's soft bounces in the window, this one included."""
    db.session.add(SoftBounce(address=address, event_id=event_id, account_id=account_id))
    db.session.flush()
    since = utcnow() - timedelta(days=rules.soft_bounce_days)
    return db.session.scalar(select(func.count()).select_from(SoftBounce)
                             .where(SoftBounce.address == address, SoftBounce.at >= since))


def _complaint(recipient: RecipientResult, event_id: int, applied: Applied) -> None:
    address = normalize(recipient.address)
    if applied.account_id is None or address is None:
        log.info("event %s: complaint kept as evidence: %s", event_id,
                 "no known dealer" if applied.account_id is None else "no readable address")
        return
    lists.suppress(lists.Scope(applied.account_id), [address], Reason.complained, "complaint", ACTOR,
                   event_id=event_id)
    applied.count("complaints")
    log.info("event %s: complaint: suppressed for account %s", event_id, applied.account_id)


def _provider_opt_out(verdict: Classification, reading: Reading, event_id: int, applied: Applied) -> Applied:
    addresses = [a for a in (normalize(r.address) for r in verdict.recipients) if a]
    if applied.account_id is None or not addresses:
        applied.status = EventStatus.ignored  # kept: an opt-out from no known dealer
        return applied
    scope = _opt_out_scope(applied.account_id, reading.unsubscribe_list)
    added = lists.suppress(scope, addresses, Reason.unsubscribed, reading.provider, ACTOR, event_id=event_id).added
    applied.count("unsubscribes", len(added))
    return applied


def _opt_out_scope(account_id: int, list_name: str | None) -> lists.Scope:
    """The account's list the opt-out is from; the whole account when it names none, or a name that
    is not a list name (no sender could check against it, so honour it for every list)."""
    if list_name:
        try:
            return lists.Scope.of(account_id, list_name)
        except Invalid:
            pass
    return lists.Scope(account_id)


def _mailto(reading: Reading, event_id: int) -> Applied:
    # In the job's transaction, like every other effect: the opt-out lands with the event's status.
    outcome = unsubscribe.from_mail(reading.unsubscribe_message, event_id)
    if outcome is None:
        return Applied(EventStatus.ignored)
    # The opt-out counted itself (unsubscribe.py counts where it suppresses, as a one-click does).
    return Applied(EventStatus.processed, outcome.account_id, {"unsubscribes"} if outcome.changed else set())
