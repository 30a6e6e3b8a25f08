"""Mailgun webhooks (the current JSON ones): `signature` {timestamp, token, signature} + `event-data`.

Settings: `MAILGUN_SIGNING_KEY` (the HTTP webhook signing key; without it every payload is
refused), `MAILGUN_MAX_AGE` (seconds a timestamp may be off from now; default 300).

The signature covers only timestamp + token, not the event: the dedupe key is therefore the
token alone, so a token seen before (a replay, whatever event it carries) is the same event to
the caller. Every payload gives exactly one ProviderEvent (kind "other" for events with nothing
to do), so that every token is recorded.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from config import ACCOUNT_HEADER, LIST_HEADER
from workers.findings import BOUNCE, COMPLAINT, OTHER, Classification, Original
from workers.providers import (
    ProviderEvent,
    Rejected,
    dedupe,
    domain_of,
    hardness,
    iso_time,
    judge,
    load_json,
    lookup,
    message_id,
    obj,
    optional_obj,
    recipient,
    scalar,
    setting_text,
    status_code,
    text,
)

PROVIDER = "mailgun"
DEFAULT_MAX_AGE = 300
# failed events Mailgun did not even try, because of its own suppression lists.
_SUPPRESSED = {"suppress-unsubscribe": "provider_unsubscribed", "suppress-complaint": "provider_complained"}


def verify(body: bytes, headers: Mapping[str, str], settings: Mapping[str, object], now: float) -> None:
    """Rejected unless signature = HMAC-SHA256(MAILGUN_SIGNING_KEY, timestamp + token), timestamp fresh."""
    key = setting_text(settings, "MAILGUN_SIGNING_KEY")
    if not key:
        raise Rejected("MAILGUN_SIGNING_KEY is not configured")
    timestamp, token, signature = _signature(obj(load_json(body), "the payload"))
    try:
        max_age = float(settings.get("MAILGUN_MAX_AGE") or DEFAULT_MAX_AGE)
    except (TypeError, ValueError):
        max_age = DEFAULT_MAX_AGE
    if not timestamp.isdigit() or abs(now - int(timestamp)) > max_age:
        raise Rejected("timestamp too old or in the future")
    expected = hmac.new(key.encode(), (timestamp + token).encode("utf-8", "surrogatepass"), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest().encode(), signature.strip().lower().encode("utf-8", "replace")):
        raise Rejected("bad signature")


def parse(body: bytes, headers: Mapping[str, str], account_header: str = ACCOUNT_HEADER,
          list_header: str = LIST_HEADER) -> list[ProviderEvent]:
    """The one event in a Mailgun webhook payload; an opt-out is from the message's list when it names one."""
    payload = obj(load_json(body), "the payload")
    _, token, _ = _signature(payload)
    data = obj(payload.get("event-data"), "event-data")
    name = text(data, "event", required=True)
    addr = text(data, "recipient", required=name in ("failed", "complained", "unsubscribed"))
    addr = addr.strip().lower() if addr else None
    original = _original(data, account_header, list_header)
    if name == "failed":
        classification = _failed(data, addr, original)
    elif name == "complained":
        classification = Classification(COMPLAINT, (recipient(addr, reason="feedback"),), feedback_type="abuse",
                                        original=original, detail="mailgun complained")
    elif name == "unsubscribed":
        classification = Classification(OTHER, (recipient(addr, reason="unsubscribe"),), original=original,
                                        detail="mailgun unsubscribed")
    else:
        classification = Classification(OTHER, original=original, detail=f"mailgun {name}: nothing to do")
    unsubscribe = name == "unsubscribed"
    return [ProviderEvent(dedupe(PROVIDER, token), classification, unsubscribe=unsubscribe,
                          unsubscribe_list=original.list_name if unsubscribe else None,
                          occurred_at=iso_time(data.get("timestamp")))]


def _signature(payload: dict) -> tuple[str, str, str]:
    signed = obj(payload.get("signature"), "signature")
    timestamp = scalar(signed, "timestamp")
    if not timestamp:
        raise Rejected("timestamp is missing")
    return timestamp.strip(), text(signed, "token", required=True), text(signed, "signature", required=True)


def _failed(data: dict, addr: str, original: Original) -> Classification:
    severity, why = text(data, "severity"), text(data, "reason") or ""
    status_block = optional_obj(data, "delivery-status")
    words = " ".join(filter(None, (text(status_block, "message"), text(status_block, "description"))))
    status = status_code(text(status_block, "enhanced-code"), words)
    smtp = scalar(status_block, "code")
    detail = f"mailgun failed severity={severity} reason={why}" + (f" code={smtp}" if smtp else "")
    if why in _SUPPRESSED:
        # Not sent; the opt-out or complaint was its own event, perhaps for another dealer.
        result = recipient(addr, action="failed", reason=_SUPPRESSED[why], diagnostic=words)
        return Classification(OTHER, (result,), original=original, detail=detail)
    if severity != "permanent":
        # Mailgun retries a temporary failure, and reports a final "permanent" one if it gives up.
        _, reason = hardness(status, False, words)
        result = recipient(addr, action="delayed", status=status, reason=reason, diagnostic=words)
        return Classification(OTHER, (result,), original=original, detail=detail + ": Mailgun retries")
    if why == "espblock":
        hard, reason = False, "blocked"
    else:
        hard, reason = judge(status, True, words, "suppressed" if why == "suppress-bounce" else None)
        if why == "old" and reason == "undefined":
            reason = "expired"
    result = recipient(addr, action="failed", status=status, hard=hard, reason=reason, diagnostic=words)
    return Classification(BOUNCE, (result,), original=original, detail=detail)


def _original(data: dict, account_header: str, list_header: str) -> Original:
    message = optional_obj(data, "message")
    message_headers = optional_obj(message, "headers")
    envelope = optional_obj(data, "envelope")
    variables = optional_obj(data, "user-variables")
    return Original(message_id=message_id(text(message_headers, "message-id")),
                    from_domain=domain_of(text(message_headers, "from")),
                    account_header=lookup(variables, account_header), list_name=lookup(variables, list_header),
                    return_path=text(envelope, "sender"))
