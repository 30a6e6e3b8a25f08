"""Reading a stored event: what kind of message it is, for whom, and who sent the original."""
from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from flask import current_app

from seedlist import seeds
from suppression import unsubscribe
from suppression.models import Event
from workers import providers
from workers.findings import OTHER, Classification

# The bounce's own envelope-recipient headers: where a VERP return path shows up.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
_SEED = "mail to a seed: audited by the seeds job"


class Unreadable(Exception):
    """The event cannot be read at all; it is parked as failed, with this message."""


@dataclass(frozen=True)
class Reading:
    classification: Classification
    bounce_to: tuple[str, ...] = ()  # addresses the bounce or report itself was sent to
    unsubscribe_message: EmailMessage | None = field(default=None, compare=False)  # mail to the mailto address
    provider: str | None = None  # the provider whose webhook this came from
    provider_unsubscribe: bool = False  # the provider reports the recipient opted out
    unsubscribe_list: str | None = None  # ... from this list of the account only (None: the whole account)
    subscription_url: str | None = None  # SNS wants this subscription confirmed
    seed: bool = False  # mail to a seed: audited by the seeds job, not read here


def read(event: Event) -> Reading:
    """What `event` says. Raises Unreadable for what no reader can make sense of."""
    if event.source in providers.ADAPTERS:
        return _provider_event(event)
    if event.source != "mail":
        raise Unreadable(f"no reader for {event.source} events")
    if event.kind == "seed":
        return Reading(Classification(OTHER, detail=_SEED), seed=True)
    headers = _headers(event.raw)
    bounce_to = _recipients(headers)
    if event.kind == "auto" and seeds.among(bounce_to) is not None:
        return Reading(Classification(OTHER, detail=_SEED), bounce_to, seed=True)
    if event.kind == "unsubscribe" or _to_unsubscribe_mailbox(bounce_to):
        message = email.message_from_bytes(event.raw, policy=email.policy.default)
        return Reading(Classification(OTHER, detail="mail to the unsubscribe address"), bounce_to, message)
    from workers.classify import classify
    config = current_app.config
    verdict = classify(event.raw, config["ACCOUNT_HEADER"], config["LIST_HEADER"])
    if verdict.unreadable:
        raise Unreadable(f"unreadable message: {verdict.unreadable}")
    return Reading(verdict, bounce_to)


def _provider_event(event: Event) -> Reading:
    found = _parse_again(event) if event.finding is None else _stored_finding(event)
    return Reading(found.classification, provider=event.source, provider_unsubscribe=found.unsubscribe,
                   unsubscribe_list=found.unsubscribe_list, subscription_url=found.subscription_url)


def _stored_finding(event: Event) -> providers.ProviderEvent:
    try:
        return providers.ProviderEvent.from_finding(event.dedupe_key, event.finding)
    except (KeyError, TypeError, ValueError) as exc:  # written by another version of this code
        raise Unreadable(f"the {event.source} event's finding is not readable: {exc!r}"[:300]) from None


def _parse_again(event: Event) -> providers.ProviderEvent:
    # Events stored before migration 0004 hold their raw payload and no finding: read them as
    # ingest would have. Every event stored since carries its finding, and is never parsed here.
    try:
        found = providers.reader(event.source, current_app.config).parse(event.raw or b"", {})
    except providers.Rejected as exc:
        raise Unreadable(f"{event.source} payload: {exc}") from None
    mine = next((e for e in found if e.dedupe_key == event.dedupe_key), None)
    if mine is None:
        raise Unreadable(f"the stored {event.source} payload no longer holds event {event.dedupe_key}")
    return mine


def _headers(raw: bytes):
    if not raw.strip():
        raise Unreadable("the message is empty")
    # The header block only: cheap, and enough to route the message.
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)


def recipients(raw: bytes) -> tuple[str, ...]:
    """The addresses a message was delivered to, from its headers (lower-case)."""
    return _recipients(_headers(raw))


def _recipients(headers) -> tuple[str, ...]:
    values = [str(v) for name in _RECIPIENT_HEADERS for v in (headers.get_all(name) or [])]
    return tuple(dict.fromkeys(address.lower() for _, address in getaddresses(values) if "@" in address))


def _to_unsubscribe_mailbox(addresses: tuple[str, ...]) -> bool:
    return not unsubscribe.mailboxes().isdisjoint(addresses)
