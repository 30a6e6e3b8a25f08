"""Classify one raw RFC 5322 message: a bounce, a complaint, or other.

`classify(raw)` reads, in this order: an ARF report or provider feedback loop (arf.py), a
JSON notice sent by mail (formats/json_notice.py: SES and other providers' events), an RFC 3464
DSN (dsn.py), an auto-reply, and a non-standard bounce notice (formats/plain.py). A message that
is none of these but carries one inside (a bounce forwarded as an attachment, a DSN inside a
provider's notification) is read from the one inside. It never raises: a message it cannot read at
all (empty, no header fields, a reader's own error) is kind "other" with `unreadable` saying
why (and `detail` "unreadable: ..."); a job parks such an event as failed, for a person.
Reading is bounded (workers/mime.py caps size, depth and parts), so no input can make it slow.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import config
from config.policy import HARD_REASONS
from workers import arf, dsn, mime, status
from workers.findings import (
    BOUNCE,
    COMPLAINT,
    OTHER,
    Classification,
    Original,
    RecipientResult,
)
from workers.formats import json_notice, plain

DEFAULT_ACCOUNT_HEADER = config.ACCOUNT_HEADER
DEFAULT_LIST_HEADER = config.LIST_HEADER
SHORT_NOTICE = 600  # characters: longer notices are templates full of generic advice
MAX_NESTING = 3  # notices inside notices that are read

_DAEMON = re.compile(
    r"mailer-daemon|mailer_daemon|postmaster|post_master|mail delivery|mail\.delivery|double-bounce|mdaemon"
    r"|<>|^\s*$", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|failure|failed|notification|report|problem|has failed)|returned mail"
    r"|failure notice|mail delivery failed|could not be delivered|non[- ]?delivery|mail system error"
    r"|returned to sender|not delivered|non recapitabile|nicht zustellbar|error sending your mail"
    r"|failed delivery|mail failure|delayed mail|postmaster notify|warning: (?:message|could not)"
    r"|malformed recipient|メールエラー|配信エラー|mail delivery subsystem|non[- ]?deliverable|bounced (?:mail|message)"
    r"|unzustellbar|non remis|no entregado|não entregue|niet (?:afgeleverd|bezorgd)|返送|退信|未送达|недоставлен"
    r"|nedoručiteln|teslim edilemedi", re.IGNORECASE)
# Mail systems also send mail that is no bounce: quarantine digests, quota warnings to the user.
_NOT_BOUNCE_SUBJECT = re.compile(
    r"quarantine|digest|(?:daily|weekly) (?:summary|report)|mailbox (?:is )?(?:almost|nearly) full|quota warning"
    r"|over (?:\d+ ?%|\d+ percent) of (?:your|its) quota", re.IGNORECASE)
_AUTO_REPLY_SUBJECT = re.compile(
    r"auto(?:matic)?[ -]?(?:reply|response|respons|answer|antwort)|réponse automatique|out of (?:the )?office"
    r"|vacation|away from|\baway until|\babsence|abwesen|on leave|autoreply|autoresponder|自動応答|不在"
    r"|please (?:confirm|verify)|verification (?:required|needed)|challenge|spam ?arrest|boxbe", re.IGNORECASE)
_CHALLENGE = re.compile(  # on lower-cased text; each phrase holds one of _CHALLENGE_GATE
    r"(?:to|on)\s+my\s+[\w\s]{0,20}(?:guest|approved|allowed)\s+list|(?:has been|was) waitlisted|sender not pre-?approved"
    r"|verify (?:that )?you are (?:a )?(?:human|real person)")
_CHALLENGE_GATE = ("list", "waitlisted", "approved", "verify")
_REPLY = re.compile(r"\s*(?:re|aw|sv|vs|antw|r|odp)\s*:", re.IGNORECASE)
_AUTO_REPLY_FIELDS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-vacation", "x-challenge")
_DKIM_DOMAIN = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)")
_ANGLE = re.compile(r"<([^<>]*)>")
_FAILED_HEADERS = ("x-failed-recipients", "x-mailer-daemon-recipients")


def classify(raw: bytes, account_header: str = DEFAULT_ACCOUNT_HEADER,
             list_header: str = DEFAULT_LIST_HEADER) -> Classification:
    """The verdict on one raw message; never raises. The two headers are read from the returned original."""
    try:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = bytes(raw)
        if not raw.strip():
            return _unreadable("empty message")
        return _classify(raw, account_header.strip().lower(), list_header.strip().lower())
    except Exception as exc:  # noqa: BLE001 - the contract: any input gives a Classification, never an error
        return _unreadable(f"{type(exc).__name__}: {exc}")


def _unreadable(why: str) -> Classification:
    return Classification(OTHER, detail=f"unreadable: {why}"[:300], unreadable=why[:300])


def _classify(raw: bytes, account_header: str, list_header: str, depth: int = 0) -> Classification:
    root = mime.parse(raw)
    notice, original_part = plain.notice_and_original(root)
    nested = (lambda raw: _classify(raw, account_header, list_header, depth + 1)) if depth < MAX_NESTING else None
    verdict = _verdict(root, notice, original_part, account_header, list_header, nested)
    if not root.fields and verdict.kind == OTHER:
        return _unreadable("no RFC 5322 header fields")
    if verdict.original != Original():  # the reader found the original itself (SES's `mail` object)
        return verdict
    return replace(verdict, original=original_of(root, original_part, account_header, verdict.kind, list_header))


def _verdict(root: mime.Part, notice: str, original: mime.Part | None, account_header: str,
             list_header: str, nested: Callable[[bytes], Classification] | None) -> Classification:
    found = _machine_readable(root, notice, original, account_header, list_header)
    if found is not None:
        return found
    # A notice forwarded or wrapped in this one: a person's or a provider's message, or a gateway's
    # wrapper of a DSN, is read from the notice inside; a mail system's own notice first from its
    # own words.
    inner, report = _inner_notice(root) if nested is not None else (None, False)
    inside_first = report or not _from_mail_system(root)
    if inner is not None and inside_first and (found := _told(nested(inner))):
        return found
    found = _not_a_bounce(root, notice)
    if found is None and (_looks_like_bounce(root) or plain.says_undelivered(notice)):
        found = _plain_bounce(root, notice, original)
    if found is not None:
        return found
    if inner is not None and not inside_first and (found := _told(nested(inner))):
        return found
    return Classification(OTHER, detail="no bounce or complaint found")


def _machine_readable(root: mime.Part, notice: str, original: mime.Part | None, account_header: str,
                      list_header: str) -> Classification | None:
    """An ARF report or feedback loop, a JSON notice, a challenge-response, or a DSN; else None."""
    found = arf.read(root, original, notice) or json_notice.read(root, account_header, list_header)
    if found is not None:
        return found
    if _is_challenge(root, notice):
        return Classification(OTHER, detail="challenge-response: the recipient's filter asks the sender to confirm")
    return _dsn(root, notice, original)


def _told(found: Classification) -> Classification | None:
    """A nested notice's reading, when it found anything."""
    return found if found.kind != OTHER or found.recipients else None


def _not_a_bounce(root: mime.Part, notice: str) -> Classification | None:
    """Auto-replies, delivery notices, and a mail system's digests and warnings: never bounces."""
    if _is_auto_reply(root):
        sender = plain.addresses(root.get("from") or "")[:1]
        recipients = tuple(RecipientResult(address, None, None, None, "vacation") for address in sender)
        return Classification(OTHER, recipients, detail="auto-reply (vacation or challenge): not a bounce")
    subject = mime.decode_words(root.get("subject") or "")
    if plain.says_delivered(notice, subject):
        return Classification(OTHER, detail="a delivery or read notice: not a bounce")
    if _NOT_BOUNCE_SUBJECT.search(subject) and not plain.says_undelivered(notice):
        return Classification(OTHER, detail="a mail system's notice that is not a bounce (digest, warning)")
    return None


def _dsn(root: mime.Part, notice: str, original: mime.Part | None) -> Classification | None:
    blocks = [block for part in dsn.delivery_status_parts(root) for block in dsn.recipient_blocks(part.text())]
    detail = "RFC 3464 delivery status notification"
    if not blocks:
        blocks = dsn.fields_in_text(notice, strict=not _looks_like_bounce(root))
        detail = "delivery status fields in a text notice"
    if not blocks:
        return None
    found: list[dict[str, str]] = []

    def about(address: str) -> str | None:  # the notice's lines about one recipient, read when first needed
        if not found:
            found.append(plain.recipient_blocks(notice, _senders(root, original)))
        return found[0].get(address)

    results = _safer(dsn.results(blocks, notice, about), notice)
    failed = tuple(r for r in results if r.action in dsn.FAILED_ACTIONS)
    if failed:
        return Classification(BOUNCE, failed, detail=detail)
    if results:
        return Classification(OTHER, tuple(results), detail="delivery-success DSN (delivered, relayed or expanded)")
    return None


def _safer(results: list[RecipientResult], notice: str) -> list[RecipientResult]:
    """A short notice that names a soft mailbox state outweighs a hard reading of the DSN fields.

    When a message contradicts itself (Status 5.1.1 but "Not enough disk space"; "account is
    disabled" over "user unknown"), the soft verdict is the safe one: a wrong hard bounce
    suppresses a live address for every dealer.
    """
    if len(results) != 1 or not results[0].hard:  # with several recipients the notice may be about another
        return results
    compact = " ".join(notice[:SHORT_NOTICE * 4].split())
    if len(compact) > SHORT_NOTICE:
        return results
    cause = status.mailbox_state(compact)
    if cause is None:
        return results
    return [replace(r, hard=False, reason=cause) if r.hard else r for r in results]


def _plain_bounce(root: mime.Part, notice: str, original: mime.Part | None) -> Classification | None:
    exclude = _senders(root, original)
    blocks = plain.recipient_blocks(notice, exclude)
    listed = [a for name in _FAILED_HEADERS for a in plain.addresses(" ".join(root.get_all(name)))]
    listed = listed or plain.x400_recipients(notice) or plain.list_rejection(notice)
    addresses = (listed or list(blocks) or plain.named_recipients(notice, exclude) or plain.lone_address(notice, exclude)
                 or plain.bare_recipients(notice, _domain_of(root.get("from"))))
    if not addresses and original is not None:
        to = plain.addresses(" ".join(original.get_all("to")))
        addresses = to if len(to) == 1 else []
    if not addresses:
        return None
    subject = mime.decode_words(root.get("subject") or "")
    delayed = plain.is_delayed(notice, subject, dead=status.reason_of_text(subject) in HARD_REASONS)
    compact = " ".join(notice[:6000].split())
    results = []
    for address in list(dict.fromkeys(addresses))[:dsn.MAX_RECIPIENTS]:
        words = blocks.get(address) or ""
        reading = words
        if status.find_code(words) is None and status.find_reply(words) is None and not status.reason_of_text(words):
            reading = f"{words} {compact}".strip()  # the block says little: read the whole notice too
        reason, hard, code = status.interpret(None, reading, failed=not delayed)
        results.append(RecipientResult(address, "delayed" if delayed else "failed", code, hard, reason,
                                       (words or compact)[:300] or None, plain.expanded_from(words, address)))
    return Classification(BOUNCE, tuple(results), detail="non-standard bounce notice")


def _inner_notice(root: mime.Part) -> tuple[bytes | None, bool]:
    """(the raw bytes of a message inside this one that is itself a bounce or report, attached as
    message/rfc822 or forwarded inline below a "Forwarded message" line; whether it is a
    multipart/report), or (None, False)."""
    for part in root.walk():
        if part is root or part.ctype not in ("message/rfc822", "message/global") or not part.parts:
            continue
        inner = part.parts[0]
        if inner.ctype == "multipart/report" or _looks_like_bounce(inner):
            raw = mime.transfer_decode(part.body, part.get("content-transfer-encoding"))
            return raw, inner.ctype == "multipart/report"
    forwarded = plain.forwarded_message(root)
    if forwarded is not None:
        inner = mime.parse(forwarded)
        if _looks_like_bounce(inner):
            return forwarded, inner.ctype == "multipart/report"
    return None, False


def _is_challenge(root: mime.Part, notice: str) -> bool:
    """A challenge-response filter's request that the sender confirm (Boxbe, SpamArrest ...): the
    recipient exists and reads mail; some send it as a delayed DSN."""
    if any(name.startswith(("x-boxbe", "x-spamarrest")) for name in root.fields):
        return True
    head = notice[:3000].lower()
    return any(word in head for word in _CHALLENGE_GATE) and bool(_CHALLENGE.search(head))


def _from_mail_system(root: mime.Part) -> bool:
    return bool(_DAEMON.search(root.get("from") or "")) or any(root.get(name) for name in _FAILED_HEADERS)


def _looks_like_bounce(root: mime.Part) -> bool:
    """From a mail system, with a null return path, naming failed recipients, or a bounce subject."""
    if any(root.get(name) for name in _FAILED_HEADERS):
        return True
    sender = (root.get("from") or "") + " " + (root.get("return-path") or "")
    if _DAEMON.search(root.get("from") or "") or _DAEMON.search(sender):
        return True
    subject = mime.decode_words(root.get("subject") or "")
    if _REPLY.match(subject) and root.get("in-reply-to"):
        return False  # a person's reply about a bounce, not the bounce
    return bool(_BOUNCE_SUBJECT.search(subject))


def _is_auto_reply(root: mime.Part) -> bool:
    """An RFC 3834 auto-reply, vacation or challenge message (these are never bounces)."""
    if any(root.get(name) for name in _AUTO_REPLY_FIELDS):
        return True
    if (root.get("precedence") or "").strip().lower() == "auto_reply":
        return True
    subject = mime.decode_words(root.get("subject") or "")
    if _BOUNCE_SUBJECT.search(subject) or _DAEMON.search(root.get("from") or ""):
        return False
    if _AUTO_REPLY_SUBJECT.search(subject):
        return True
    return (root.get("auto-submitted") or "").strip().lower().startswith("auto-replied")


def _senders(root: mime.Part, original: mime.Part | None) -> set[str]:
    """Addresses that are the sender's side of the exchange, never a failed recipient."""
    values = [root.get("to") or "", root.get("from") or ""]
    if original is not None:
        for name in ("from", "return-path", "sender", "reply-to"):
            values.extend(original.get_all(name))
    return set(plain.addresses(" ".join(values)))


def original_of(root: mime.Part, original: mime.Part | None, account_header: str, kind: str,
                list_header: str = DEFAULT_LIST_HEADER.lower()) -> Original:
    """Who sent the original message, from its returned headers (or the report's own fields)."""
    return_path = None
    if original is not None:
        return_path = _first_address(original.get("return-path"))
    if return_path is None and kind == COMPLAINT:
        report = arf.feedback_part(root)
        if report is not None:
            return_path = _first_address(_field(report.text(), "original-mail-from"))
    if return_path is None and kind == BOUNCE:
        for name in ("x-original-to", "delivered-to", "to"):
            found = plain.addresses(" ".join(root.get_all(name)))
            if len(found) == 1:
                return_path = found[0]
                break
    if original is None:
        return Original(return_path=return_path)
    from_address = _first_address(original.get("from"))
    dkim = tuple(dict.fromkeys(
        m.group(1).strip().lower().rstrip(".") for v in original.get_all("dkim-signature")
        for m in [_DKIM_DOMAIN.search(v)] if m))
    message_id = (original.get("message-id") or "").strip()
    match = _ANGLE.search(message_id)
    return Original(
        message_id=(match.group(1) if match else message_id)[:300] or None,
        from_domain=from_address.rpartition("@")[2] if from_address else None,
        dkim_domains=dkim,
        account_header=(original.get(account_header) or "").strip()[:200] or None,
        list_name=(original.get(list_header) or "").strip()[:200] or None,
        return_path=return_path,
    )


def _domain_of(value: str | None) -> str:
    found = _first_address(value)
    return found.rpartition("@")[2] if found else ""


def _first_address(value: str | None) -> str | None:
    found = plain.addresses(value or "")
    return found[0] if found else None


def _field(text: str, name: str) -> str | None:
    for block in mime.field_blocks(text):
        if name in block:
            return block[name]
    return None
