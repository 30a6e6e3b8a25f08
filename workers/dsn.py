"""RFC 3464 delivery status notifications: per-recipient Action, Status and Diagnostic-Code.

The machine-readable part is `message/delivery-status` (under multipart/report, or loose in a
multipart/mixed). Some MTAs (Amazon WorkMail, forwarded bounces, broken MIME) put the same
fields in a text part; `fields_in_text` reads those.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from workers import mime, status
from workers.findings import RecipientResult

MAX_RECIPIENTS = 1000  # recipients read from one message
FAILED_ACTIONS = ("failed", "delayed")
SUCCESS_ACTIONS = ("delivered", "relayed", "expanded")
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient")
_ADDRESS = re.compile(r"(?:\"[^\"\n]{1,64}\"|[^\s<>\"(),;:@]{1,64})@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.ASCII)
_INTERNAL_SUFFIXES = frozenset({"local", "localdomain", "lan", "internal", "intranet", "corp", "home", "localhost"})
_TYPE_PREFIX = re.compile(r"^\s*[\w-]+\s*;\s*")
_TEXT_FIELDS = re.compile(r"^[ >]*(?:final|original)-recipient\s*:", re.IGNORECASE | re.MULTILINE)
_DATA_REPLY = re.compile(r">>> DATA[ \t]*\n[> \t]*<<< ([^\n]*)", re.IGNORECASE)


def delivery_status_parts(root: mime.Part) -> list[mime.Part]:
    """Every message/delivery-status part of a message."""
    return [part for part in root.walk() if part.ctype in ("message/delivery-status", "message/global-delivery-status")]


def recipient_blocks(text: str) -> list[dict[str, str]]:
    """The per-recipient field blocks of a delivery-status body (those naming a recipient)."""
    return [block for block in mime.field_blocks(text, starts=_RECIPIENT_FIELDS)
            if "final-recipient" in block or "original-recipient" in block]


def fields_in_text(text: str, strict: bool = False) -> list[dict[str, str]]:
    """Per-recipient DSN fields written into a text part (quoted with "> " or not). `strict`: only
    blocks that also say Action or Status (for a message that does not otherwise look like a bounce)."""
    if not _TEXT_FIELDS.search(text):
        return []
    lines = [line.lstrip("> ").rstrip() if line.startswith(">") else line for line in text.split("\n")]
    blocks = recipient_blocks("\n".join(lines))
    return [b for b in blocks if "action" in b or "status" in b] if strict else blocks


def address_of(value: str | None) -> str | None:
    """The bare, lower-cased address of a Final-Recipient style value ("rfc822; <a@b>")."""
    if not value:
        return None
    value = _TYPE_PREFIX.sub("", value[:1000].split("\n")[0])
    match = _ADDRESS.search(value)
    return match.group(0).lower().strip(".") if match else None


def strip_type(value: str | None) -> str | None:
    """A Diagnostic-Code without its type prefix ("smtp; 550 ..." → "550 ...")."""
    if not value:
        return None
    return _TYPE_PREFIX.sub("", value, count=1).strip() or None


def action_of(block: dict[str, str]) -> str:
    """The Action of a recipient block; inferred from the Status class when absent or odd."""
    action = (block.get("action") or "").strip().lower().split(" ")[0].strip("();")
    if action in FAILED_ACTIONS or action in SUCCESS_ACTIONS:
        return action
    code = status.find_code(block.get("status"))
    if code:
        return {"2": "delivered", "4": "delayed"}.get(code[0], "failed")
    return "failed"


def refused_at_data(notice: str) -> bool:
    """True when a Sendmail transcript shows "user unknown" as the reply to DATA (not to RCPT TO)."""
    match = _DATA_REPLY.search(notice[:50_000])
    return bool(match and status.reason_of_text(match.group(1)) == "user_unknown")


def results(blocks: list[dict[str, str]], notice: str = "",
            about: Callable[[str], str | None] | None = None) -> list[RecipientResult]:
    """One RecipientResult per recipient block.

    `notice` is the human-readable part; `about(address)` gives its text about one recipient.
    Both fill gaps when the fields have no Diagnostic-Code or only an unspecific status.
    """
    about = about or (lambda address: None)
    at_data = refused_at_data(notice)
    whole = " ".join(notice[:3000].split()) if len(blocks) == 1 else ""
    out: list[RecipientResult] = []
    seen: set[str] = set()
    for block in blocks[:MAX_RECIPIENTS]:
        address = address_of(block.get("original-recipient")) if _is_alias(block) else None
        address = address or address_of(block.get("final-recipient")) or address_of(block.get("original-recipient"))
        if not address or address in seen:
            continue
        seen.add(address)
        found = _result(address, block, about, whole, at_data)
        original = address_of(block.get("original-recipient"))
        out.append(replace(found, original=original) if original and original != address else found)
    return out


def _result(address: str, block: dict[str, str], about: Callable[[str], str | None], whole: str, at_data: bool
            ) -> RecipientResult:
    action = action_of(block)
    diagnostic = strip_type(block.get("diagnostic-code"))
    context = None
    if diagnostic is None:
        context = about(address)
        # With a specific Status, only a server's reply in the notice may say more: its prose
        # (advice, a virus-scanner's footer) must not outweigh the code.
        if not status.is_vague(status.find_code(block.get("status"))) and not _is_reply(context):
            context = None
        diagnostic = context
    if status.is_vague(status.best_code(block.get("status"), diagnostic)) and not status.reason_of_text(diagnostic):
        # The fields say little (5.0.0, no words): the notice's text about this recipient may say more.
        extra = context or about(address) or whole
        diagnostic = " ".join(filter(None, (diagnostic, extra if extra != diagnostic else None))) or None
    if action in SUCCESS_ACTIONS:
        code = status.find_code(block.get("status"))
        return RecipientResult(address, action, code, None, "delivered", _short(diagnostic))
    reason, hard, code = status.interpret(block.get("status"), diagnostic, failed=action == "failed",
                                          after_data=at_data)
    return RecipientResult(address, action, code, hard, reason, _short(diagnostic))


def _is_reply(text: str | None) -> bool:
    return bool(text) and (status.find_code(text) is not None or status.find_reply(text) is not None)


def _is_alias(block: dict[str, str]) -> bool:
    """Final-Recipient is a program, a file or a host's internal name (an alias expansion, a
    local delivery): Original-Recipient is the address the sender mailed."""
    final = block.get("final-recipient") or ""
    if "|" in final or "/" in final.split("@")[0]:
        return True
    address = address_of(final)
    return address is not None and address.rpartition(".")[2] in _INTERNAL_SUFFIXES


def _short(text: str | None, limit: int = 300) -> str | None:
    if not text:
        return None
    return " ".join(text.split())[:limit]
