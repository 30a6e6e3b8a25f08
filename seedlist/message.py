"""What a seed message says about itself: who sent it, for which campaign, how it offers an
unsubscribe, and its text, read once for every audit rule.

Bounded by design: a header bomb or a 10 MB body costs the same few milliseconds as a normal
message (headers past MAX_HEADERS are not read; text past MAX_TEXT is not searched).
"""
from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import html
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr

MAX_HEADERS = 500  # more than this is a header bomb: the message is unreadable
MAX_TEXT = 1_000_000  # characters of body text searched (the postal address sits near the end)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
_URI = re.compile(r"<([^<>]*)>")
_TAG = re.compile(r"<[^>]*>")
_DKIM_DOMAIN = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


class NotMail(Exception):
    """Not a message this audit can read: no headers, no From, or a header bomb."""


@dataclass(frozen=True)
class Facts:
    from_address: str
    from_domain: str
    subject: str
    recipients: tuple[str, ...]  # lower-case addresses the message was delivered to
    unsubscribe_uris: tuple[str, ...]  # List-Unsubscribe, in order
    unsubscribe_post: tuple[str, ...]  # every List-Unsubscribe-Post value
    replies_to_something: bool  # In-Reply-To or References present
    campaign: str | None
    account_header: str | None
    return_path: str | None
    dkim_domains: tuple[str, ...]
    text: str  # the body's text (HTML without tags), whitespace collapsed, lower-case
    headers: tuple[tuple[str, str], ...]  # every header as (name, value), for Authentication-Results


def read(raw: bytes, campaign_header: str, account_header: str) -> Facts:
    """The facts of `raw`; NotMail when there is no message to audit."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if len(message.keys()) > MAX_HEADERS:
        raise NotMail(f"more than {MAX_HEADERS} headers")
    from_address = parseaddr(_header(message, "From") or "")[1].strip().lower()
    if "@" not in from_address:
        raise NotMail("no From address" if message.keys() else "no message headers")
    return Facts(
        from_address=from_address, from_domain=from_address.rsplit("@", 1)[1].rstrip("."),
        subject=_header(message, "Subject") or "",
        recipients=_recipients(message),
        unsubscribe_uris=tuple(uri.strip() for value in message.get_all("List-Unsubscribe") or ()
                               for uri in _URI.findall(_unfold(value))),
        unsubscribe_post=tuple(_unfold(v).strip() for v in message.get_all("List-Unsubscribe-Post") or ()),
        replies_to_something=bool(message.get("In-Reply-To") or message.get("References")),
        campaign=(_header(message, campaign_header) or "").strip() or None,
        account_header=(_header(message, account_header) or "").strip() or None,
        return_path=parseaddr(_header(message, "Return-Path") or "")[1].lower() or None,
        dkim_domains=tuple(m.group(1).lower().rstrip(".") for v in message.get_all("DKIM-Signature") or ()
                           if (m := _DKIM_DOMAIN.search(_unfold(v)))),
        text=_text(message),
        headers=tuple((name, _unfold(str(value))) for name, value in message.items()))


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", str(value))


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    try:
        decoded = email.header.make_header(email.header.decode_header(_unfold(str(value))))
        return str(decoded)[:1000]
    except (LookupError, ValueError, email.errors.HeaderParseError):
        return _unfold(str(value))[:1000]


def _recipients(message: Message) -> tuple[str, ...]:
    values = [_unfold(str(v)) for name in _RECIPIENT_HEADERS for v in message.get_all(name) or ()]
    return tuple(dict.fromkeys(a.lower() for _, a in getaddresses(values) if "@" in a))


def _text(message: Message) -> str:
    parts, size = [], 0
    for part in message.walk() if message.is_multipart() else [message]:
        if part.get_content_maintype() != "text" or size > MAX_TEXT:
            continue
        text = _decoded(part)
        if part.get_content_subtype() == "html":
            text = html.unescape(_TAG.sub(" ", text))
        parts.append(text[:MAX_TEXT])
        size += len(text)
    return " ".join(" ".join(parts).split()).lower()[:MAX_TEXT]


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")
