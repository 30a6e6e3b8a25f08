"""RFC 8058 one-click unsubscribe: the POST a seed address's worker makes to a dealer's own endpoint.

The URL comes from an untrusted marketing email, so the request is made defensively: https only,
the host resolved once and refused if any of its addresses is not a public one, the connection
made to that checked address (a second lookup could be rebound to an internal one) with TLS
verified against the URL's host, no redirect followed, every step bounded by `timeout` and the
whole exchange by twice that, at most 64 KiB of answer read. Nothing raises: every ending,
good or bad, is an Answer.
"""
from __future__ import annotations

import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import SplitResult, urlsplit

BODY = b"List-Unsubscribe=One-Click"
USER_AGENT = "suppression-seed-audit/1"
MAX_URL_LENGTH = 2048
MAX_BODY = 64 * 1024
MAX_DETAIL = 300
OUTCOMES = ("ok", "rejected", "refused", "timeout", "error")
# A DNS name as it may appear in a URL: letters, digits, hyphens (and underscores, which real
# hosts use), in dot-separated labels. Anything else (a backslash, a percent sign) is refused.
_HOSTNAME = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*\.?")
# NAT64 prefixes carry an IPv4 address in their last 32 bits, which the gateway then reaches.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Answer:
    """How one one-click POST ended."""

    url: str
    at: datetime  # UTC, when the attempt was made
    outcome: str  # one of OUTCOMES
    status: int | None  # the HTTP status, when one came back
    detail: str  # a short reason for people, at most MAX_DETAIL characters

    def __post_init__(self):
        if len(self.detail) > MAX_DETAIL:
            object.__setattr__(self, "detail", self.detail[:MAX_DETAIL - 1] + "…")

    def as_json(self) -> dict:
        """The answer as JSON-ready values (the time in ISO 8601 UTC with a Z)."""
        at = self.at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
        return {"url": self.url, "at": at, "outcome": self.outcome, "status": self.status, "detail": self.detail}


class _Stop(Exception):
    """Ends an attempt early with the outcome and detail it carries."""

    def __init__(self, outcome: str, detail: str, status: int | None = None):
        super().__init__(detail)
        self.outcome, self.detail, self.status = outcome, detail, status


@dataclass(frozen=True)
class _Target:
    host: str  # lower-case, without brackets
    port: int
    host_header: str
    request_target: str  # path?query


def post_one_click(url: str, *, timeout: float = 5.0, allow_loopback: bool = False, cafile: str | None = None,
                   resolve=socket.getaddrinfo) -> Answer:
    """POST `List-Unsubscribe=One-Click` to `url` and say how it went; never raises.

    `resolve` is called like socket.getaddrinfo(host, port, 0, SOCK_STREAM) (tests give a fake).
    `allow_loopback` lets tests reach 127.0.0.0/8 and ::1; `cafile` adds a CA to the trusted ones.
    """
    at = datetime.now(UTC)
    recorded = url[:MAX_URL_LENGTH] if isinstance(url, str) else repr(url)[:MAX_URL_LENGTH]
    deadline = time.monotonic() + 2 * timeout
    where = "(unparsed)"
    try:
        target = _parse(url)
        where = f"https://{target.host}"
        addresses = _addresses(target, resolve, allow_loopback, timeout, deadline)
        status, detail = _exchange(target, addresses, timeout, deadline, cafile)
        outcome = "ok" if 200 <= status < 300 else "rejected"
        answer = Answer(recorded, at, outcome, status, detail)
    except _Stop as stop:
        answer = Answer(recorded, at, stop.outcome, stop.status, stop.detail)
    except Exception as exc:  # a bug here must not stop the worker: record it like any failure
        log.exception("one-click POST to %s failed unexpectedly", where)
        answer = Answer(recorded, at, "error", None, f"unexpected {type(exc).__name__}")
    # Only scheme and host: the path and query may hold the seed address.
    log.info("one-click POST to %s: %s %s", where, answer.outcome, answer.status or "")
    return answer


def _parse(url: object) -> _Target:
    """The parts of an acceptable one-click URL, or _Stop("refused")."""
    if not isinstance(url, str):
        raise _Stop("refused", "URL is not text")
    if len(url) > MAX_URL_LENGTH:
        raise _Stop("refused", f"URL is longer than {MAX_URL_LENGTH} characters")
    # Printable ASCII only: no spaces or control characters to smuggle into the request line.
    if not url or any(not "!" <= c <= "~" for c in url):
        raise _Stop("refused", "URL holds characters other than printable ASCII")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _Stop("refused", f"URL does not parse: {exc}") from None
    if parts.scheme.lower() != "https":
        raise _Stop("refused", f"scheme {parts.scheme[:20]!r} is not https")
    if "@" in parts.netloc:
        raise _Stop("refused", "URL holds user information")
    if port == 0:
        raise _Stop("refused", "URL has port 0")
    return _target(parts, 443 if port is None else port)


def _target(parts: SplitResult, port: int) -> _Target:
    host = parts.hostname or ""
    literal = _literal(host)
    if literal is None and not _HOSTNAME.fullmatch(host):
        raise _Stop("refused", "URL has no valid host")
    shown = f"[{host}]" if literal is not None and literal.version == 6 else host
    host_header = shown if port == 443 else f"{shown}:{port}"
    path = parts.path or "/"
    if not path.startswith("/"):
        raise _Stop("refused", "URL path does not start with /")
    return _Target(host, port, host_header, path + (f"?{parts.query}" if parts.query else ""))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _addresses(target: _Target, resolve, allow_loopback: bool, timeout: float,
               deadline: float) -> list[tuple[int, tuple]]:
    """(family, sockaddr) for each address of the host, all checked; _Stop if any is not public."""
    literal = _literal(target.host)
    if literal is not None:
        found = [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, (target.host, target.port))]
    else:
        found = _lookup(target, resolve, timeout, deadline)
    if not found:
        raise _Stop("error", f"{target.host} has no address")
    for _family, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        why = refusal(address, allow_loopback)
        if why:
            raise _Stop("refused", f"destination {sockaddr[0]} is {why}")
    return found


def _lookup(target: _Target, resolve, timeout: float, deadline: float) -> list[tuple[int, tuple]]:
    """The host's addresses, looked up once, in a thread so that a stalled resolver is waited
    for no longer than the time-out (getaddrinfo itself has none)."""
    result: dict = {}

    def run():
        try:
            result["infos"] = resolve(target.host, target.port, 0, socket.SOCK_STREAM)
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, name="oneclick-resolve", daemon=True)
    thread.start()
    thread.join(_budget(timeout, deadline))
    if thread.is_alive():
        raise _Stop("timeout", f"looking up {target.host} timed out")
    if "error" in result:
        raise _Stop("error", f"looking up {target.host} failed: {result['error']}")
    seen, found = set(), []
    for family, _type, _proto, _name, sockaddr in result["infos"]:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in seen:
            seen.add(sockaddr[0])
            found.append((family, sockaddr))
    return found


def refusal(address: IPAddress, allow_loopback: bool = False) -> str | None:
    """Why `address` may not be connected to ("a private address"...), or None when it is public
    (or loopback and `allow_loopback`). An IPv4 address inside an IPv6 one is judged itself."""
    address = _embedded(address) or address
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (("an unspecified", address.is_unspecified), ("a link-local", address.is_link_local),
              ("a multicast", address.is_multicast), ("a shared (carrier-grade NAT)", address in _SHARED),
              ("a private", address.is_private), ("a reserved", address.is_reserved),
              ("a site-local", getattr(address, "is_site_local", False)), ("a non-public", not address.is_global))
    for label, found in checks:
        if found:
            return f"{label} address"
    return None


def _embedded(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (mapped, 6to4, NAT64), if any."""
    if address.version == 4:
        return None
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _budget(timeout: float, deadline: float) -> float:
    """Seconds the next step may take: `timeout`, less if the overall deadline is nearer."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the overall deadline passed")
    return min(timeout, left)


class _BoundedSocket(ssl.SSLSocket):
    """A TLS socket whose every read is bounded by the time-out and by the overall deadline, so
    that a server sending one byte at a time cannot hold the worker."""

    timeout_each: float = 5.0
    deadline: float = 0.0

    def recv_into(self, buffer, nbytes=0, flags=0):
        self.settimeout(_budget(self.timeout_each, self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen=1024, flags=0):
        self.settimeout(_budget(self.timeout_each, self.deadline))
        return super().recv(buflen, flags)


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection over a TLS socket already opened to the checked address."""

    def __init__(self, host: str, port: int, sock: ssl.SSLSocket):
        super().__init__(host, port)
        self._ready = sock

    def connect(self):
        self.sock = self._ready


def _open_tcp(family: int, sockaddr: tuple, timeout: float) -> socket.socket:
    """A TCP connection to exactly this address (a seam tests replace to see no connection is made)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _exchange(target: _Target, addresses: list[tuple[int, tuple]], timeout: float, deadline: float,
              cafile: str | None) -> tuple[int, str]:
    """(status, detail) of the POST, trying the checked addresses in turn until one connects."""
    try:
        context = _context(cafile)
    except (OSError, ssl.SSLError) as exc:
        raise _Stop("error", f"CA file not usable: {exc}") from None
    failure: BaseException | None = None
    for family, sockaddr in addresses:
        try:
            sock = _open_tcp(family, sockaddr, _budget(timeout, deadline))
        except OSError as exc:  # TimeoutError included
            failure = exc
            continue
        try:
            return _post(_tls(context, sock, target.host, timeout, deadline), target)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _failure(exc, "") from None
    raise _failure(failure, "connecting: ")


def _context(cafile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)  # in addition to the system's CAs
    context.sslsocket_class = _BoundedSocket
    return context


def _tls(context: ssl.SSLContext, sock: socket.socket, host: str, timeout: float,
         deadline: float) -> _BoundedSocket:
    """TLS over `sock`, the certificate checked against the URL's host (sent as SNI too)."""
    try:
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    except BaseException:
        sock.close()
        raise
    tls.timeout_each, tls.deadline = timeout, deadline
    try:
        tls.settimeout(_budget(timeout, deadline))
        tls.do_handshake()
    except BaseException:
        tls.close()
        raise
    return tls


def _post(tls: _BoundedSocket, target: _Target) -> tuple[int, str]:
    connection = _Pinned(target.host, target.port, tls)
    try:
        connection.putrequest("POST", target.request_target, skip_host=True, skip_accept_encoding=True)
        for name, value in (("Host", target.host_header), ("User-Agent", USER_AGENT),
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Content-Length", str(len(BODY))), ("Connection", "close")):
            connection.putheader(name, value)
        connection.endheaders(BODY)
        response = connection.getresponse()
        try:
            response.read(MAX_BODY)  # the answer is complete only once its body has come (or 64 KiB of it)
        except TimeoutError:
            raise _Stop("timeout", f"HTTP {response.status}, but the body did not arrive in time",
                        response.status) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Stop("error", f"HTTP {response.status}, but reading the body failed: {_reason(exc)}",
                        response.status) from None
        return response.status, _describe(response)
    finally:
        connection.close()


def _describe(response: http.client.HTTPResponse) -> str:
    status = response.status
    if 300 <= status < 400:
        location = _printable(response.getheader("Location") or "")
        return f"HTTP {status}: redirect to {location or '(no Location)'} not followed"
    return f"HTTP {status} {_printable(response.reason or '')}".rstrip()


def _failure(exc: BaseException | None, doing: str) -> _Stop:
    """The _Stop for an exception raised while connecting or talking to the server."""
    if isinstance(exc, _Stop):
        return exc
    if isinstance(exc, TimeoutError):
        return _Stop("timeout", f"{doing}timed out ({_reason(exc)})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _Stop("error", f"certificate not accepted: {exc.verify_message or _reason(exc)}")
    return _Stop("error", f"{doing}{_reason(exc)}")


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no address to connect to"
    text = _printable(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _printable(text: str) -> str:
    """`text` with anything but printable characters dropped, cut to a detail's length."""
    return "".join(c for c in text if c.isprintable())[:MAX_DETAIL]
