"""Opt-out seeds: unsubscribe through the first message's own one-click link, then watch.

On the first message from an account that offers an RFC 8058 one-click link (one https URI in
List-Unsubscribe and List-Unsubscribe-Post: List-Unsubscribe=One-Click), the opt-out is asked for
(a row, in the audit's transaction) and then performed by its own job: our own `/u/` link in
process, a dealer's link over HTTPS (seedlist/oneclick.py: short time-outs, no redirects, public
destinations only). From the moment it was asked for, the grace period runs; a message from that
account to that seed after it is `optout_ignored`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from seedlist import oneclick
from seedlist.audit import ONE_CLICK
from seedlist.message import Facts
from suppression import tokens, unsubscribe
from suppression.db import db, utcnow
from suppression.models import SeedOptOut

DONE = ("ok", "rejected", "refused")  # answers that end the attempts (others are retried)


def one_click_link(facts: Facts) -> str | None:
    """The message's one-click link, when it offers exactly one as RFC 8058 requires."""
    https = [uri for uri in facts.unsubscribe_uris if uri.lower().startswith("https://")]
    if len(https) != 1 or ONE_CLICK not in facts.unsubscribe_post:
        return None
    return https[0]


def of(seed_id: int, account_id: int) -> SeedOptOut | None:
    return db.session.scalar(select(SeedOptOut).where(SeedOptOut.seed_id == seed_id,
                                                      SeedOptOut.account_id == account_id))


def ask(seed_id: int, account_id: int, event_id: int, url: str, received_at: datetime) -> SeedOptOut | None:
    """Record that this seed opts out of this account through `url`, as of the arrival of the
    message that offered it; None when it had already."""
    row = SeedOptOut(seed_id=seed_id, account_id=account_id, event_id=event_id, url=url[:2048],
                     requested_at=received_at)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # another message of the same account got there first
        return None
    return row


def ignored(optout: SeedOptOut, received_at: datetime, grace_hours: int) -> bool:
    """Is a message received at `received_at` one the account sent after the grace period?"""
    return received_at > optout.requested_at + timedelta(hours=grace_hours)


def perform(optout: SeedOptOut) -> oneclick.Answer:
    """POST the one-click link and record the answer on the row (in the caller's transaction)."""
    if _is_ours(optout.url):
        answer = _ours(optout)
    else:
        config = current_app.config
        answer = oneclick.post_one_click(optout.url, timeout=float(config["SEED_OPTOUT_TIMEOUT"]),
                                         allow_loopback=bool(config["SEED_OPTOUT_ALLOW_LOOPBACK"]),
                                         cafile=config["SEED_OPTOUT_CAFILE"] or None)
    optout.performed_at, optout.outcome, optout.http_status = answer.at, answer.outcome, answer.status
    optout.detail = answer.detail
    return answer


def finished(optout: SeedOptOut) -> bool:
    """Has the POST had a final answer (not a time-out or connection error worth another try)?"""
    return optout.outcome in DONE


def _is_ours(url: str) -> bool:
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    link = urlsplit(url)
    return (link.scheme, link.netloc.lower()) == (base.scheme, base.netloc.lower()) and \
        link.path.startswith(base.path.rstrip("/") + "/u/")


def _ours(optout: SeedOptOut) -> oneclick.Answer:
    # What POST /u/<token> does, here: the worker is the recipient, and needs no round trip.
    token = urlsplit(optout.url).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        claims = tokens.sealer().open(token)
    except tokens.BadToken:
        return oneclick.Answer(optout.url, utcnow(), "rejected", 400, "our own link: the token does not open")
    outcome = unsubscribe.unsubscribe(claims, tokens.token_id(token), unsubscribe.Choice.this,
                                      unsubscribe.Source.one_click, event_id=optout.event_id)
    if outcome is None:
        return oneclick.Answer(optout.url, utcnow(), "rejected", 400, "our own link: no such account")
    return oneclick.Answer(optout.url, utcnow(), "ok", 200, f"our own link: unsubscribed ({outcome.scope})")
