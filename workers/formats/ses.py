"""Amazon SES notifications delivered by e-mail (an SNS topic with an e-mail subscription).

The body is the SES JSON event: notificationType Bounce, Complaint or Delivery. The bounce's
own status code is read before SES's bounceType label (SES has called 5.4.4 "Transient").
"""
from __future__ import annotations

import json
from dataclasses import replace

from workers import mime, status
from workers.findings import (
    BOUNCE,
    COMPLAINT,
    OTHER,
    Classification,
    Original,
    RecipientResult,
)

MAX_JSON = 200_000


def read(root: mime.Part, account_header: str = "x-account-id") -> Classification | None:
    """A Classification for an SES notification e-mail; None when the message is not one."""
    if root.parts or "amazonaws.com" not in (root.get("from") or "").lower():
        return None
    text = root.text()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start or end - start > MAX_JSON:
        return None
    try:
        event = json.loads(text[start:end + 1])
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("Message"), str):  # the raw SNS envelope
        try:
            event = json.loads(event["Message"])
        except ValueError:
            return None
    return from_event(event, account_header) if isinstance(event, dict) else None


def from_event(event: dict, account_header: str = "x-account-id") -> Classification | None:
    """A Classification for one SES event object (its `mail` object gives the original)."""
    found = _verdict(event)
    if found is None:
        return None
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    return replace(found, original=original_of(mail, account_header))


def original_of(mail: dict, account_header: str) -> Original:
    """Who sent the original, from the SES `mail` object (source, messageId, headers)."""
    headers = {str(h.get("name", "")).lower(): str(h.get("value", ""))
               for h in mail.get("headers") or [] if isinstance(h, dict)}
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    senders = common.get("from") or [headers.get("from", "")]
    sender = str(senders[0]) if isinstance(senders, list) and senders else ""
    domain = sender.rpartition("@")[2].strip(" >").lower() or None
    message_id = headers.get("message-id", "").strip("<> ") or None
    return Original(message_id=message_id or (str(mail["messageId"]) if mail.get("messageId") else None),
                    from_domain=domain, account_header=headers.get(account_header.lower()) or None,
                    return_path=str(mail["source"]).lower() if mail.get("source") else None)


def _verdict(event: dict) -> Classification | None:
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    if kind == "Bounce":
        return _bounce(event.get("bounce") or {})
    if kind == "Complaint":
        complaint = event.get("complaint") or {}
        feedback_type = str(complaint.get("complaintFeedbackType") or "abuse").lower()
        recipients = tuple(RecipientResult(_address(r), None, None, None, "feedback")
                           for r in complaint.get("complainedRecipients") or [] if _address(r))
        kind = OTHER if feedback_type == "not-spam" else COMPLAINT
        return Classification(kind, recipients, feedback_type, detail="Amazon SES complaint notification")
    if kind == "Delivery":
        delivery = event.get("delivery") or {}
        recipients = tuple(RecipientResult(str(r).lower(), "delivered", status.find_code(delivery.get("smtpResponse")),
                                           None, "delivered") for r in delivery.get("recipients") or [])
        return Classification(OTHER, recipients, detail="Amazon SES delivery notification")
    return None


def _bounce(bounce: dict) -> Classification:
    transient = str(bounce.get("bounceType") or "") == "Transient"
    results = []
    for recipient in bounce.get("bouncedRecipients") or []:
        address = _address(recipient)
        if not address:
            continue
        diagnostic = str(recipient.get("diagnosticCode") or "") or None
        reason, hard, code = status.interpret(recipient.get("status"), diagnostic, failed=True)
        action = str(recipient.get("action") or ("delayed" if transient and code is None else "failed")).lower()
        results.append(RecipientResult(address, action, code, hard, reason, diagnostic and diagnostic[:300]))
    return Classification(BOUNCE, tuple(results), detail=f"Amazon SES bounce notification ({bounce.get('bounceType')})")


def _address(recipient) -> str | None:
    if isinstance(recipient, dict):
        recipient = recipient.get("emailAddress")
    if not isinstance(recipient, str) or "@" not in recipient:
        return None
    return recipient.strip().strip("<>").lower()
