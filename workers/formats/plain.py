"""Bounces that are not RFC 3464 DSNs: the human-readable notices of Exim, qmail, Postfix,
Sendmail (V5 transcripts), Gmail, Yahoo, Exchange 2003, Lotus Notes/Domino, OpenSMTPD,
DragonFly, IMail, Zoho, GMX/1&1, mail.ru, McAfee, MXLogic, InterScan and similar.

They differ in wording but share one layout: a notice naming the failed recipients, each with
the server's words near it, then a copy of the original message (after a marker line, or in a
message/rfc822 part). The reader cuts the notice from the original, finds recipient lines (an
address first on its line, alone or followed by the error), and gives each the text of its block.
"""
from __future__ import annotations

import html
import re

from workers import mime

MAX_HTML = 100_000  # characters of an HTML-only notice that are read
ADDRESS = r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[^\W\d_]{2,24}"
_ADDRESS = re.compile(ADDRESS)
# An address that starts a line: alone, or followed by the error ("<a@b>: 550 ...", "a@b [User unknown]").
_LEAD = re.compile(
    r"^[ \t>*\-]*(?:[245]\d\d[ -]+)?(?:>>> )?(?:rcpt to:\s*)?[<\"'(\[]?(" + ADDRESS + r")[>\"')\]]?(.*)$",
    re.IGNORECASE)
# Words that put an address in the recipient's place anywhere in a line.
_NAMED = re.compile(
    r"(?:\bto:?|rcpt to:?|address:|recipient:|delivering your mail to|delivered to:?|deliver (?:message |mail )?to:?"
    r"|target mail address:|to the (?:mailing )?list|mailbox is full:|宛先\s*[:：]|受信者\s*[:：]|收件人\s*[:：]"
    r"|destinataire\s*:|destinatario\s*:|destinatário\s*:|empfänger\s*:|ontvanger\s*:|получатель\s*:|exceeds allowed size:|unknown user:?|recipients?:|address(?:es)? failed:)"
    r"\s*[<\"(]?(" + ADDRESS + r")", re.IGNORECASE)
_BRACKETED = re.compile(r"\s+<(" + ADDRESS + r")>")
_NOT_RECIPIENT_LINE = re.compile(
    r"^\s*(?:from|sender|mail from|reply-to|return-path|envelope-from|cc|date|sent|subject)\s*:"
    r"|contact|send mail to|questions|(?<!expanded )(?<!generated )\bfrom\s+\S+@|a message sent by|generated from"
    r"|^\s*(?:送信者|差出人|発信者|发件人|發件人|absender|expéditeur|remitente|mittente|remetente|afzender|отправитель)\s*[:：]",
    re.IGNORECASE)
_ORIGINAL_MARKER = re.compile(
    r"^[ \t>]*+(?:-++ ?)?(?:"
    r"this is a copy of (?:the|your) message|below this line is a copy of the message"
    r"|enclosed is a copy of the message|original message|unsent message follows"
    r"|the header of the original message|below is a copy of the original message"
    r"|message headers follow|included is a copy of the message header|returned message"
    r"|original mail info|bounced e-mail:|the original message headers|forwarded message"
    r"|the attachment contains the original|copy of the original message|content-type: message/rfc822"
    r")", re.MULTILINE)  # searched in lower-cased text
_FORWARDED = re.compile(
    r"^[ \t>]*(?:-{2,} ?forwarded message ?-{2,}|begin forwarded message:|-{2,} ?original message ?-{2,}"
    r"|-{2,} ?weitergeleitete nachricht ?-{2,}|-{2,} ?message transféré ?-{2,}|-{2,} ?mensaje reenviado ?-{2,})"
    r"[ \t]*\n", re.IGNORECASE | re.MULTILINE)
_FOLLOWING = re.compile(r"(?:following|these) (?:recipients?|addresses|address|users?)[^\n]*", re.IGNORECASE)
_BARE_NAME = re.compile(r"^[ \t]*([\w.+-]{1,64})[ \t]*$")
_FROM_ADDRESS = re.compile(r"\bfrom:?\s*[<\"(']?(" + ADDRESS + ")", re.IGNORECASE)
_EXPANDED_FROM = re.compile(r"(?:expanded|generated) from:?\s*<?(" + ADDRESS + ")", re.IGNORECASE)
_X400_SMTP = re.compile(r"(?:dda:)?smtp=(" + ADDRESS + ")", re.IGNORECASE)
_HEADER_START = re.compile(
    r"^(?:Received|Return-Path|DKIM-Signature|Message-Id|Date|From|To|Subject|MIME-Version)\s*:"
    r".*\n(?:[ \t].*\n)*[\w-]+\s*:", re.IGNORECASE | re.MULTILINE)
_DELAYED = re.compile(
    r"warning message only|not yet been delivered|has been delayed|will be retried|delivery attempts will continue"
    r"|only a temporary failure|still being retried|will continue to try|delayed for more than")
_ORIGINAL_FIELDS = frozenset({"received", "message-id", "from", "return-path", "dkim-signature"})
_BOUNCE_WORDS = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|wasn't delivered|undeliverable"
    r"|delivery (?:has )?failed|permanent (?:error|failure)|failed permanently|delivery to the following"
    r"|unable to deliver|did not reach the following|had delivery errors|had permanent fatal errors"
    r"|returned mail|has not yet been delivered|delivery status notification|not a member of (?:this|the) (?:mailing )?list"
    r"|message (?:to .{1,100} )?(?:was|has been) (?:rejected|refused|returned)|failed to deliver|could not deliver"
    r"|delivery (?:to .{1,100} )?(?:was )?abandoned|retry time(?:out)? (?:exceeded|not reached)"
    r"|(?:nicht|konnte nicht) zugestellt|unzustellbar|n'a pas pu être (?:remis|distribué|livré)|non remis"
    r"|no (?:se )?(?:ha )?(?:podido )?entregar|non (?:è stato )?consegnat|não (?:foi )?(?:possível )?entreg"
    r"|配信(?:でき|に失敗)|配送(?:でき|に失敗)|送信できませんでした|未能送达|退信|не (?:может быть )?доставлен", re.IGNORECASE)
_DELIVERED = re.compile(
    r"^(?:delivered|read|gelesen|lu|leído|consegnato|entregue|zugestellt):|(?:was|has been) (?:successfully )?delivered"
    r"|delivery (?:to .{1,100} )?succeeded|successfully delivered", re.IGNORECASE)
_LIST_REJECTION = re.compile(r"not a member of (?:this|the) (?:mailing )?list\s*[<\"(]?(" + ADDRESS + ")", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^<>]{0,2000}>")
_HTML_BREAK = re.compile(r"<(?:br|/?p|/?div|/?tr|/?li|/?h\d|/?table|/?blockquote)\b[^<>]{0,2000}>", re.IGNORECASE)
_HTML_STYLE = re.compile(r"<(style|script)\b.{0,100000}?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SYSTEM_LOCAL = re.compile(r"^(?:postmaster|mailer-daemon|mailer_daemon|mail-daemon|abuse|noreply|no-reply|root)@")


def notice_and_original(root: mime.Part) -> tuple[str, mime.Part | None]:
    """(the human-readable notice, the returned original's header fields as a part, if any)."""
    texts: list[str] = []
    markup: list[str] = []
    original: mime.Part | None = None
    for part in root.walk():
        if part.ctype in ("message/rfc822", "message/global", "text/rfc822-headers", "text/rfc822-header",
                          "message/rfc822-headers"):
            if original is None:
                original = part.parts[0] if part.parts else _headers_part(part.text())
            continue
        if part.parts or part.maintype == "multipart" or original is not None:
            continue
        if part is not root and _ORIGINAL_FIELDS & part.fields.keys():
            original = part  # a body part with a message's own header fields: the returned original
            continue
        if part.ctype == "text/plain" or (part is root and part.maintype in ("text", "application")):
            texts.append(part.text())
        elif part.ctype == "text/html":
            markup.append(html_text(part.text()[:MAX_HTML]))
    notice = "\n".join(texts) if texts else "\n".join(markup)
    full, lowered = notice, notice.lower()
    if len(lowered) != len(full):  # a few characters change length when lower-cased: offsets would shift
        lowered = full
    markers = [m for _, m in zip(range(6), _ORIGINAL_MARKER.finditer(lowered))]
    start = markers[0].start() if markers else _header_start(full)
    inline = full[markers[0].end():] if markers else full[start:] if start else ""
    notice = full[:start] if start else full
    if original is None and markers:
        for marker in markers:  # the first marker followed by a message's header fields
            original = _headers_part(full[marker.end():].partition("\n")[2])
            if _ORIGINAL_FIELDS & original.fields.keys():
                break
    elif original is None and inline:
        original = _headers_part(inline)
    return notice, original


def html_text(markup: str) -> str:
    """The text of an HTML notice, one line per block, entities decoded (recipients start lines)."""
    markup = _HTML_STYLE.sub(" ", markup)
    text = _HTML_TAG.sub(" ", _HTML_BREAK.sub("\n", markup))
    return "\n".join(" ".join(line.split()) for line in html.unescape(text).split("\n"))


def forwarded_message(root: mime.Part) -> bytes | None:
    """The message a person forwarded inline (its header lines and text, after a "Forwarded
    message" line) as raw bytes, or None."""
    for part in root.walk():
        if part.ctype == "text/plain" and not part.parts:
            text = part.text()
            match = _FORWARDED.search(text[:100_000])
            if match is not None:
                return text[match.end():].lstrip("\n").encode("utf-8", "replace")
        if part.ctype in ("message/rfc822", "message/global"):
            return None
    return None


def _header_start(text: str) -> int:
    """Offset of a block of header fields in a notice without a marker line (0: none)."""
    match = _HEADER_START.search(text, 0, 100_000)
    return match.start() if match else 0


def _headers_part(text: str) -> mime.Part:
    """The header fields of an original pasted into the notice (maybe quoted with "> ")."""
    lines = text.lstrip("\n-= \t").split("\n")
    if lines and lines[0].startswith(">"):
        lines = [line.lstrip("> ") for line in lines]
    head, _ = mime.split_message("\n".join(lines))
    return mime.Part(mime.loose_headers(head), "")


def says_undelivered(notice: str) -> bool:
    """True when the notice's words say a message was not delivered."""
    return bool(_BOUNCE_WORDS.search(notice[:5000]))


def says_delivered(notice: str, subject: str) -> bool:
    """True for a delivery or read notice: it says a message arrived, and nothing failed."""
    head = notice[:5000]
    if not (":" in subject or ":" in head[:40] or "deliver" in head.lower()):  # what _DELIVERED needs
        return False
    return bool(_DELIVERED.search(subject) or _DELIVERED.search(head)) and not _BOUNCE_WORDS.search(head) \
        and not _BOUNCE_WORDS.search(subject)


def is_delayed(notice: str, subject: str, dead: bool = False) -> bool:
    """True when the notice is a delay warning, not a final failure. A "Warning:" subject alone
    does not make one when the notice says the address is `dead` (MDaemon warns so of user unknown)."""
    if _DELAYED.search(notice[:5000].lower()):
        return True
    return subject.lower().startswith(("warning:", "delayed mail")) and not dead


def recipient_blocks(notice: str, exclude: set[str]) -> dict[str, str]:
    """{address: the error text of its block} for each address that starts a line of the notice."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in notice[:50_000].split("\n"):
        match = _LEAD.match(line) if "@" in line else None
        if match is not None and not _NOT_RECIPIENT_LINE.search(line):
            address, tail = match.group(1).lower().strip(".").lstrip("'"), match.group(2)
            bracketed = _BRACKETED.match(tail)
            if bracketed is not None:  # "name-like@text <address>": the address is the bracketed one
                address, tail = bracketed.group(1).lower().strip(".").lstrip("'"), tail[bracketed.end():]
            if address not in exclude:
                current = blocks.setdefault(address, [])
                current.append(tail.strip(" :.<>[]\t"))
                if line.lstrip(" >")[:1].isdigit():  # a transcript line ("554 <a@b>... error") stands alone
                    current = None
                continue
        if not line.strip():
            if current is not None and any(current):
                current = None
            continue
        if current is not None:
            current.append(line.strip())
    return {address: " ".join(part for part in lines if part) for address, lines in blocks.items()}


def named_recipients(notice: str, exclude: set[str]) -> list[str]:
    """Addresses the notice names as recipients in running text ("... delivering your mail to <a@b>")."""
    found: dict[str, None] = {}
    for line in notice[:50_000].split("\n"):
        if "@" not in line or _NOT_RECIPIENT_LINE.search(line):
            continue
        for match in _NAMED.finditer(line):
            address = match.group(1).lower().strip(".").lstrip("'")
            if address not in exclude:
                found[address] = None
    return list(found)


def bare_recipients(notice: str, domain: str) -> list[str]:
    """Recipients a provider names by their local part only, under "the following recipients"
    (AOL's screen names), completed with the provider's own domain."""
    match = _FOLLOWING.search(notice[:5000])
    if match is None or not domain:
        return []
    found: list[str] = []
    for line in notice[match.end():match.end() + 2000].split("\n")[1:]:
        name = _BARE_NAME.match(line)
        if name is None:
            if found or line.strip():
                break
            continue
        found.append(f"{name.group(1).lower()}@{domain}")
    return found


def lone_address(notice: str, exclude: set[str]) -> list[str]:
    """The one address a short notice names, other than the sender's and mail systems' own; [] when
    it names none or several (then it is not clear which one failed)."""
    senders = {m.group(1).lower() for m in _FROM_ADDRESS.finditer(notice[:5000])}
    found = [a for a in addresses(notice[:5000]) if a not in exclude and a not in senders and not _SYSTEM_LOCAL.match(a)]
    return found if len(found) == 1 else []


def expanded_from(words: str, address: str) -> str | None:
    """The address a recipient line says `address` was expanded or forwarded from (Postfix
    "(expanded from <a@b>)", Exim "(ultimately generated from a@b)"), or None."""
    match = _EXPANDED_FROM.search(words[:2000]) if "from" in words else None
    if match is None:
        return None
    original = match.group(1).lower()
    return original if original != address else None


def x400_recipients(notice: str) -> list[str]:
    """Internet addresses inside X.400 recipient names (Exchange 5.5: "...;dda:SMTP=a@b;")."""
    return list(dict.fromkeys(m.group(1).lower() for m in _X400_SMTP.finditer(notice[:20_000])))


def list_rejection(notice: str) -> list[str]:
    """The list address of a mailing list's "you are not a member" rejection (fml, Mailman ...)."""
    match = _LIST_REJECTION.search(notice[:5000])
    return [match.group(1).lower()] if match else []


def addresses(text: str) -> list[str]:
    """Every address in a text, lower-cased, in order, without repeats."""
    return list(dict.fromkeys(match.group(0).lower().strip(".").lstrip("'") for match in _ADDRESS.finditer(text[:50_000])))
