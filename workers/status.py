"""RFC 3463 enhanced status codes and SMTP reply text → (reason, hard).

Reasons (the `reason` of a RecipientResult):

  hard when permanent (5.x.x, not 5.7.x) — the address is dead:
    user_unknown       no such mailbox (5.1.1; "user unknown", "no such user", "does not exist")
    host_unknown       no such domain or host (5.1.2; "host not found", "domain does not exist")
    has_moved          the mailbox has moved (5.1.6)
    not_accept         the domain accepts no mail (5.1.10, null MX, "no MX record")
  always soft — the address may work later, or the problem is not the address:
    mailbox_full       over quota (5.2.2)
    message_too_large  size limits (5.3.4, 5.2.3)
    suspended          mailbox disabled, locked or inactive (5.2.1 without user-unknown text)
    filtered           refused by the recipient's own filter or preferences, or "user unknown" said
                       only after DATA (the address was accepted at RCPT time)
    spam_block         content judged as spam or a virus
    blocked            the sending IP or domain is on a block list, has a bad reputation or no PTR
    auth_failure       SPF, DKIM or DMARC failure
    policy             any other policy rejection (5.7.x)
    rate_limited       too many connections, messages or recipients
    relay_denied       the server will not relay
    rejected           the sender address was refused, or a rejection with no better reason
    content_error      the message itself is malformed (5.6.x)
    syntax_error       an SMTP protocol or address syntax error (5.5.x)
    expired            retries ran out (5.4.7, "retry timeout exceeded")
    network_error      DNS, routing or connection problems (5.4.x)
    system_error       the remote system failed (5.3.x)
    mailer_error       a local delivery program failed
    undefined          a failure with nothing more specific to say
  not bounces:
    feedback           a complaint (ARF / feedback loop)
    vacation           an auto-reply
    delivered          a delivery-success DSN

The status code is read before the words (DESIGN: "read the status code before a provider's
own label"): a specific code (5.1.1, 5.2.2, ...) decides unless the text names a soft cause
(block list, spam, filter, quota); an unspecific code (x.0.0, 5.1.0, 5.2.1, 5.4.4, 5.5.x, ...)
leaves the reason to the text. 5.4.4 is host_unknown only with host-not-found words.

Where a message is ambiguous the reading errs to soft, because a wrong hard bounce suppresses a
live address for every dealer: "user unknown" said only in reply to DATA (the address had passed
RCPT TO), or "550 : User unknown" naming no address (Japanese carriers' filter answer), is
`filtered`; and classify.py lets a short notice naming a soft mailbox state (full, disabled)
outweigh a hard reading of the DSN fields.
"""
from __future__ import annotations

import re
from functools import lru_cache

from config.policy import HARD_REASONS

TEXT_LIMIT = 2000  # characters of a diagnostic or notice read for words
# Reasons that the text may give even against a specific status code such as 5.1.1.
SOFT_CAUSES = frozenset({
    "mailbox_full", "message_too_large", "filtered", "spam_block", "blocked", "auth_failure",
    "policy", "rate_limited", "relay_denied", "suspended", "content_error",
})

_MAILBOX_STATES = frozenset({"mailbox_full", "suspended", "filtered"})

_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
_REPLY = re.compile(r"(?<![\d.#-])([245][0-5]\d)(?:[ :-]|$)")

# Codes that decide the reason by themselves (subject.detail → reason).
_SPECIFIC = {
    "1.1": "user_unknown", "1.2": "host_unknown", "1.3": "syntax_error", "1.6": "has_moved",
    "1.7": "rejected", "1.8": "rejected", "1.10": "not_accept",
    "2.2": "mailbox_full", "2.3": "message_too_large", "2.4": "system_error",
    "3.1": "system_error", "3.2": "system_error", "3.4": "message_too_large", "3.5": "system_error",
    "4.2": "network_error", "4.3": "network_error", "4.5": "system_error",
    "4.6": "network_error", "4.7": "expired",
    "5.3": "rate_limited",
    "6.0": "content_error", "6.1": "content_error", "6.2": "content_error", "6.3": "content_error",
    "6.4": "content_error", "6.5": "content_error", "6.6": "content_error", "6.7": "content_error",
    "6.8": "content_error", "6.9": "content_error", "6.10": "content_error",
    "7.1": "policy", "7.2": "policy", "7.3": "policy", "7.4": "policy", "7.5": "policy",
    "7.6": "policy", "7.7": "content_error", "7.8": "auth_failure", "7.9": "policy",
    "7.13": "suspended", "7.14": "policy", "7.15": "auth_failure", "7.16": "policy",
    "7.17": "suspended", "7.18": "suspended", "7.19": "policy", "7.20": "auth_failure",
    "7.21": "auth_failure", "7.22": "auth_failure", "7.23": "auth_failure", "7.24": "auth_failure",
    "7.25": "blocked", "7.26": "auth_failure", "7.27": "rejected",
}
# Codes that say little: the text decides, else this reason.
_VAGUE = {
    "0.0": "undefined", "1.0": "undefined", "1.4": "undefined", "1.5": "undefined", "1.9": "undefined",
    "2.0": "undefined", "2.1": "suspended", "3.0": "system_error", "3.3": "content_error",
    "4.0": "network_error", "4.1": "network_error", "4.4": "network_error", "5.0": "syntax_error", "5.1": "syntax_error",
    "5.2": "syntax_error", "5.4": "syntax_error", "5.5": "syntax_error", "5.6": "syntax_error",
    "7.0": "policy",
}

# Phrases (regular expressions on lower-cased text), most specific first: the first reason with
# a phrase found in the text wins. "blocked" comes before "user_unknown" so that a block-list
# rejection that also says "recipient rejected" stays soft.
_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("host_unknown", ("the account or domain may not exist",)),  # cPanel's wording; it adds "may be blacklisted"
    ("content_error", ("duplicate header",)),
    ("filtered", (
        r"recipient(?:'s)? preferences", "domain filter", r"rejected by the (?:recipient|domain) filter",
        "message filtered", "because of the recipient's settings")),
    ("auth_failure", (
        "dmarc", r"spf(?![a-z])", "dkim", r"unauthenticated (?:email|sender)", "sender is unauthenticated",
        r"authentication (?:checks|information|failed|required)", r"fails? to pass (?:spf|authentication)")),
    ("spam_block", (
        r"spam(?![a-z])", r"[^a-z]ube[^a-z]", "unsolicited", r"bulk e-?mail", "junk mail", "content rejected",
        "virus", "malware", r"security (?:policies|issue)", "illegal attachment", "suspicious", "message content")),
    ("rate_limited", (
        r"too many (?:connections|recipients|messages|sessions)", r"rate[ -]limit", "frequency limited",
        "sent to too many", "connection rate", "temporarily deferred due to", "throttl")),
    ("blocked", (
        r"black-?list", r"block-?list", "blocked", "banned", "dnsbl", r"[^a-z]rbl[^a-z]", "spamhaus", "spamcop",
        r"listed (?:at|on|in) (?:the )?[\w.-]*(?:dnsbl|rbl|spam|block|black)", "reputation", r"[^a-z]ptr[^a-z]",
        "reverse dns", "rdns", "client host rejected", "no access from mail server", "open relay",
        "invalid ip for sending", "not allowed to send", "mismatches client ip", r"unverif\w* sending ip",
        "without a valid sender dom", "refused to talk to me", "adresse ip source bloquee")),
    ("mailbox_full", (
        r"mailbox (?:is )?full", r"mailbox.{0,20}(?:exceeds|over|exceeded)", "over ?quota", "quota exceeded",
        r"exceeded (?:the |his |her |their )?(?:storage|quota)", "disk quota", "insufficient storage",
        r"not enough (?:disk )?(?:space|storage)", r"mailbox.{0,10}size limit", "too much mail data",
        "user is over", "account is over", r"storage (?:quota|limit|full)", "mailfolder is full",
        r"postfach (?:ist )?voll", r"bo[iî]te (?:aux lettres )?pleine", "buzón lleno", r"casella (?:di posta )?piena")),
    ("message_too_large", (
        r"message (?:is )?too (?:big|large)", r"size (?:limit|exceeds)", r"exceeds?.{0,30}(?:maximum|size)",
        "message length exceeds", "line limit exceeded", "too large for", "mail size")),
    ("has_moved", ("has moved", r"no longer (?:on server|with|at)", r"not our (?:user|customer)", "address changed")),
    ("suspended", (
        (r"(?:account|mailbox|address|user\(s\) account|recipient) (?:is |has been )?"
         r"(?:disabled|deactivated|suspended|locked|inactive|frozen|expired|closed)"),
        r"(?:account|mailbox|address)[\w\s]{0,30}? is disabled", r"disabled (?:recipient|user|mailbox|account)",
        r"temporar(?:y|ily) locked")),
    ("not_accept", (
        "null mx", "does not accept mail", "doesn't receive email", "no mx record",
        "mx or srv record indicated no", "not accepting mail")),
    ("network_error", (
        r"host not found,? try again", "malformed or unexpected name server reply", "lost connection",
        r"name service error.{0,60}try again", "dns error", "routing loop", "too many hops", "mail loop")),
    ("host_unknown", (
        "host unknown", "unknown host", "host not found", "no such domain", r"domain (?:name )?not found",
        r"domain (?:does not|doesn't) exist", r"unrouteable (?:mail )?domain", "unknown domain",
        "host or domain name not found", "domain is not reachable", "dns lookup failure", "invalid domain",
        "no such host", r"(?<![\w.-])[\w.-]{1,200}\.[a-z]{2,} does not exist")),
    ("user_unknown", (
        "user ?unknown", r"unknown (?:user|recipient|local|mailbox)", r"unknown address(?! error)",
        r"no such (?:user|mailbox|recipient|address|account|person)",
        r"(?:user|mailbox|recipient|address|account|addressee)(?: \S+)? (?:does not|doesn't|did not) exist",
        r"(?:user|mailbox|recipient|address|account|addressee) not (?:found|exist|known|listed)",
        r"(?:invalid|bad) (?:recipient|mailbox|user|address)",
        r"not a valid (?:user|mailbox|recipient)", "recipient not found", "recip(?:ient)?notfound",
        "no mailbox here", r"not listed in (?:the )?(?:public name|domino|directory|address book)",
        r"address (?:couldn't|could not) be found",
        "account that you tried to reach does not exist", r"(?:user|recipient) (?:name )?is not recognized",
        "recipient address rejected: access denied", "no account by that name",
        r"user doesn't have a .{1,60} account", "destinataire invalide", "is not a known user",
        "recipient rejected", "ディレクトリには見つかりません",  # Domino, Japanese: "not found in the directory"
        r"(?:destinataire|utilisateur|adresse) inconnue?", r"(?:benutzer|empfänger) unbekannt", "unbekannter empfänger",
        r"(?:usuario|destinatario) desconocido", "utente sconosciuto", "destinatario inesistente")),
    ("relay_denied", (
        r"relay(?:ing)? (?:denied|not permitted|access denied)", "not configured to relay", "unable to relay",
        "we do not relay", "not permitted to relay", "relay not allowed")),
    ("expired", (
        "retry timeout", r"timed? ?out", "too long", "delivery time expired", "envelope expired", "expired",
        "giving up", "could not deliver for", "not delivered within", "could not be delivered for",
        "all hosts have been failing", "multiple retries", r"not (?:yet )?been delivered", "has been delayed",
        "retried for", "requests to connect", "could not find a gateway", "not reachable", "unable to connect",
        "connection refused")),
    ("rejected", (
        r"sender (?:address )?(?:was )?rejected", "domain of sender", "unroutable sender", "sender domain",
        "not a member", "permission to post", "send mail as", "access denied", "not verified",
        "sending to/from an address")),
    ("content_error", (
        r"headers? too (?:large|long)", "8-?bit data", "improper use of 8-bit", r"rfc ?5322 compliant",
        r"not rfc ?5322", r"malformed (?:message|header|mime)", r"invalid (?:header|mime)")),
    ("system_error", (
        r"insufficient (?:disk|system)", "system error", r"service (?:currently )?unavailable", "temporary failure",
        "internal error", "queue file write error", "insufficient permission", "local error", "could not load")),
    ("mailer_error", ("procmail", "mailer error", "command died", "pipe to")),
    ("syntax_error", ("syntax error", "improper sequence", "command parameter", "bad sequence", "command not")),
)
_MATCHERS = tuple((reason, re.compile("|".join(phrases))) for reason, phrases in _PHRASES)
_AFTER_DATA = re.compile(
    r"end of data|after data|reply to data|final data|\(data\)|smtp command\s*:?\s*\n*\s*data\b", re.IGNORECASE)
_EMPTY_ADDRESS_UNKNOWN = re.compile(r"\b550\s*:\s*:?\s*user unknown", re.IGNORECASE)
_FILTER_WORDS = re.compile(r"user unknown|unknown user", re.IGNORECASE)


def find_code(text: str | None) -> str | None:
    """The first RFC 3463 enhanced status code in a text, e.g. "5.1.1"."""
    if not text:
        return None
    match = _CODE.search(text)
    return ".".join(match.groups()) if match else None


def find_codes(text: str | None, limit: int = 8) -> list[str]:
    """The first few enhanced status codes in a text, in order."""
    if not text:
        return []
    codes = []
    for match in _CODE.finditer(text[:4000]):
        codes.append(".".join(match.groups()))
        if len(codes) >= limit:
            break
    return codes


def find_reply(text: str | None) -> str | None:
    """The first SMTP reply code (e.g. "550") in a text."""
    if not text:
        return None
    match = _REPLY.search(text)
    return match.group(1) if match else None


def reason_of_text(text: str | None) -> str | None:
    """The reason named by a server's words, or None."""
    if not text:
        return None
    return _reason_of_text(text[:TEXT_LIMIT])


@lru_cache(maxsize=16)  # repeats within one message; too small to remember a corpus
def _reason_of_text(text: str) -> str | None:
    text = text.lower()
    for reason, matcher in _MATCHERS:
        if matcher.search(text):
            return reason
    return None


def best_code(status: str | None, diagnostic: str | None) -> str | None:
    """The DSN Status, unless it is unspecific (5.0.0, 5.1.0, ...) and the diagnostic holds a better code."""
    code = find_code(status)
    if code is None or code[2:] in _VAGUE:
        found = find_codes(diagnostic)
        better = [c for c in found if (code is None or c[0] == code[0]) and c[2:] not in _VAGUE]
        if better:
            return better[0]
        if code is None and found:
            return found[0]
    return code


def is_vague(code: str | None) -> bool:
    """True for a missing code or one that says little about the cause (x.0.0, 5.1.0, 5.2.1, ...)."""
    return code is None or code[2:] in _VAGUE


def interpret(status: str | None, diagnostic: str | None, failed: bool = True,
              after_data: bool = False) -> tuple[str, bool, str | None]:
    """(reason, hard, status code) for one failed or delayed recipient.

    `status` is the RFC 3463 code as reported (may be None), `diagnostic` the server's words,
    `failed` False for a delay (never hard), `after_data` True when the server refused the
    message only after DATA (so the recipient had been accepted).
    """
    code = best_code(status, diagnostic)
    reply = find_reply(diagnostic)
    permanent = (code[0] == "5") if code else (reply[0] == "5") if reply else failed
    if not failed:
        permanent = False
    text_reason = reason_of_text(diagnostic)
    reason = _decide(code, text_reason)
    if reason == "user_unknown" and not (code and code[2:] in ("1.1", "1.10")):
        words = diagnostic or ""
        if (after_data and _FILTER_WORDS.search(words)) or _EMPTY_ADDRESS_UNKNOWN.search(words):
            reason = "filtered"  # "user unknown" only after DATA, or naming no address: a filter's answer
    hard = permanent and reason in HARD_REASONS and not (code and code[2] == "7")
    if code is None and reply is not None:
        code = f"{reply[0]}.0.0"
    return reason, hard, code


def said_after_data(text: str | None) -> bool:
    """True when a server's words say the refusal came after DATA ("in reply to end of DATA command")."""
    return bool(text and _AFTER_DATA.search(text))


def mailbox_state(text: str | None) -> str | None:
    """A soft state of the mailbox named by a text (full, disabled, filtering), or None."""
    if not text:
        return None
    text = text[:TEXT_LIMIT].lower()
    for reason, matcher in _MATCHERS:
        if reason in _MAILBOX_STATES and matcher.search(text):
            return reason
    return None


def _decide(code: str | None, text_reason: str | None) -> str:
    if code is not None:
        detail = code[2:]
        specific = _SPECIFIC.get(detail)
        if specific is not None:
            if text_reason in SOFT_CAUSES or (specific in HARD_REASONS and text_reason in HARD_REASONS):
                return text_reason
            if text_reason and specific == "policy" and detail == "7.1":
                return text_reason  # 5.7.1 is "not authorized": the words say why
            return specific
        if text_reason:
            return text_reason
        return _VAGUE.get(detail, "undefined")
    return text_reason or "undefined"
