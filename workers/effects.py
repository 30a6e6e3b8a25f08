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
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from suppression import counters, lists, policy, unsubscribe
from suppression.addresses import normalize
from suppression.db import db, utcnow
from suppression.errors import Invalid
from suppression.models import EventStatus, Reason, SoftBounce
from suppression.policy import BounceAction
from workers import attribution
from workers.findings import BOUNCE, COMPLAINT, Classification, RecipientResult
from workers.providers import ses
from workers.reading import Reading

ACTOR = "worker"
log = logging.getLogger(__name__)


def apply(event_id: int, reading: Reading) -> tuple[EventStatus, int | None]:
    """Apply `reading` of event `event_id`; the event's new status and its account."""
    verdict = reading.classification
    if reading.unsubscribe_message is not None:
        return _mailto(reading, event_id)
    if reading.subscription_url:
        ses.confirm_subscription(reading.subscription_url)
        return EventStatus.processed, None
    account_id = attribution.account_for(verdict.original, reading.bounce_to)
    if reading.provider_unsubscribe:
        return _provider_opt_out(verdict, account_id, reading, event_id)
    if verdict.kind == BOUNCE:
        for recipient in verdict.recipients:
            _bounce(recipient, account_id, event_id)
    elif verdict.kind == COMPLAINT and policy.is_complaint(verdict.feedback_type):
        for recipient in verdict.recipients:
            _complaint(recipient, account_id, event_id)
    else:
        return EventStatus.ignored, account_id
    return EventStatus.processed, account_id


def _bounce(recipient: RecipientResult, account_id: int | None, event_id: int) -> None:
    address = normalize(recipient.address)
    if address is None or not policy.is_failure(recipient):
        return  # a mangled address in a report, or a delivery notice: nothing to record
    rules = current_app.config["POLICY"]
    recent = _record_soft_bounce(address, account_id, event_id, rules) if policy.counts_toward_limit(recipient) else 0
    decision = policy.bounce_action(recipient, recent, rules)
    log.info("event %s: %s: %s (status %s, account %s)", event_id, decision.action.value, decision.why,
             recipient.status, account_id)
    if decision.action == BounceAction.suppress:
        # A dead address is dead for every dealer, attributed or not.
        lists.suppress(lists.GLOBAL, [address], Reason.hard_bounce, "bounce", ACTOR, event_id=event_id,
                       dealer_id=account_id)
        _count(account_id, "hard_bounces")
        return
    _count(account_id, "soft_bounces")
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


def _complaint(recipient: RecipientResult, account_id: int | None, event_id: int) -> None:
    address = normalize(recipient.address)
    if account_id is None or address is None:
        log.info("event %s: complaint kept as evidence: %s", event_id,
                 "no known dealer" if account_id is None else "no readable address")
        return
    lists.suppress(lists.Scope(account_id), [address], Reason.complained, "complaint", ACTOR, event_id=event_id)
    _count(account_id, "complaints")
    log.info("event %s: complaint: suppressed for account %s", event_id, account_id)


def _provider_opt_out(verdict: Classification, account_id: int | None, reading: Reading,
                      event_id: int) -> tuple[EventStatus, int | None]:
    addresses = [a for a in (normalize(r.address) for r in verdict.recipients) if a]
    if account_id is None or not addresses:
        return EventStatus.ignored, account_id  # kept: an opt-out from no known dealer
    scope = _opt_out_scope(account_id, reading.unsubscribe_list)
    added = lists.suppress(scope, addresses, Reason.unsubscribed, reading.provider, ACTOR, event_id=event_id).added
    _count(account_id, "unsubscribes", len(added))
    return EventStatus.processed, account_id


def _opt_out_scope(account_id: int, list_name: str | None) -> lists.Scope:
    """The account's list the opt-out is from; the whole account when it names none, or a name that
    is not a list name (no sender could check against it, so honour it for every list)."""
    if list_name:
        try:
            return lists.Scope.of(account_id, list_name)
        except Invalid:
            pass
    return lists.Scope(account_id)


def _count(account_id: int | None, counter: str, amount: int = 1) -> None:
    if account_id is not None and amount:
        counters.bump(account_id, counter, amount)


def _mailto(reading: Reading, event_id: int) -> tuple[EventStatus, int | None]:
    # In the job's transaction, like every other effect: the opt-out lands with the event's status.
    outcome = unsubscribe.from_mail(reading.unsubscribe_message, event_id)
    if outcome is None:
        return EventStatus.ignored, None
    return EventStatus.processed, outcome.account_id
