"""What a recipient's opt-out does: suppress, count, audit, all in the caller's transaction.

The write goes straight to the database (no queue), so an opt-out is honoured when Redis is
down. It is idempotent: repeating it, or fifty one-click POSTs at once, leaves one entry and
counts once.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from email.message import EmailMessage

from suppression import audit, counters, lists
from suppression.models import Reason
from suppression import tokens
from suppression.tokens import Claims


class Source(str, enum.Enum):
    one_click = "one_click"  # RFC 8058 POST from the mail client
    page = "page"  # the confirmation page's form
    mailto = "mailto"  # mail to the List-Unsubscribe mailto address


class Choice(str, enum.Enum):
    this = "this"  # the dealer, or the token's list of that dealer
    dealer = "dealer"  # the whole dealer, even for a list's token
    everyone = "all"  # every dealer on the platform


@dataclass(frozen=True)
class Outcome:
    changed: bool
    scope: str  # global, account or list


def scope_for(claims: Claims, choice: Choice) -> lists.Scope:
    """Where the suppression for `choice` lives."""
    if choice == Choice.everyone:
        return lists.GLOBAL
    if choice == Choice.this and claims.list_name:
        return lists.Scope(claims.account_id, claims.list_name)
    return lists.Scope(claims.account_id)


def unsubscribe(claims: Claims, token_id: str, choice: Choice, source: Source) -> Outcome:
    """Suppress the token's address for `choice`; count and audit it when that changed anything."""
    scope = scope_for(claims, choice)
    reason = Reason.global_opt_out if scope == lists.GLOBAL else Reason.unsubscribed
    added = lists.add(scope, [claims.address], reason, source.value, creator(token_id)).added
    if added:
        counters.bump(claims.account_id, "unsubscribes")
        audit.record(f"recipient:{token_id}", "suppression.unsubscribe", claims.address,
                     account_id=claims.account_id,
                     details={"scope": scope.level, "list": scope.list_name, "reason": reason.value,
                              "source": source.value, "link_issued_at": claims.issued_at.isoformat()})
    return Outcome(bool(added), scope.level)


def resubscribe(claims: Claims, token_id: str) -> list[str]:
    """Undo what this token added (any scope); the scopes removed. Complaints, bounces and
    opt-outs made another way stay."""
    scopes = [lists.GLOBAL, lists.Scope(claims.account_id)]
    if claims.list_name:
        scopes.append(lists.Scope(claims.account_id, claims.list_name))
    return lists.withdraw(claims.address, creator(token_id), scopes, f"recipient:{token_id}",
                          "undone by the recipient")


def creator(token_id: str) -> str:
    """How a suppression row names the link that made it."""
    return f"token:{token_id}"


# A Fernet token: version byte 0x80 and a 64-bit timestamp make it start "gAAAAA".
_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_-]{60,1000}")


def from_mail(message: EmailMessage) -> Outcome | None:
    """Act on mail sent to the List-Unsubscribe mailto address; None when it carries no valid token.

    The token rides in the subject the link set; mail clients keep it, people replying by hand
    usually do too, and the body is searched as a fallback."""
    for text in (str(message.get("Subject", "")), _plain_body(message)):
        for candidate in _TOKEN.findall(text):
            try:
                claims = tokens.sealer().open(candidate)
            except tokens.BadToken:
                continue
            return unsubscribe(claims, tokens.token_id(candidate), Choice.this, Source.mailto)
    return None


def _plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    try:
        return part.get_content()[:100_000] if part is not None else ""
    except (LookupError, ValueError):  # an unknown charset or broken encoding
        return ""
