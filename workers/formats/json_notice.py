"""Bounce and complaint notices sent by mail as JSON: an Amazon SES event (raw or in its SNS
envelope), or another provider's event or a list of them (SendGrid, Mailgun, Postmark, SparkPost
and similar write one object per recipient with an address, an event type and the server's words).

SES events are read by workers/providers/ses.py, as for its webhook, so a bounce means the same
thing whichever way it came. Other events are read by their shape, not their provider: an object
that names an address and says it bounced, failed or was complained about.
"""
from __future__ import annotations

import json
import re

from workers import mime, status
from workers.findings import BOUNCE, COMPLAINT, OTHER, Classification, RecipientResult
from workers.formats.plain import ADDRESS
from workers.providers import Rejected, ses

MAX_JSON = 200_000  # characters of a body read as JSON
MAX_OBJECTS = 2_000  # objects visited in one document
_ADDRESS = re.compile(ADDRESS)
_RECIPIENT_KEYS = ("emailaddress", "email", "recipient", "rcpt", "address", "to", "email_address")
_EVENT_KEYS = ("event", "type", "eventtype", "recordtype", "bouncetype", "bounce_type", "status", "result")
_WORD_KEYS = ("diagnosticcode", "diagnostic", "reason", "description", "details", "error", "message",
              "response", "smtp-response", "smtp_response", "status", "code", "bounce_classification")
_BOUNCED = re.compile(r"bounce|fail|drop|reject|undeliver|block|permanent|hard|soft|transient|delay|defer")
_COMPLAINED = re.compile(r"complain|spam ?report|abuse|feedback")
_DELAYED = re.compile(r"delay|defer")
_DELIVERED = re.compile(r"^(?:delivered|delivery|sent|processed|open|click|accepted)")


def read(root: mime.Part, account_header: str, list_header: str) -> Classification | None:
    """A Classification for a JSON notice in a single-part message; None when the body is not one."""
    document = _document(root)
    if document is None:
        return None
    if isinstance(document, dict) and (document.get("notificationType") or document.get("eventType")):
        try:
            return ses.read_event(document, account_header, list_header)
        except Rejected as exc:  # an SES notification, but not one we can read: kept, acts on nothing
            return Classification(OTHER, detail=f"unreadable Amazon SES notification: {exc}"[:300])
    return _events(document)


def _document(root: mime.Part):
    if root.parts:
        texts = [part for part in root.walk() if part.ctype in ("application/json", "text/plain") and not part.parts]
        if len(texts) != 1:
            return None
        root = texts[0]
    text = root.text().strip()
    if not text[:1] in "{[" or len(text) > MAX_JSON:
        return None
    try:  # the JSON first, then maybe a signature or an unsubscribe footer
        document, _ = json.JSONDecoder().raw_decode(text)
        if isinstance(document, dict) and isinstance(document.get("Message"), str):  # the raw SNS envelope
            document = json.loads(document["Message"])
    except (ValueError, RecursionError):
        return None
    return document


def _events(document) -> Classification | None:
    bounced: list[RecipientResult] = []
    complained: list[RecipientResult] = []
    for item in _objects(document):
        found = _event(item)
        if found is not None:
            (complained if found.reason == "feedback" else bounced).append(found)
    if complained and not bounced:
        return Classification(COMPLAINT, tuple(_unique(complained)), "abuse", detail="complaint notice in JSON")
    if bounced:
        return Classification(BOUNCE, tuple(_unique(bounced)), detail="bounce notice in JSON")
    return None


def _objects(document):
    """Every JSON object in the document, breadth first, at most MAX_OBJECTS."""
    queue, seen = [document], 0
    while queue and seen < MAX_OBJECTS:
        item = queue.pop(0)
        if isinstance(item, dict):
            seen += 1
            yield {str(key).lower(): value for key, value in item.items()}
            queue.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            queue.extend(v for v in item[:MAX_OBJECTS] if isinstance(v, (dict, list)))


def _event(item: dict) -> RecipientResult | None:
    address = next((m.group(0).lower() for key in _RECIPIENT_KEYS if isinstance(item.get(key), str)
                    for m in [_ADDRESS.search(item[key])] if m), None)
    if address is None:
        return None
    what = " ".join(str(item[key]).lower() for key in _EVENT_KEYS if isinstance(item.get(key), (str, int)))
    if _COMPLAINED.search(what):
        return RecipientResult(address, None, None, None, "feedback")
    if not _BOUNCED.search(what) or _DELIVERED.match(what):
        return None
    words = " ".join(str(item[key]) for key in _WORD_KEYS if isinstance(item.get(key), (str, int)))
    delayed = bool(_DELAYED.search(what))
    # The server's words decide, as for every reader; a provider's own soft/hard label does not.
    reason, hard, code = status.interpret(None, words, failed=not delayed)
    return RecipientResult(address, "delayed" if delayed else "failed", code, hard, reason, " ".join(words.split())[:300] or None)


def _unique(results: list[RecipientResult]) -> list[RecipientResult]:
    """The first result for each address, in order."""
    first: dict[str, RecipientResult] = {}
    for result in results:
        first.setdefault(result.address, result)
    return list(first.values())
