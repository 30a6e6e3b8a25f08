"""A caching reader of DNS TXT records, for the sender-authentication checks of the seed audit.

Three outcomes are kept apart: records (a list of strings), no record (an empty list: NXDOMAIN
or an answer without TXT), and unknown (DnsUnavailable: a time-out, SERVFAIL, no nameserver
answering). Unknown is never read as "no record", and is never cached, so the next lookup asks
again. Answers are cached for their TTL clamped to [min_ttl, max_ttl]; "no record" for
negative_ttl.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

# dnspython is imported where a lookup is made, not here: the web app and the worker import this
# module for its types, and only the seed audit resolves anything.
if TYPE_CHECKING:
    import dns.nameserver


class DnsUnavailable(Exception):
    """The DNS gave no usable answer (time-out, SERVFAIL, no nameserver): the record is unknown."""


@dataclass(frozen=True)
class _Entry:
    records: tuple[bytes, ...]
    expires: float


def _nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    """A nameserver from "ip", "ip:port", "[ipv6]:port" or a bare IPv6 address."""
    import dns.nameserver

    entry = entry.strip()
    if entry.startswith("["):
        address, _, port = entry[1:].partition("]:")
        return dns.nameserver.Do53Nameserver(address.rstrip("]"), int(port or 53))
    if entry.count(":") == 1:
        address, port = entry.split(":")
        return dns.nameserver.Do53Nameserver(address, int(port))
    return dns.nameserver.Do53Nameserver(entry, 53)


def _key(name: str) -> str:
    """Names are compared without case and without their trailing dot."""
    return name.strip().rstrip(".").lower()


class Resolver:
    """TXT lookups through dnspython, cached; safe to share between threads."""

    def __init__(self, nameservers: list[str] | None = None, timeout: float = 2.0, max_entries: int = 10_000,
                 min_ttl: float = 60, max_ttl: float = 3600, negative_ttl: float = 300,
                 clock: Callable[[], float] = time.monotonic):
        """`nameservers`: "ip" or "ip:port" entries; None or empty reads the system's configuration
        (/etc/resolv.conf). `timeout` bounds a whole lookup, retries included."""
        import dns.exception
        import dns.resolver

        if nameservers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [_nameserver(entry) for entry in nameservers]
        else:
            try:
                self._resolver = dns.resolver.Resolver(configure=True)
            except dns.exception.DNSException:  # no /etc/resolv.conf: every lookup is then unknown
                self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._resolver.cache = None  # this class caches, with its own clock and bounds
        self.max_entries = max_entries
        self.min_ttl, self.max_ttl, self.negative_ttl = min_ttl, max_ttl, negative_ttl
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def txt(self, name: str) -> list[str]:
        """The TXT records of `name`, each one's strings joined; [] when it has none.
        Raises DnsUnavailable when that is unknown."""
        return [record.decode("utf-8", "replace") for record in self._records(name)]

    def dkim_dnsfunc(self) -> Callable[..., bytes | None]:
        """A `dnsfunc` for dkimpy: the key record (bytes) at a name given as bytes, None when there is
        none. Raises DnsUnavailable, which dkimpy does not catch, so that the caller can tell
        "unknown" from dkimpy's False. dkimpy's `timeout` is ignored: this Resolver's applies."""
        def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
            if isinstance(name, bytes):
                try:
                    name = name.decode("utf-8")
                except UnicodeDecodeError:
                    return None  # no such name can be looked up, so it holds no key
            records = self._records(name)
            # Several records at a selector are a mistake; prefer one that holds a key, so the
            # choice does not hang on the order the DNS returned them in.
            keys = [record for record in records if b"p=" in record]
            return (keys or records or [None])[0]
        return dnsfunc

    def clear(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._cache.clear()

    def _records(self, name: str) -> tuple[bytes, ...]:
        key = _key(name)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry.expires > self._clock():
                return entry.records
        # Asked outside the lock: one slow name must not hold up the others. Two threads missing
        # the same name at once may both ask; the later answer is kept.
        records, ttl = self._query(key)
        if ttl is not None:
            self._store(key, _Entry(records, self._clock() + ttl))
        return records

    def _store(self, key: str, entry: _Entry) -> None:
        with self._lock:
            self._cache.pop(key, None)
            self._cache[key] = entry
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)  # the oldest stored

    def _query(self, key: str) -> tuple[tuple[bytes, ...], float | None]:
        """The records at `key` and how long to keep them (None: not to be kept)."""
        import dns.exception
        import dns.name
        import dns.rdatatype
        import dns.resolver

        try:
            qname = dns.name.from_text(key)
        except (dns.exception.DNSException, UnicodeError, ValueError):
            return (), None  # not a name the DNS can hold, so it holds no record
        try:
            answer = self._resolver.resolve(qname, dns.rdatatype.TXT, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return (), self.negative_ttl
        except dns.exception.Timeout as exc:
            raise DnsUnavailable(f"{key}: no answer within {self._resolver.lifetime} s") from exc
        except dns.resolver.NoNameservers as exc:
            raise DnsUnavailable(f"{key}: no nameserver answered usefully ({exc})") from exc
        except dns.exception.DNSException as exc:  # no configuration, YXDOMAIN, a malformed reply
            raise DnsUnavailable(f"{key}: {type(exc).__name__}: {exc}") from exc
        if answer.rrset is None:
            return (), self.negative_ttl
        records = tuple(b"".join(rdata.strings) for rdata in answer.rrset)
        ttl = min(max(answer.chaining_result.minimum_ttl, self.min_ttl), self.max_ttl)
        return records, ttl
