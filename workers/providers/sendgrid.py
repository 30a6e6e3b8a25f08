"""Twilio SendGrid Event Webhook: a JSON array of events, signed with ECDSA P-256 when enabled.

Settings: `SENDGRID_VERIFICATION_KEY`, the Signed Event Webhook's verification key (base64 DER
SubjectPublicKeyInfo, as SendGrid shows it; PEM also accepted), read when the adapter is built.
An adapter built without a key accepts payloads unsigned (the endpoint stays off without one).

Events read: bounce (type "bounce" or "blocked"), blocked, dropped, spamreport, unsubscribe,
group_unsubscribe. Every other event (processed, deferred, delivered, open, click,
group_resubscribe, ...) is left out of the result: nothing to do for it.
The account and list headers are read from the event's custom args (unique args), which SendGrid
puts at the top level of each event: send each as a custom arg named like the header (settings
ACCOUNT_HEADER, LIST_HEADER). A group_unsubscribe is an opt-out from one unsubscribe group (ASM
group) only, so it is scoped to the message's list: the list custom arg, or else
`sendgrid-group-<asm_group_id>`. A plain unsubscribe is SendGrid's "unsubscribe from all": the
whole account.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import config
from workers.findings import BOUNCE, COMPLAINT, OTHER, Classification, Original
from workers.providers import (
    ProviderEvent,
    Rejected,
    dedupe,
    digest,
    header,
    header_names,
    iso_time,
    judge,
    load_json,
    lookup,
    message_id,
    obj,
    recipient,
    scalar,
    setting_text,
    text,
)

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_READ = {"bounce", "blocked", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
# bounce_classification values that are about the sender, never the address.
_SENDER_CLASSES = {"Reputation": "blocked", "Content": "spam_block", "Frequency or Volume Too High": "rate_limited"}
# dropped: SendGrid did not send, because of one of its own suppression lists.
_DROPPED_BOUNCE = {"bounced address": "suppressed", "invalid": "invalid_address"}


class SendGrid:
    """SendGrid's event webhook, checked with its verification key."""

    def __init__(self, verification_key: str | None = None, *, account_header: str = config.ACCOUNT_HEADER,
                 list_header: str = config.LIST_HEADER):
        self.key = public_key(verification_key) if verification_key else None
        self.account_header, self.list_header = account_header, list_header

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> SendGrid:
        """The adapter for SENDGRID_VERIFICATION_KEY; ValueError when it is not a P-256 public key."""
        return cls(setting_text(settings, "SENDGRID_VERIFICATION_KEY"), **header_names(settings))

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Rejected unless the ECDSA signature over timestamp + body checks with the key (any payload
        passes when the adapter has no key)."""
        if self.key is None:
            return
        signature, timestamp = header(headers, SIGNATURE_HEADER), header(headers, TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise Rejected("signature headers missing")
        try:
            der_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected("signature is not base64") from None
        try:
            self.key.verify(der_signature, timestamp.encode() + bytes(body), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Rejected("bad signature") from None

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        """The bounce, complaint and opt-out events in a SendGrid batch, in order."""
        batch = load_json(body)
        if not isinstance(batch, list):
            raise Rejected("the payload is not a JSON array")
        events = []
        for item in batch:
            item = obj(item, "event")
            name = text(item, "event", required=True)
            if name in _READ:
                events.append(_event(name, item, self.account_header, self.list_header))
        return events


def public_key(configured: str) -> ec.EllipticCurvePublicKey:
    """The P-256 key of the SendGrid setting (base64 DER, or PEM); ValueError naming the setting."""
    try:
        if configured.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(configured.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(configured, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise ValueError("SENDGRID_VERIFICATION_KEY is not a public key (base64 DER or PEM)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("SENDGRID_VERIFICATION_KEY is not a P-256 (ECDSA) public key")
    return key


def _event(name: str, item: dict, account_header: str, list_header: str) -> ProviderEvent:
    addr = text(item, "email", required=True).strip().lower()
    original = Original(message_id=message_id(text(item, "smtp-id") or scalar(item, "sg_message_id")),
                        account_header=lookup(item, account_header), list_name=lookup(item, list_header))
    only_list = None
    if name in ("bounce", "blocked"):
        classification = _bounce(name, item, addr, original)
    elif name == "dropped":
        classification = _dropped(item, addr, original)
    elif name == "spamreport":
        classification = Classification(COMPLAINT, (recipient(addr, reason="feedback"),), feedback_type="abuse",
                                        original=original, detail="sendgrid spamreport")
    else:
        classification, only_list = _opt_out(name, item, addr, original)
    key = dedupe(PROVIDER, scalar(item, "sg_event_id") or digest(item))
    return ProviderEvent(key, classification, unsubscribe=name in ("unsubscribe", "group_unsubscribe"),
                         unsubscribe_list=only_list, occurred_at=iso_time(item.get("timestamp")))


def _opt_out(name: str, item: dict, addr: str, original: Original) -> tuple[Classification, str | None]:
    """The opt-out, and the one list it is from: None for an unsubscribe (from all: the whole account);
    for a group_unsubscribe the sender's list custom arg, else a list named for the ASM group."""
    group = scalar(item, "asm_group_id")
    detail = f"sendgrid {name}" + (f" asm_group_id={group}" if group else "")
    classification = Classification(OTHER, (recipient(addr, reason="unsubscribe"),), original=original, detail=detail)
    if name != "group_unsubscribe":
        return classification, None
    return classification, original.list_name or (f"sendgrid-group-{group}" if group else None)


def _bounce(name: str, item: dict, addr: str, original: Original) -> Classification:
    kind = text(item, "type") or name  # "bounce" (permanent) or "blocked" (SendGrid: a temporary block)
    status, words = scalar(item, "status"), text(item, "reason") or ""
    label = text(item, "bounce_classification")
    if kind == "blocked":
        hard, reason = False, "blocked"
    elif label in _SENDER_CLASSES:
        hard, reason = False, _SENDER_CLASSES[label]
    else:
        hard, reason = judge(status, True, words, "user_unknown" if label == "Invalid Address" else None)
    result = recipient(addr, action="failed", status=status, hard=hard, reason=reason, diagnostic=words)
    return Classification(BOUNCE, (result,), original=original,
                          detail=f"sendgrid {name} type={kind}" + (f" ({label})" if label else ""))


def _dropped(item: dict, addr: str, original: Original) -> Classification:
    why = text(item, "reason") or ""
    dead = _DROPPED_BOUNCE.get(why.strip().lower())
    if dead:
        result = recipient(addr, action="failed", hard=True, reason=dead, diagnostic=why)
        return Classification(BOUNCE, (result,), original=original, detail=f"sendgrid dropped: {why}")
    # Unsubscribed Address, Spam Reporting Address, Spam Content, ...: not sent, and nothing new
    # about the address (the opt-out or complaint was its own event, perhaps for another dealer).
    return Classification(OTHER, (recipient(addr, reason="dropped", diagnostic=why),), original=original,
                          detail=f"sendgrid dropped: {why or '(no reason)'}")
