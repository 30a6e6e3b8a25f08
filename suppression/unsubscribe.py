"""What a recipient's opt-out does: suppress, count and audit, together.

The write goes straight to the database (no queue), so an opt-out is honoured when Redis is
down. It is idempotent: repeating it, or fifty one-click POSTs at once, leaves one entry and
counts once. Like every domain function it leaves the commit to its caller, except the one
documented hot path: a recipient's POST on PostgreSQL (`standalone`).
"""
from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

from flask import current_app

from config import is_mail_domain
from suppression import audit, counters, lists, tokens
from suppression.db import dialect, driver_rows, on_own_connection, pyformat, utcnow
from suppression.models import Reason
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
    dealer: str  # the account's name, for the recipient's page
    account_id: int  # the dealer's account


def scope_for(claims: Claims, choice: Choice) -> lists.Scope:
    """Where the suppression for `choice` lives."""
    if choice == Choice.everyone:
        return lists.GLOBAL
    if choice == Choice.this and claims.list_name:
        return lists.Scope(claims.account_id, claims.list_name)
    return lists.Scope(claims.account_id)


MAILBOX = "unsubscribe"  # the local part of the mailto address


def mailbox() -> str | None:
    """The List-Unsubscribe mailto address: unsubscribe@ the configured (or the public) domain;
    None when the public host is an IP address or localhost and no domain is configured."""
    # No mailto rather than an address no sender accepts: RFC 5321 would allow the literal
    # unsubscribe@[127.0.0.1], but mailbox providers refuse address literals, and a service on
    # such a host is reached by no mail anyway. RFC 8058 needs the https URI alone.
    domain = current_app.config["UNSUBSCRIBE_MAILTO_DOMAIN"] or _public_host()
    return f"{MAILBOX}@{domain}" if is_mail_domain(domain) else None


def mailboxes() -> frozenset[str]:
    """Addresses whose mail is an opt-out (lower-case): the mailto address; and on a public host
    that is an IP address or localhost, unsubscribe@ that host and its RFC 5321 address literal
    (unsubscribe@[127.0.0.1]), which links made before the mailto was left out there named."""
    found = {address} if (address := mailbox()) else set()
    host = _public_host()
    if not is_mail_domain(host):
        try:
            literal = f"[IPv6:{host}]" if ipaddress.ip_address(host).version == 6 else f"[{host}]"
        except ValueError:
            literal = host
        found |= {f"{MAILBOX}@{host}", f"{MAILBOX}@{literal}"}
    return frozenset(address.lower() for address in found)


def _public_host() -> str:
    return urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or ""


def dealer_name(account_id: int) -> str | None:
    """The name of the account a link belongs to; None when there is no such account."""
    found = driver_rows("SELECT name FROM accounts WHERE id = ?", (account_id,))
    return found[0][0] if found else None


def unsubscribe(claims: Claims, token_id: str, choice: Choice, source: Source, *, standalone: bool = False,
                event_id: int | None = None) -> Outcome | None:
    """Suppress the token's address for `choice`, counting and auditing it when that changed
    anything, in the caller's transaction; None when the token's account does not exist.

    `standalone`: the caller writes nothing else (a recipient's POST). On PostgreSQL the opt-out
    is then one statement in autocommit, on its own connection, committed when this returns."""
    scope = scope_for(claims, choice)
    reason = Reason.global_opt_out if scope == lists.GLOBAL else Reason.unsubscribed
    params = {"address": claims.address, "scope_key": scope.key, "account_id": scope.account_id,
              "list_name": scope.list_name, "reason": reason.value, "source": source.value, "event_id": event_id,
              "created_by": creator(token_id), "created_at": utcnow(), "expires_at": None,
              "dealer_id": claims.account_id, "actor": f"recipient:{token_id}",
              "details": _details(scope, reason, source, claims, event_id)}
    if standalone and dialect() == "postgresql":
        dealer, changed = _in_one_statement(params)
    else:
        dealer, changed = _in_steps(scope, reason, params)
    return Outcome(changed, scope.level, dealer, claims.account_id) if dealer is not None else None


def _details(scope: lists.Scope, reason: Reason, source: Source, claims: Claims, event_id: int | None) -> dict:
    details = {"scope": scope.level, "list": scope.list_name, "reason": reason.value, "source": source.value,
               "link_issued_at": claims.issued_at.isoformat()}
    return details | ({"event_id": event_id} if event_id is not None else {})


# On PostgreSQL a recipient's opt-out is one statement in autocommit: the suppression, the day's
# count and the audit entry are written together or not at all, in one round trip. Each part is
# the SQL of the module that owns its table (lists, counters, audit); the count and audit rows
# exist only if a row was added.
_ONE_STATEMENT = (
    "WITH added AS ({upsert}), counted AS ({count}), audited AS ({audit})"
    " SELECT (SELECT name FROM accounts WHERE id = :dealer_id), EXISTS (SELECT 1 FROM added)"
).format(
    upsert=lists.upsert_sql("(SELECT CAST(:address AS text) AS address FROM accounts WHERE id = :dealer_id) AS a",
                            lists.LINKED_SEEDS),
    count=counters.bump_sql("unsubscribes", "SELECT :dealer_id, CAST(:day AS date), 1 FROM added"),
    audit=audit.insert_sql("added"))

_ONE_STATEMENT_PG = pyformat(_ONE_STATEMENT)


def _in_one_statement(params: dict) -> tuple[str | None, bool]:
    params = params | {"day": params["created_at"].date()} | audit.params(
        params["created_at"], params["actor"], "suppression.unsubscribe", params["dealer_id"], params["details"])
    # Its own connection in autocommit, outside the ORM session: the statement is atomic alone,
    # so it needs no BEGIN and COMMIT, and this is the hot path of a one-click POST. It is
    # idempotent, so a database blip gets one more try: mail clients never retry an opt-out.
    def run(driver) -> tuple[str | None, bool]:
        with driver.cursor() as cursor:
            cursor.execute(_ONE_STATEMENT_PG, params)
            return cursor.fetchone()
    return on_own_connection(run, retry=True)


def _in_steps(scope: lists.Scope, reason: Reason, params: dict) -> tuple[str | None, bool]:
    dealer = dealer_name(params["dealer_id"])
    if dealer is None:
        return None, False
    added = lists.add(scope, [params["address"]], reason, params["source"], params["created_by"],
                      event_id=params["event_id"], protect=lists.LINKED_SEEDS).added
    if added:
        counters.bump(params["dealer_id"], "unsubscribes")
        audit.record(params["actor"], "suppression.unsubscribe", params["address"], account_id=params["dealer_id"],
                     details=params["details"])
    return dealer, bool(added)


def resubscribe(claims: Claims, token_id: str) -> list[str]:
    """Undo what this token added (any scope); the scope levels removed. Complaints, bounces and
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


def from_mail(message: EmailMessage, event_id: int | None = None) -> Outcome | None:
    """Act on mail sent to the List-Unsubscribe mailto address; None when it carries no valid token.

    The token rides in the subject the link set; mail clients keep it, people replying by hand
    usually do too, and the body is searched as a fallback."""
    for text in (str(message.get("Subject", "")), _plain_body(message)):
        for candidate in _TOKEN.findall(text):
            try:
                claims = tokens.sealer().open(candidate)
            except tokens.BadToken:
                continue
            return unsubscribe(claims, tokens.token_id(candidate), Choice.this, Source.mailto, event_id=event_id)
    return None


def _plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    try:
        return part.get_content()[:100_000] if part is not None else ""
    except (LookupError, ValueError):  # an unknown charset or broken encoding
        return ""
