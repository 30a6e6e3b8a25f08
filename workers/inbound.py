"""The inbound service: what every entry point (the HTTP endpoints, `flask --app wsgi inbound
ingest`) does with a message or a provider's webhook. Store it raw first, commit, then queue
it; nothing reads a payload before it is stored."""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from flask import current_app

from suppression import events
from suppression.db import db
from suppression.errors import Forbidden, Invalid, TooLarge, Unauthenticated
from workers import batches, providers

# Providers sign their webhooks; they cannot send our API key. Each endpoint answers only when
# its verification is configured: an open endpoint would let anyone suppress any address.
PROVIDER_SETTINGS = {"ses": "SES_TOPIC_ARNS", "sendgrid": "SENDGRID_VERIFICATION_KEY",
                     "mailgun": "MAILGUN_SIGNING_KEY", "postmark": "POSTMARK_WEBHOOK_TOKEN"}


@dataclass(frozen=True)
class Accepted:
    id: int
    status: str  # pending, or with jobs inline what processing made of it
    duplicate: bool  # received before: the same event


def accept_mail(raw: bytes, kind: str = "auto") -> Accepted:
    """Store one raw RFC 5322 message as an event, commit, and queue it."""
    if kind not in events.KINDS:
        raise Invalid(f"kind is one of {', '.join(events.KINDS)}", code="invalid_kind")
    if len(raw) > current_app.config["MAX_INBOUND_BYTES"]:
        raise TooLarge("the message is larger than MAX_INBOUND_BYTES")
    if not raw.strip():
        raise Invalid("send the raw message as the request body", code="empty_message")
    [(event_id, new)] = events.store("mail", [(raw, events.mail_key(raw))], kind)
    db.session.commit()
    status = batches.enqueue_event(event_id) if new else events.status_of(event_id)
    return Accepted(event_id, status, not new)


def accept_webhook(provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[list[int], int]:
    """Verify and store a provider's webhook, one event per provider event, and queue them:
    (the event ids, how many were duplicates)."""
    setting = PROVIDER_SETTINGS[provider]
    if not current_app.config[setting]:
        raise Forbidden(f"the {provider} webhook is off: set {setting}", code="provider_not_configured")
    adapter = providers.adapter(provider)
    try:
        adapter.verify(body, headers, current_app.config, time.time())
    except providers.Rejected as exc:
        raise Unauthenticated(f"{provider} payload refused: {exc}", code="bad_signature") from None
    try:
        found = [(raw, event) for raw in _items(provider, body)
                 for event in adapter.parse(raw, headers, current_app.config["ACCOUNT_HEADER"])]
    except (providers.Rejected, orjson.JSONDecodeError) as exc:
        raise Invalid(f"{provider} payload unreadable: {exc}", code="malformed_payload") from None
    stored = events.store(provider, [(raw, event.dedupe_key) for raw, event in found])
    db.session.commit()
    batches.enqueue_events([event_id for event_id, new in stored if new])
    return [event_id for event_id, _ in stored], sum(not new for _, new in stored)


def _items(provider: str, body: bytes) -> list[bytes]:
    """The payload, or for SendGrid's batches each event on its own (as a batch of one), so an
    event row holds its own event, not the whole batch."""
    if provider != "sendgrid":
        return [body]
    batch = orjson.loads(body) if body.strip() else None
    if not isinstance(batch, list):
        raise providers.Rejected("a SendGrid payload is a JSON array")
    return [orjson.dumps([item]) for item in batch]
