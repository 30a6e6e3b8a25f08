"""Inbound mail: stored raw first, answered 202 with the event id, then processed by a job."""
from __future__ import annotations

import time
from datetime import datetime

import orjson
from flask import current_app, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from suppression import events
from suppression.api.auth import requires
from suppression.api.schemas import ERRORS
from suppression.errors import DomainError, Forbidden, Invalid
from suppression.models import Role
from workers import providers
from workers.queues import enqueue_event, enqueue_events


class Unauthenticated(DomainError):
    status = 401
    code = "bad_signature"

bp = APIBlueprint("inbound", __name__, url_prefix="/v1/inbound", abp_tags=[Tag(name="inbound")],
                  abp_security=[{"bearer": []}], abp_responses=ERRORS)

RAW_MAIL = {"requestBody": {"content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}}}}


KIND_PARAMETER = {"parameters": [{"name": "kind", "in": "query", "required": False, "schema": {
    "type": "string", "enum": list(events.KINDS), "default": "auto"},
    "description": "What the message is, if the sender knows: unsubscribe is mail to the mailto address"}]}


class Accepted(BaseModel):
    id: int
    status: str
    duplicate: bool = Field(description="true when this message was received before: the same event")


class EventPath(BaseModel):
    event_id: int


class EventView(BaseModel):
    id: int
    source: str
    kind: str
    status: str
    attempts: int
    error: str | None
    account_id: int | None
    received_at: datetime
    processed_at: datetime | None
    classification: dict | None


@bp.post("/mail", responses={202: Accepted}, openapi_extensions=RAW_MAIL | KIND_PARAMETER)
@requires(Role.ingest)
def inbound_mail():
    """Accept one raw RFC 5322 message (from an MTA pipe or a mailbox poller)."""
    kind = request.args.get("kind", "auto")  # read by hand: a pydantic query model costs 0.5 ms a call
    if kind not in events.KINDS:
        raise Invalid(f"kind is one of {', '.join(events.KINDS)}", code="invalid_kind")
    request.max_content_length = current_app.config["MAX_INBOUND_BYTES"]
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise Invalid("send the raw message as the request body", code="empty_message")
    [(event_id, new)] = events.store("mail", [(raw, events.mail_key(raw))], kind)  # before anything reads it
    status = enqueue_event(event_id) if new else events.status_of(event_id)
    return {"id": event_id, "status": status, "duplicate": not new}, 202


class ProviderAccepted(BaseModel):
    ids: list[int] = Field(description="One event per provider event (per recipient); duplicates keep their first id")
    duplicates: int


# Providers sign their webhooks; they cannot send our API key. Each endpoint answers only when
# its verification is configured: an open endpoint would let anyone suppress any address.
PROVIDER_SETTINGS = {"ses": "SES_TOPIC_ARNS", "sendgrid": "SENDGRID_VERIFICATION_KEY",
                     "mailgun": "MAILGUN_SIGNING_KEY", "postmark": "POSTMARK_WEBHOOK_TOKEN"}


@bp.post("/ses", responses={202: ProviderAccepted}, security=[])
def inbound_ses():
    """Amazon SES notifications via SNS (Bounce, Complaint; SubscriptionConfirmation confirmed)."""
    return _accept("ses")


@bp.post("/sendgrid", responses={202: ProviderAccepted}, security=[])
def inbound_sendgrid():
    """SendGrid's signed event webhook (bounce, blocked, dropped, spamreport, unsubscribes)."""
    return _accept("sendgrid")


@bp.post("/mailgun", responses={202: ProviderAccepted}, security=[])
def inbound_mailgun():
    """Mailgun's webhook (HMAC-signed; stale or replayed timestamps refused)."""
    return _accept("mailgun")


@bp.post("/postmark", responses={202: ProviderAccepted}, security=[])
def inbound_postmark():
    """Postmark's bounce, spam complaint and subscription change webhooks (`?token=` or Basic auth)."""
    return _accept("postmark")


def _accept(provider: str):
    if not current_app.config[PROVIDER_SETTINGS[provider]]:
        raise Forbidden(f"the {provider} webhook is off: set {PROVIDER_SETTINGS[provider]}", code="provider_not_configured")
    adapter = providers.adapter(provider)
    body = request.get_data(cache=False)
    headers = dict(request.headers) | ({"X-Webhook-Token": request.args["token"]} if "token" in request.args else {})
    try:
        adapter.verify(body, headers, current_app.config, time.time())
    except providers.Rejected as exc:
        raise Unauthenticated(f"{provider} payload refused: {exc}") from None
    try:
        found = [(raw, event) for raw in _items(provider, body)
                 for event in adapter.parse(raw, headers, current_app.config["ACCOUNT_HEADER"])]
    except (providers.Rejected, orjson.JSONDecodeError) as exc:
        raise Invalid(f"{provider} payload unreadable: {exc}", code="malformed_payload") from None
    stored = events.store(provider, [(raw, event.dedupe_key) for raw, event in found])  # before anything reads them
    enqueue_events([event_id for event_id, new in stored if new])  # statuses: GET /v1/inbound/<id>
    return {"ids": [event_id for event_id, _ in stored], "duplicates": sum(not new for _, new in stored)}, 202


def _items(provider: str, body: bytes) -> list[bytes]:
    """The payload, or for SendGrid's batches each event on its own (as a batch of one), so an
    event row holds its own event, not the whole batch."""
    if provider != "sendgrid":
        return [body]
    batch = orjson.loads(body) if body.strip() else None
    if not isinstance(batch, list):
        raise providers.Rejected("a SendGrid payload is a JSON array")
    return [orjson.dumps([item]) for item in batch]


@bp.get("/<int:event_id>", responses={200: EventView})
@requires(Role.ingest, Role.staff)
def show_event(path: EventPath):
    """An event's status and what it was read as."""
    return view(events.get(path.event_id))


def view(event) -> dict:
    """An event as the API shows it (no raw bytes)."""
    return {"id": event.id, "source": event.source, "kind": event.kind, "status": event.status.value,
            "attempts": event.attempts, "error": event.error, "account_id": event.account_id,
            "received_at": event.received_at, "processed_at": event.processed_at,
            "classification": event.classification}
