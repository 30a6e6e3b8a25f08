"""The inbound service: what every entry point (the HTTP endpoints, `flask --app wsgi inbound
ingest`) does with a message or a provider's webhook. Store it raw first, commit, then queue
it. A message is read by the worker; a webhook is verified and parsed here, once (its dedupe
keys are in it), and stored with what was found, which the worker then acts on."""
from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import current_app

from suppression import events
from suppression.db import commit, db
from suppression.errors import (
    DomainError,
    Forbidden,
    Invalid,
    TooLarge,
    Unauthenticated,
)
from workers import batches, providers

# A header field's start (RFC 5322 2.2: printable characters but the colon, then the colon).
_HEADER_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")


@dataclass(frozen=True)
class Accepted:
    id: int
    status: str  # pending, or with jobs inline what processing made of it
    duplicate: bool  # received before: the same event


def accept_mail(raw: bytes, kind: str = "auto", envelope_to: Sequence[str] = ()) -> Accepted:
    """Store one raw RFC 5322 message as an event, commit, and queue it.

    `envelope_to`: the envelope recipients an MTA delivered it to (the LMTP listener), stored in
    front of the message as X-Original-To headers. Over LMTP nothing else records them (Postfix's
    local(8) adds X-Original-To and Delivered-To; its lmtp client adds neither), and a bounce is
    routed and attributed by the address it came back to (workers/reading.py), which its To
    header need not name. The dedupe key stays the message's own bytes: the same message is one
    event however often, and to whichever of its recipients, it is delivered."""
    check_mail(raw, kind)
    [accepted] = _store_mail([(raw, kind, envelope_to)])
    return accepted


def accept_mails(messages: list[tuple[bytes, str, Sequence[str]]]) -> list[Accepted | DomainError]:
    """`accept_mail` for messages that arrived together, (raw, kind, envelope recipients): the
    acceptable ones stored in one transaction with one commit and queued in one round trip; for
    each, its Accepted, or the DomainError that refused it. When the database fails, this raises
    as `accept_mail` does, and none of them is stored."""
    outcomes: list[Accepted | DomainError | None] = []
    for raw, kind, _ in messages:
        try:
            check_mail(raw, kind)
            outcomes.append(None)
        except DomainError as exc:
            outcomes.append(exc)
    stored = iter(_store_mail([message for message, refused in zip(messages, outcomes) if refused is None]))
    return [next(stored) if outcome is None else outcome for outcome in outcomes]


def check_mail(raw: bytes, kind: str) -> None:
    """Raise the DomainError that refuses a message before anything is stored, if any."""
    if kind not in events.KINDS:
        raise Invalid(f"kind is one of {', '.join(events.KINDS)}", code="invalid_kind", field="kind")
    if len(raw) > current_app.config["MAX_INBOUND_BYTES"]:
        raise TooLarge("the message is larger than MAX_INBOUND_BYTES")
    if not raw.strip():
        raise Invalid("send the raw message as the request body", code="empty_message", field="body")


def _store_mail(messages: list[tuple[bytes, str, Sequence[str]]]) -> list[Accepted]:
    if not messages:
        return []
    stored = events.store_messages("mail", [(with_envelope(raw, envelope_to), events.mail_key(raw), kind)
                                            for raw, kind, envelope_to in messages])
    commit()  # nothing, on PostgreSQL: events.store_messages committed on its own connection
    queued = iter(batches.enqueue_events([event_id for event_id, new in stored if new]))
    return [Accepted(event_id, next(queued) if new else events.status_of(event_id), not new)
            for event_id, new in stored]


def with_envelope(raw: bytes, recipients: Sequence[str]) -> bytes:
    """`raw` with an X-Original-To header in front for each envelope recipient, in their order, with
    the message's own line ends; `raw` as it is when it does not start with a header field (that
    is no message: a header in front would make it read as one, not be parked as unreadable)."""
    if not recipients or not _HEADER_FIELD.match(raw):
        return raw
    newline = raw.find(b"\n")  # not split(): that would copy the whole message for its first line
    end = b"\r\n" if newline < 0 or raw[newline - 1:newline] == b"\r" else b"\n"
    return b"".join(b"X-Original-To: " + r.encode() + end for r in recipients) + raw


def accept_webhook(provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[list[int], int]:
    """Verify and parse a provider's webhook, store its body once and one event per provider event
    with what was found for it, and queue the new ones: (the event ids, how many were duplicates)."""
    adapter = _adapter(provider)
    try:
        adapter.verify(body, headers, time.time())
    except providers.Rejected as exc:
        raise Unauthenticated(f"{provider} payload refused: {exc}", code="bad_signature") from None
    try:
        found = adapter.parse(body, headers)
    except providers.Rejected as exc:
        raise Invalid(f"{provider} payload unreadable: {exc}", code="malformed_payload") from None
    stored = events.store_payload(provider, body, [(event.dedupe_key, event.finding()) for event in found])
    db.session.commit()
    batches.enqueue_events([event_id for event_id, new in stored if new])
    return [event_id for event_id, _ in stored], sum(not new for _, new in stored)


def _adapter(provider: str) -> providers.Adapter:
    """The provider's adapter, built at start-up; Forbidden while its webhook is off."""
    adapter = current_app.extensions["providers"].get(provider)
    if adapter is None:
        setting = providers.SWITCHES[provider]
        raise Forbidden(f"the {provider} webhook is off: set {setting}", code="provider_not_configured")
    return adapter
