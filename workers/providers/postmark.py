"""Postmark webhooks: Bounce, SpamComplaint and SubscriptionChange records (one per request).

Postmark does not sign its webhooks. Settings: `POSTMARK_WEBHOOK_TOKEN`; an adapter built with it
wants it on every request, in one of two ways:
- HTTP Basic auth, as username or password: put it in the webhook URL Postmark calls
  (https://postmark:<token>@host/v1/inbound/postmark) or in the webhook's HttpAuth;
- the header `X-Webhook-Token`: set as a custom header in Postmark's webhook settings, or
  copied by the caller from the URL's `?token=<token>` query value before calling `verify`.
An adapter without a token accepts every payload (the endpoint stays off without one).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping

import config
from workers.findings import BOUNCE, COMPLAINT, OTHER, Classification, Original
from workers.providers import (
    ProviderEvent,
    Rejected,
    dedupe,
    digest,
    domain_of,
    header,
    header_names,
    iso_time,
    judge,
    load_json,
    lookup,
    obj,
    optional_obj,
    recipient,
    scalar,
    setting_text,
    status_code,
    text,
)

PROVIDER = "postmark"
TOKEN_HEADER = "X-Webhook-Token"
# Bounce Types, by what they say. Permanent, the mailbox gone (the reason when Details say nothing):
_DEAD_TYPES = {"HardBounce": "user_unknown", "BadEmailAddress": "invalid_address"}
# Temporary (the reason when Details say nothing):
_SOFT_TYPES = {"SoftBounce": "undefined", "Transient": "undefined", "DnsError": "network_error"}
# About the sender, never the address: always soft.
_SENDER_TYPES = {"Blocked": "blocked", "SpamNotification": "spam_block", "VirusNotification": "spam_block",
                 "DMARCPolicy": "auth_failure"}
_UNKNOWN_TYPES = {"Unknown"}  # a bounce, of no known kind
# Every other Type (AutoResponder, AddressChange, ManuallyDeactivated, ...) is not a bounce.


class Postmark:
    """Postmark's webhooks, checked with the webhook token."""

    def __init__(self, token: str | None = None, *, account_header: str = config.ACCOUNT_HEADER,
                 list_header: str = config.LIST_HEADER):
        self.token = token.encode() if token else None
        self.account_header, self.list_header = account_header, list_header

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> Postmark:
        """The adapter for POSTMARK_WEBHOOK_TOKEN."""
        return cls(setting_text(settings, "POSTMARK_WEBHOOK_TOKEN"), **header_names(settings))

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Rejected when the adapter has a token and the request does not carry it (see above)."""
        if self.token is None:
            return
        offered = [v for v in (*_basic_auth(header(headers, "Authorization")), header(headers, TOKEN_HEADER)) if v]
        if not any(hmac.compare_digest(v.encode("utf-8", "surrogatepass"), self.token) for v in offered):
            raise Rejected("webhook token missing or wrong")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        """The one event in a Postmark webhook payload; an opt-out is from the message's list when it names one."""
        payload = obj(load_json(body), "the payload")
        record = text(payload, "RecordType", required=True)
        original = _original(payload, self.account_header, self.list_header)
        if record == "Bounce":
            return [_bounce(payload, original)]
        if record == "SpamComplaint":
            return [_complaint(payload, original, "postmark SpamComplaint")]
        if record == "SubscriptionChange":
            return [_subscription_change(payload, original)]
        classification = Classification(OTHER, original=original, detail=f"postmark {record}: nothing to do")
        return [ProviderEvent(dedupe(PROVIDER, record, digest(payload)), classification,
                              occurred_at=_when(payload))]


def _basic_auth(value: str | None) -> tuple[str, ...]:
    if not value or value[:6].lower() != "basic ":
        return ()
    try:
        user, _, password = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return ()
    return user, password


def _bounce(payload: dict, original: Original) -> ProviderEvent:
    kind = text(payload, "Type", required=True)
    if kind == "SpamComplaint":
        return _complaint(payload, original, "postmark Bounce Type SpamComplaint")
    addr = text(payload, "Email", required=True).strip().lower()
    details = text(payload, "Details") or ""
    detail = f"postmark bounce {kind}"
    unsubscribe = kind == "Unsubscribe"
    if kind in _DEAD_TYPES or kind in _SOFT_TYPES or kind in _UNKNOWN_TYPES:
        permanent = True if kind in _DEAD_TYPES else False if kind in _SOFT_TYPES else None
        # Details holds the server's words; Description only describes the Type, in general terms.
        hard, reason = judge(None, permanent, details, _DEAD_TYPES.get(kind))
        if (hard, reason) == (False, "undefined") and kind in _SOFT_TYPES:
            reason = _SOFT_TYPES[kind]
        result = recipient(addr, action="failed", status=status_code(details), hard=hard, reason=reason,
                           diagnostic=details)
        classification = Classification(BOUNCE, (result,), original=original, detail=detail)
    elif kind in _SENDER_TYPES:
        result = recipient(addr, action="failed", status=status_code(details), hard=False, reason=_SENDER_TYPES[kind],
                           diagnostic=details)
        classification = Classification(BOUNCE, (result,), original=original, detail=detail)
    else:  # Unsubscribe, AutoResponder, AddressChange, ChallengeVerification, ManuallyDeactivated, ...
        result = recipient(addr, reason="unsubscribe" if unsubscribe else None, diagnostic=details)
        classification = Classification(OTHER, (result,), original=original,
                                        detail=detail + ("" if unsubscribe else ": not a bounce"))
    return ProviderEvent(_key(payload), classification, unsubscribe=unsubscribe,
                         unsubscribe_list=original.list_name if unsubscribe else None, occurred_at=_when(payload))


def _complaint(payload: dict, original: Original, detail: str) -> ProviderEvent:
    addr = text(payload, "Email", required=True).strip().lower()
    classification = Classification(COMPLAINT, (recipient(addr, reason="feedback"),), feedback_type="abuse",
                                    original=original, detail=detail)
    return ProviderEvent(_key(payload), classification, occurred_at=_when(payload))


def _subscription_change(payload: dict, original: Original) -> ProviderEvent:
    addr = text(payload, "Recipient", required=True).strip().lower()
    suppress = payload.get("SuppressSending")
    if not isinstance(suppress, bool):
        raise Rejected("SuppressSending is not true or false")
    why, origin = text(payload, "SuppressionReason"), text(payload, "Origin")
    detail = f"postmark subscription change SuppressSending={suppress} reason={why} origin={origin}"
    # The recipient's own opt-out (Postmark's unsubscribe link). Hard bounces and complaints have
    # their own Bounce / SpamComplaint records; a Customer or Admin suppression is the platform's.
    unsubscribe = suppress and why == "ManualSuppression" and origin in (None, "Recipient")
    result = recipient(addr, reason="unsubscribe" if unsubscribe else None)
    classification = Classification(OTHER, (result,), original=original, detail=detail)
    return ProviderEvent(dedupe(PROVIDER, "subscription", digest(payload)), classification,
                         unsubscribe=unsubscribe, unsubscribe_list=original.list_name if unsubscribe else None,
                         occurred_at=iso_time(payload.get("ChangedAt")))


def _key(payload: dict) -> str:
    bounce_id = scalar(payload, "ID")  # Postmark's bounce id: spam complaints are bounces too
    return dedupe(PROVIDER, bounce_id) if bounce_id else dedupe(PROVIDER, "bounce", digest(payload))


def _when(payload: dict) -> str | None:
    return next((iso_time(payload[k]) for k in ("BouncedAt", "ChangedAt", "DeliveredAt", "ReceivedAt")
                 if k in payload), None)


def _original(payload: dict, account_header: str, list_header: str) -> Original:
    metadata, content = optional_obj(payload, "Metadata"), text(payload, "Content")
    return Original(message_id=text(payload, "MessageID"), from_domain=domain_of(text(payload, "From")),
                    account_header=_sender_value(metadata, content, account_header),
                    list_name=_sender_value(metadata, content, list_header))


def _sender_value(metadata: dict, content: str | None, name: str) -> str | None:
    """The sender's value `name`: from the message's Metadata, or the bounce content's original headers."""
    value = lookup(metadata, name)
    if value is None and content and name:
        # The bounce message itself, when "include bounce content" is on: the original's headers.
        found = re.search(rf"^{re.escape(name)}:[ \t]*(\S[^\r\n]*)", content, re.IGNORECASE | re.MULTILINE)
        value = found.group(1).strip() if found else None
    return value
