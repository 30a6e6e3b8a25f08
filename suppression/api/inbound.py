"""Inbound mail: stored raw first, answered 202 with the event id, then processed by a job."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, request
from pydantic import BaseModel, Field

from suppression import events
from suppression.api.auth import public, requires
from suppression.api.blueprint import api_blueprint, takes_query
from suppression.api.schemas import UNSUPPORTED, Id, Strict
from suppression.models import Role
from suppression.web import bodies
from workers import inbound

bp = api_blueprint("inbound", __name__, "inbound", url_prefix="/v1/inbound")


RAW_MAIL = {"requestBody": {"content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}}}}


KIND_PARAMETER = {"parameters": [{"name": "kind", "in": "query", "required": False, "schema": {
    "type": "string", "enum": list(events.KINDS), "default": "auto"},
    "description": "What the message is, if the sender knows: unsubscribe is mail to the mailto address"}]}


class Accepted(BaseModel):
    id: int
    status: str
    duplicate: bool = Field(description="true when this message was received before: the same event")


class EventPath(Strict):
    event_id: Id


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


@bp.post("/mail", responses={202: Accepted, **UNSUPPORTED}, openapi_extensions=RAW_MAIL | KIND_PARAMETER)
@requires(Role.ingest)
@takes_query("kind")
def inbound_mail():
    """Accept one raw RFC 5322 message (from an MTA pipe or a mailbox poller)."""
    # `kind` read by hand: a pydantic query model costs 0.5 ms a call.
    accepted = inbound.accept_mail(_body("the message"), request.args.get("kind", "auto"))
    return {"id": accepted.id, "status": accepted.status, "duplicate": accepted.duplicate}, 202


class ProviderAccepted(BaseModel):
    ids: list[int] = Field(description="One event per provider event (per recipient); duplicates keep their first id")
    duplicates: int


@bp.post("/ses", responses={202: ProviderAccepted, **UNSUPPORTED}, security=[])
@public
def inbound_ses():
    """Amazon SES notifications via SNS (Bounce, Complaint; SubscriptionConfirmation confirmed)."""
    return _accept("ses")


@bp.post("/sendgrid", responses={202: ProviderAccepted, **UNSUPPORTED}, security=[])
@public
def inbound_sendgrid():
    """SendGrid's signed event webhook (bounce, blocked, dropped, spamreport, unsubscribes)."""
    return _accept("sendgrid")


@bp.post("/mailgun", responses={202: ProviderAccepted, **UNSUPPORTED}, security=[])
@public
def inbound_mailgun():
    """Mailgun's webhook (HMAC-signed; stale or replayed timestamps refused)."""
    return _accept("mailgun")


@bp.post("/postmark", responses={202: ProviderAccepted, **UNSUPPORTED}, security=[])
@public
@takes_query("token")
def inbound_postmark():
    """Postmark's bounce, spam complaint and subscription change webhooks (`?token=` or Basic auth)."""
    return _accept("postmark")


def _accept(provider: str):
    headers = dict(request.headers) | ({"X-Webhook-Token": request.args["token"]} if "token" in request.args else {})
    ids, duplicates = inbound.accept_webhook(provider, _body(f"the {provider} payload"), headers)
    return {"ids": ids, "duplicates": duplicates}, 202


def _body(what: str) -> bytes:
    # Whole or refused: a fragment stored would be read, and its sender's retry counted again.
    return bodies.whole(current_app.config["MAX_INBOUND_BYTES"], what)


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
