"""Sender authentication of one message that reached a seed address: DKIM, DMARC, SPF.

Each DKIM-Signature is verified on its own (dkimpy), with its key read through a
seedlist.dns.Resolver: verified True or False, or None when the key's DNS is unavailable (unknown
is not a failure). DMARC and SPF records are read from the DNS; DMARC alignment compares
organizational domains from a small built-in suffix list. The verdicts the receiving side
recorded are read from its Authentication-Results headers (RFC 8601).
"""
from __future__ import annotations

import email.parser
import email.policy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message

from seedlist.dns import DnsUnavailable, Resolver

DMARC_POLICIES = ("none", "quarantine", "reject")
REPORTED_METHODS = ("spf", "dkim", "dmarc")

# Public suffixes of more than one label under which organizations register their domains.
# Not the Public Suffix List: a short list of the common ones; any other domain's organizational
# domain is its last two labels.
MULTI_LABEL_SUFFIXES = frozenset("""
    co.uk org.uk me.uk ltd.uk plc.uk net.uk ac.uk gov.uk sch.uk nhs.uk
    com.au net.au org.au edu.au gov.au id.au
    co.nz net.nz org.nz govt.nz ac.nz
    co.jp ne.jp or.jp ac.jp go.jp ad.jp ed.jp gr.jp lg.jp
    co.kr or.kr ne.kr go.kr ac.kr
    com.br net.br org.br gov.br
    com.cn net.cn org.cn gov.cn edu.cn
    com.hk net.hk org.hk com.tw net.tw org.tw com.sg net.sg org.sg edu.sg
    co.in net.in org.in firm.in gen.in ind.in
    co.za org.za net.za gov.za
    com.mx org.mx gob.mx com.ar com.co com.pe com.ve com.uy
    co.il org.il ac.il com.tr org.tr net.tr gov.tr
    co.id or.id com.my net.my org.my com.ph co.th in.th com.vn com.pk com.bd com.eg com.sa com.ng
    com.ua org.ua net.ua com.pl net.pl org.pl co.at or.at
""".split())


@dataclass(frozen=True)
class Signature:
    domain: str
    selector: str
    signed_headers: tuple[str, ...]  # lower-case, in h= order
    verified: bool | None  # None: the key's DNS was unavailable
    error: str | None


@dataclass(frozen=True)
class Dmarc:
    domain: str  # where the record was found: the From domain or its organizational domain
    policy: str  # none | quarantine | reject, as it applies to the From domain (sp= for a subdomain)
    adkim: str  # r | s
    aspf: str  # r | s
    raw: str


class _ErrorLog:
    """A logger for dkimpy that keeps the errors it reports (why a signature failed)."""

    def __init__(self):
        self.errors: list[str] = []

    def isEnabledFor(self, level: int) -> bool:
        return False

    def error(self, message, *args) -> None:
        self.errors.append(str(message) % args if args else str(message))

    def debug(self, *args) -> None:
        pass

    info = warning = debug


def _clean(domain: str) -> str:
    return (domain or "").strip().rstrip(".").lower()


def _tags(value: bytes) -> dict[str, str]:
    """The tag=value pairs of a DKIM-Signature, leniently (whitespace removed from values)."""
    tags: dict[str, str] = {}
    for part in value.decode("ascii", "replace").split(";"):
        name, sep, tag_value = part.partition("=")
        if sep:
            tags.setdefault(name.strip(), re.sub(r"\s+", "", tag_value))
    return tags


def _signature_headers(raw: bytes) -> tuple[list[bytes], str | None]:
    """The DKIM-Signature values of `raw`, and why dkimpy cannot read the message (None if it can)."""
    import dkim  # here, not at the top: dkim and dnspython load only when the seed audit reads mail

    try:
        headers = dkim.DKIM(raw).headers
    except Exception as exc:  # dkimpy's header parser raises MessageFormatError, and IndexError on worse
        parsed = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
        values = [str(v).encode("utf-8", "replace") for v in parsed.get_all("DKIM-Signature") or []]
        return values, f"message not readable: {type(exc).__name__}: {exc}"
    return [value for name, value in headers if name.lower() == b"dkim-signature"], None


def _verify(raw: bytes, index: int, value: bytes, resolver: Resolver, problem: str | None) -> Signature:
    tags = _tags(value)
    described = dict(domain=_clean(tags.get("d", "")), selector=tags.get("s", ""),
                     signed_headers=tuple(h.lower() for h in tags.get("h", "").split(":") if h))
    if problem:
        return Signature(**described, verified=False, error=problem)
    log = _ErrorLog()
    import dkim

    try:
        ok = dkim.DKIM(raw, logger=log).verify(idx=index, dnsfunc=resolver.dkim_dnsfunc())
    except DnsUnavailable as exc:  # raised by our dnsfunc; dkimpy lets it through
        return Signature(**described, verified=None, error=str(exc))
    except Exception as exc:  # DKIMException for a malformed signature or key, plain errors for worse
        return Signature(**described, verified=False, error=f"{type(exc).__name__}: {exc}")
    error = None if ok else (log.errors[-1] if log.errors else "signature does not match")
    return Signature(**described, verified=bool(ok), error=error)


def signatures(raw: bytes, resolver: Resolver) -> list[Signature]:
    """Every DKIM-Signature of the message, topmost first, each verified on its own. Never raises
    for a malformed message or signature (verified False, with the reason in `error`)."""
    values, problem = _signature_headers(raw)
    return [_verify(raw, index, value, resolver, problem) for index, value in enumerate(values)]


def covers(signature: Signature, header_names: Iterable[str]) -> bool:
    """Whether the signature's h= names every one of these headers (any case)."""
    return all(name.lower() in signature.signed_headers for name in header_names)


def organizational_domain(domain: str) -> str:
    """The registered domain of `domain` (RFC 7489 section 3.2), lower-case: the label under its
    public suffix. Suffixes are MULTI_LABEL_SUFFIXES, a short built-in list and NOT the full Public
    Suffix List, else the last label; so "mail.dealer.co.uk" -> "dealer.co.uk", "a.b.example" ->
    "b.example"."""
    labels = _clean(domain).split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(dkim_domain: str, from_domain: str, strict: bool = False) -> bool:
    """DMARC identifier alignment: strict, the same domain; relaxed, the same organizational domain."""
    a, b = _clean(dkim_domain), _clean(from_domain)
    if not a or not b:
        return False
    return a == b if strict else organizational_domain(a) == organizational_domain(b)


_DMARC_VERSION = re.compile(r"[vV][ \t]*=[ \t]*DMARC1[ \t]*(;|$)")


def _dmarc_tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";")[1:]:
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _dmarc_at(domain: str, resolver: Resolver) -> str | None:
    """The first DMARC record at _dmarc.<domain>, or None."""
    for record in resolver.txt(f"_dmarc.{domain}"):
        if _DMARC_VERSION.match(record):
            return record
    return None


def _parse_dmarc(found_at: str, from_domain: str, record: str) -> Dmarc | None:
    tags = _dmarc_tags(record)
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        return None  # no valid p=: the record is ignored (RFC 7489 section 6.6.3)
    subdomain_policy = tags.get("sp", "").lower()
    if found_at != from_domain and subdomain_policy in DMARC_POLICIES:
        policy = subdomain_policy
    adkim, aspf = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
    return Dmarc(domain=found_at, policy=policy, adkim=adkim if adkim in ("r", "s") else "r",
                 aspf=aspf if aspf in ("r", "s") else "r", raw=record)


def dmarc(from_domain: str, resolver: Resolver) -> Dmarc | None:
    """The DMARC policy for mail from `from_domain` (RFC 7489 section 6.6.3): the record at
    _dmarc.<from domain>, else at _dmarc.<organizational domain>; the first TXT record starting
    v=DMARC1. None when there is none or it has no valid p=. Raises DnsUnavailable when unknown."""
    domain = _clean(from_domain)
    if not domain:
        return None
    found_at, record = domain, _dmarc_at(domain, resolver)
    if record is None:
        found_at = organizational_domain(domain)
        if found_at == domain:
            return None
        record = _dmarc_at(found_at, resolver)
        if record is None:
            return None
    return _parse_dmarc(found_at, domain, record)


_SPF_VERSION = re.compile(r"v=spf1( |$)", re.IGNORECASE)


def spf(domain: str, resolver: Resolver) -> str | None:
    """The SPF record (the first TXT record starting v=spf1) of `domain`, or None. Raises
    DnsUnavailable when unknown."""
    domain = _clean(domain)
    if not domain:
        return None
    return next((record for record in resolver.txt(domain) if _SPF_VERSION.match(record)), None)


def _without_comments(text: str) -> str:
    """`text` with its (nested) parenthesized comments replaced by spaces, quoted strings kept."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
        elif char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
        elif quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def _split(text: str) -> list[str]:
    """`text` split at semicolons outside quoted strings."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


_RESULT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(?:/\s*[0-9]+\s*)?=\s*([A-Za-z0-9_-]+)")


def _verdicts(value: str, authserv_ids: set[str] | None) -> dict[str, str]:
    """The method -> result pairs of one Authentication-Results value (first of each method)."""
    parts = _split(" ".join(_without_comments(value).split()))
    authserv_id = (parts[0].split() or [""])[0].strip('"').lower()
    if authserv_ids is not None and authserv_id not in authserv_ids:
        return {}
    verdicts: dict[str, str] = {}
    for resinfo in parts[1:]:
        match = _RESULT.match(resinfo)
        if match:
            verdicts.setdefault(match.group(1).lower(), match.group(2).lower())
    return verdicts


def authentication_results(message_headers: Message | Iterable[str],
                           authserv_ids: set[str] | None = None) -> dict[str, str]:
    """The spf, dkim and dmarc verdicts recorded in Authentication-Results headers (RFC 8601), e.g.
    {"spf": "pass", "dkim": "fail", "dmarc": "pass"}; a method not reported is absent.

    `message_headers` is a parsed email.message.Message or the header values (not "Name: value"
    lines) in message order, topmost first. For each method the topmost header reporting it
    wins, and within a header its first result. With `authserv_ids`, only headers from those
    authentication services (compared without case) count. Comments, folding and malformed
    parts are tolerated; never raises."""
    if isinstance(message_headers, Message):
        values = message_headers.get_all("Authentication-Results") or []
    elif isinstance(message_headers, str | bytes):
        values = [message_headers]
    else:
        values = list(message_headers)
    wanted = None if authserv_ids is None else {i.lower() for i in authserv_ids}
    results: dict[str, str] = {}
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        for method, result in _verdicts(str(value), wanted).items():
            if method in REPORTED_METHODS:
                results.setdefault(method, result)
    return results
