"""RFC 3463 enhanced status codes and SMTP reply text → (reason, hard).

Reasons (the `reason` of a RecipientResult):

  hard when permanent (5.x.x, not 5.7.x) — the address is dead:
    user_unknown       no such mailbox (5.1.1; "user unknown", "no such user", "does not exist")
    host_unknown       no such domain or host (5.1.2; "host not found", "domain does not exist")
    has_moved          the mailbox has moved (5.1.6)
    not_accept         the domain accepts no mail (5.1.10, null MX, "no MX record")
    bad_address        the address cannot exist: bad destination mailbox address syntax (5.1.3)
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
from workers import phrases, wording

TEXT_LIMIT = 2000  # characters of a diagnostic or notice read for words
# Reasons that the text may give even against a specific status code such as 5.1.1.
SOFT_CAUSES = frozenset({
    "mailbox_full", "message_too_large", "filtered", "spam_block", "blocked", "auth_failure",
    "policy", "rate_limited", "relay_denied", "suspended", "content_error",
})

_MAILBOX_STATES = frozenset({"mailbox_full", "suspended", "filtered"})

_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
_REPLY = re.compile(r"(?<![\d.#-])([45][0-5]\d)(?:[ :-]|$)")  # a failure's reply: 2xx lines are a transcript's

# Codes that decide the reason by themselves (subject.detail → reason).
_SPECIFIC = {
    "1.1": "user_unknown", "1.2": "host_unknown", "1.3": "bad_address", "1.6": "has_moved",
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

_FAMILIES = wording.families(phrases.REASONS)
_STAGES = wording.families(phrases.STAGES)
_SENDER_REFUSAL = wording.Family("rejected", phrases.SENDER_REFUSAL)
_UNAVAILABLE = wording.Family("user_unknown", phrases.UNAVAILABLE)
_TRANSCRIPT = re.compile(r"^[ \t>]*(>>>|<<<)\s*([\w-]+)", re.MULTILINE)
_COMMANDS = {"rcpt": "rcpt", "mail": "mail", "data": "data", "ehlo": "helo", "helo": "helo", "lhlo": "helo"}
_SENDER_STAGES = frozenset({"mail", "helo"})
_POLICY_WORDS = re.compile(r"polic|denied|not (?:authori[sz]ed|allowed|permitted)|prohibited|restricted|refused")
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
    for family in _FAMILIES:
        if family.matches(text):
            return family.reason
    return None


def best_code(status: str | None, diagnostic: str | None) -> str | None:
    """The DSN Status, unless it is unspecific (5.0.0, 5.1.0, ...) and the diagnostic holds a better
    code, or the remote server's own words give a policy code (x.7.x) the reporting MTA did not keep."""
    code = find_code(status)
    code = None if code and code[0] == "2" else code  # a success code says nothing about a failure
    found = [c for c in find_codes(diagnostic) if c[0] != "2"]
    if code is not None and code[2] != "7":
        policy = [c for c in found if c[0] == code[0] and c[2] == "7"]
        if policy and found[0] == policy[0]:
            return policy[0]
    if code is None or code[2:] in _VAGUE:
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
    message only after DATA (so the recipient had been accepted). The code is read first, then
    the SMTP stage the reply answered, then the words.
    """
    code = best_code(status, diagnostic)
    reply = find_reply(diagnostic)
    permanent = failed and ((code[0] == "5") if code else (reply[0] == "5") if reply else True)
    stage = "data" if after_data else stage_of(diagnostic)
    reason = _decide(code, reason_of_text(diagnostic))
    reason = _by_stage(reason, stage, code, diagnostic or "")
    hard = permanent and reason in HARD_REASONS and not (code and code[2] == "7" and reason != "user_unknown")
    if code is None and reply is not None:
        code = f"{reply[0]}.0.0"
    return reason, hard, code


def _by_stage(reason: str, stage: str | None, code: str | None, words: str) -> str:
    """The reason corrected by the stage the reply answered and by whose fault the words say it is."""
    lowered = words[:TEXT_LIMIT].lower()
    if stage in _SENDER_STAGES or _SENDER_REFUSAL.matches(lowered):
        return "rejected" if reason in HARD_REASONS or reason in ("undefined", "syntax_error", "policy") else reason
    specific = code is not None and code[2:] in ("1.1", "1.10")
    said_by_filter = (stage == "data" and _FILTER_WORDS.search(words)) or _EMPTY_ADDRESS_UNKNOWN.search(words)
    if reason == "user_unknown" and not specific and said_by_filter:
        return "filtered"  # "user unknown" only after DATA, or naming no address: a filter's answer
    policy_code = code is not None and code[2] == "7"
    if stage in ("rcpt", None) and reason in ("undefined", "system_error", "syntax_error") and not policy_code \
            and _UNAVAILABLE.matches(lowered):
        return "user_unknown"
    if reason == "user_unknown" and policy_code and _POLICY_WORDS.search(lowered) and "invalid recipient" not in lowered:
        return "policy"  # a 5.7.x refusal by policy that names the recipient; "no such user" under 5.7.x stays
    return reason


def stage_of(text: str | None) -> str | None:
    """The SMTP command a failing reply answered: "rcpt", "mail", "helo", "data", or None when unsaid."""
    if not text:
        return None
    text = text[:TEXT_LIMIT * 2]
    if ">>>" in text:  # a transcript: the command sent last before the first failing reply
        command = None
        for match in _TRANSCRIPT.finditer(text):
            arrow, word = match.groups()
            if arrow == ">>>":
                command = _COMMANDS.get(word.lower(), command)
            elif word[:1] in "45" and command:
                return command
    lowered = text.lower()
    for family in _STAGES:
        if family.matches(lowered):
            return family.reason
    return None


def mailbox_state(text: str | None) -> str | None:
    """A soft state of the mailbox named by a text (full, disabled, filtering), or None."""
    if not text:
        return None
    text = text[:TEXT_LIMIT].lower()
    for family in _FAMILIES:
        if family.reason in _MAILBOX_STATES and family.matches(text):
            return family.reason
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
