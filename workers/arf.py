"""Complaints: ARF feedback reports (RFC 5965) and non-ARF provider feedback loops.

ARF: multipart/report; report-type=feedback-report, with a message/feedback-report part
(Feedback-Type, Original-Rcpt-To, ...) and the original message (or its headers) last.
Non-ARF: Microsoft's JMRP/SNDS style loop forwards the complained-about message as a
message/rfc822 part with X-HmXmrOriginalRecipient in its headers; other providers send a
notification that says a recipient complained or marked the message as spam, with the message
attached or its headers pasted below.

Feedback-Type abuse, fraud, virus, other, opt-out (and unknown types) are complaints.
`not-spam` (the user says the message is NOT spam) and `auth-failure` (RFC 6591, a DMARC/SPF
forensic report from a receiving system, not a person's complaint) are kind "other", with
their feedback_type kept so an operator sees what arrived.
"""
from __future__ import annotations

import re

from config.policy import NOT_COMPLAINTS
from workers import mime
from workers.findings import COMPLAINT, OTHER, Classification, RecipientResult
from workers.formats.plain import ADDRESS

_ADDRESS = re.compile(ADDRESS)
_HOTMAIL_RECIPIENT = "x-hmxmroriginalrecipient"
_FBL_SUBJECT = re.compile(r"complaint about message from|abuse report|feedback loop|spam report|\bfbl\b", re.IGNORECASE)
_FBL_SENDER = re.compile(r"staff@hotmail\.com|fbl|feedback|abuse|complaints?@", re.IGNORECASE)
# A person's complaint in a provider's own words (not a bounce that says "rejected as spam").
_COMPLAINT_WORDS = re.compile(
    r"(?:marked|reported|flagged|classified) (?:[\w-]+ ){0,3}as (?:spam|junk|abuse)"
    r"|(?:spam|abuse) complaint|complaint (?:about|regarding|from|was received)|received a complaint"
    r"|feedback loop|abuse report|this is an? (?:spam|abuse|email abuse) report")  # on lower-cased text
# An ARF report's own fields written in a text: Feedback-Type with the fields that go with it.
_REPORT_FIELDS = re.compile(r"^feedback-type:[ \t]*[\w-]+[ \t]*\n(?:[\w-]+:.*\n){0,20}?"
                            r"(?:user-agent|version|original-rcpt-to|arrival-date|source-ip|reported-domain):",
                            re.IGNORECASE | re.MULTILINE)
_COMPLAINT_GATE = ("spam", "junk", "abuse", "complaint", "feedback")
_UNDELIVERED = re.compile(r"not (?:be )?delivered|undeliver|delivery (?:has )?failed|could not deliver")


def feedback_part(root: mime.Part) -> mime.Part | None:
    """The message/feedback-report part of an ARF report, if any; else a text part that holds the
    report's fields itself (a report forwarded as text, or sent with the wrong content type)."""
    texts = []
    for part in root.walk():
        if part.ctype == "message/feedback-report":
            return part
        if part.ctype in ("text/plain", "message/feedback") and not part.parts:
            texts.append(part)
    return next((part for part in texts if _REPORT_FIELDS.search(part.text()[:20_000])), None)


def read(root: mime.Part, original: mime.Part | None, notice: str = "") -> Classification | None:
    """A Classification for an ARF report or a provider feedback loop; None when it is neither.
    `notice` is the message's own text, before any returned original."""
    report = feedback_part(root)
    if report is not None:
        return _arf(report, original)
    return _non_arf(root, original, notice)


def _arf(report: mime.Part, original: mime.Part | None) -> Classification:
    fields: dict[str, str] = {}
    for block in mime.field_blocks(report.text()):
        for name, value in block.items():
            fields.setdefault(name, value)
    feedback_type = ((fields.get("feedback-type") or "").lower().split() or ["abuse"])[0][:40]
    addresses = _addresses(fields.get("original-rcpt-to", "")) or _addresses(fields.get("removal-recipient", ""))
    if not addresses and original is not None:
        addresses = _original_recipients(original)
    kind = OTHER if feedback_type in NOT_COMPLAINTS else COMPLAINT
    recipients = tuple(RecipientResult(address, None, None, None, "feedback") for address in addresses)
    detail = f"ARF feedback report (Feedback-Type: {feedback_type})"
    if kind == OTHER:
        detail += ": not a complaint"
    return Classification(kind, recipients, feedback_type, detail=detail)


def _non_arf(root: mime.Part, original: mime.Part | None, notice: str) -> Classification | None:
    if original is None:
        return None
    hotmail = original.get(_HOTMAIL_RECIPIENT)
    if hotmail is None and not _says_complaint(root, notice):
        return None
    addresses = _addresses(hotmail or "") or _original_recipients(original)
    recipients = tuple(RecipientResult(address, None, None, None, "feedback") for address in addresses)
    return Classification(COMPLAINT, recipients, "abuse", detail="provider feedback loop (non-ARF)")


def _says_complaint(root: mime.Part, notice: str) -> bool:
    subject = mime.decode_words(root.get("subject") or "")
    if _FBL_SUBJECT.search(subject) and _FBL_SENDER.search(root.get("from") or ""):
        return True
    head = (subject + "\n" + notice[:3000]).lower()
    if not any(word in head for word in _COMPLAINT_GATE):  # every complaint phrase has one of these
        return False
    return bool(_COMPLAINT_WORDS.search(head)) and not _UNDELIVERED.search(head)


def _original_recipients(original: mime.Part) -> list[str]:
    """The To: address of the complained-about message; none when it names several (which one complained?)."""
    found = _addresses(" ".join(original.get_all("to")))
    return found if len(found) == 1 else []


def _addresses(value: str) -> list[str]:
    return list(dict.fromkeys(match.group(0).lower().strip(".") for match in _ADDRESS.finditer(value[:10_000])))
