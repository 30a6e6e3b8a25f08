"""Mailgun webhooks (the current JSON ones): `signature` {timestamp, token, signature} + `event-data`.

Settings: `MAILGUN_SIGNING_KEY` (the HTTP webhook signing key; an adapter without it refuses every
payload), `MAILGUN_MAX_AGE` (seconds a timestamp may be off from now; default 300).

The signature covers only timestamp + token, not the event: the dedupe key is therefore the
token alone, so a token seen before (a replay, whatever event it carries) is the same event to
the caller. Every payload gives exactly one ProviderEvent (kind "other" for events with nothing
to do), so that every token is recorded.
"""
from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping

import config
from workers.findings import BOUNCE, COMPLAINT, OTHER, Classification, Original
from workers.providers import (
    ProviderEvent,
    Rejected,
    dedupe,
    domain_of,
    hardness,
    header_names,
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


class Mailgun:
    """Mailgun's webhooks, checked with the signing key; timestamps older than `max_age` seconds refused."""

    def __init__(self, signing_key: str | None = None, max_age: float = DEFAULT_MAX_AGE, *,
                 account_header: str = config.ACCOUNT_HEADER, list_header: str = config.LIST_HEADER):
        self.signing_key, self.max_age = signing_key, max_age
        self.account_header, self.list_header = account_header, list_header

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> Mailgun:
        """The adapter for MAILGUN_SIGNING_KEY and MAILGUN_MAX_AGE; ValueError when the age is not seconds."""
        return cls(setting_text(settings, "MAILGUN_SIGNING_KEY"), max_age(settings.get("MAILGUN_MAX_AGE")),
                   **header_names(settings))

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Rejected unless signature = HMAC-SHA256(signing key, timestamp + token), timestamp fresh."""
        if not self.signing_key:
            raise Rejected("MAILGUN_SIGNING_KEY is not configured")
        timestamp, token, signature = _signature(obj(load_json(body), "the payload"))
        if not timestamp.isdigit() or abs(now - int(timestamp)) > self.max_age:
            raise Rejected("timestamp too old or in the future")
        expected = hmac.new(self.signing_key.encode(), (timestamp + token).encode("utf-8", "surrogatepass"),
                            hashlib.sha256)
        offered = signature.strip().lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected.hexdigest().encode(), offered):
            raise Rejected("bad signature")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        """The one event in a Mailgun webhook payload; an opt-out is from the message's list when it names one."""
        payload = obj(load_json(body), "the payload")
        _, token, _ = _signature(payload)
        data = obj(payload.get("event-data"), "event-data")
        name = text(data, "event", required=True)
        addr = text(data, "recipient", required=name in ("failed", "complained", "unsubscribed"))
        addr = addr.strip().lower() if addr else None
        original = _original(data, self.account_header, self.list_header)
        unsubscribe = name == "unsubscribed"
        return [ProviderEvent(dedupe(PROVIDER, token), _classification(name, data, addr, original),
                              unsubscribe=unsubscribe, unsubscribe_list=original.list_name if unsubscribe else None,
                              occurred_at=iso_time(data.get("timestamp")))]


def max_age(value: object) -> float:
    """MAILGUN_MAX_AGE as seconds (unset: DEFAULT_MAX_AGE); ValueError naming the setting."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_MAX_AGE
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"MAILGUN_MAX_AGE is not a number of seconds above 0: {value!r}")
    return seconds


def _classification(name: str, data: dict, addr: str | None, original: Original) -> Classification:
    if name == "failed":
        return _failed(data, addr, original)
    if name == "complained":
        return Classification(COMPLAINT, (recipient(addr, reason="feedback"),), feedback_type="abuse",
                              original=original, detail="mailgun complained")
    if name == "unsubscribed":
        return Classification(OTHER, (recipient(addr, reason="unsubscribe"),), original=original,
                              detail="mailgun unsubscribed")
    return Classification(OTHER, original=original, detail=f"mailgun {name}: nothing to do")


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
