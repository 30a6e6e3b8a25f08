"""Amazon SES notifications delivered by e-mail (an SNS topic with an e-mail subscription).

The body is the SES JSON event (or its SNS envelope, when raw delivery is off). This module only
finds that JSON in the message; workers/providers/ses.py reads it, as it does for the same JSON
arriving by webhook, so a bounce means the same thing whichever way it came.
"""
from __future__ import annotations

import json

from workers import mime
from workers.findings import OTHER, Classification
from workers.providers import Rejected, ses

MAX_JSON = 200_000


def read(root: mime.Part, account_header: str, list_header: str) -> Classification | None:
    """A Classification for an SES notification e-mail (the two header names as for the webhook); None
    when the message is not one."""
    event = _event(root)
    if event is None or not (event.get("notificationType") or event.get("eventType")):
        return None
    try:
        return ses.read_event(event, account_header, list_header)
    except Rejected as exc:  # an SES notification, but not one we can read: kept, acts on nothing
        return Classification(OTHER, detail=f"unreadable Amazon SES notification: {exc}"[:300])


def _event(root: mime.Part) -> dict | None:
    """The SES event object in the body of a single-part mail from amazonaws.com, or None."""
    if root.parts or "amazonaws.com" not in (root.get("from") or "").lower():
        return None
    text = root.text()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start or end - start > MAX_JSON:
        return None
    try:
        event = json.loads(text[start:end + 1])
        if isinstance(event, dict) and isinstance(event.get("Message"), str):  # the raw SNS envelope
            event = json.loads(event["Message"])
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None
