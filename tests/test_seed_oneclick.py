"""seedlist.oneclick: the one-click POST, against a real HTTPS server on 127.0.0.1.

A session-scoped CA signs a certificate for "localhost" and 127.0.0.1; the client trusts it only
through `cafile`. Names that must not be connected to are resolved by fake resolvers, and a
trap in place of the TCP connect shows that nothing was connected to.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedlist import oneclick
from seedlist.oneclick import OUTCOMES, Answer, post_one_click

FORM = "application/x-www-form-urlencoded"


# --- certificates -----------------------------------------------------------------------------

def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, extensions):
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
               .not_valid_after(now + dt.timedelta(days=2)))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    """(CA file, server certificate chain file, server key file)."""
    folder = tmp_path_factory.mktemp("oneclick-tls")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = _certificate(_name("oneclick test CA"), _name("oneclick test CA"), ca_key.public_key(), ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       encipher_only=False, decipher_only=False), True),
        (ca_ski, False)])
    server = _certificate(_name("localhost"), ca.subject, server_key.public_key(), ca_key, [
        (x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                      x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), False),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False)])
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "server.pem").write_bytes(_pem(server))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key")


# --- the server ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers), body))
        route = self.path.split("?")[0]
        if route == "/moved":
            self._answer(302, [("Location", f"https://127.0.0.1:{self.server.server_port}/elsewhere")])
        elif route == "/moved-far":
            self._answer(301, [("Location", "https://elsewhere.example/" + "x" * 5000)])
        elif route == "/fail":
            self._answer(500)
        elif route == "/slow":
            self.server.stop.wait(3)
            self._answer(200)
        elif route == "/drip":
            self._raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            self._drip(b"x")
        elif route == "/drip-head":
            self._drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10000)
        else:
            self._answer(200)

    do_GET = do_POST

    def _answer(self, status: int, headers=()):
        body = b"done\n"
        self.send_response(status)
        for name, value in [*headers, ("Content-Length", str(len(body))), ("Connection", "close")]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _raw(self, data: bytes):
        self.wfile.write(data)

    def _drip(self, data: bytes):
        """One byte every 0.2 s, until the client leaves or the server stops."""
        index = 0
        while not self.server.stop.wait(0.2):
            try:
                self.wfile.write(data[index % len(data):index % len(data) + 1])
            except OSError:
                return
            index += 1
        self.close_connection = True


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context, self.seen, self.stop = context, [], threading.Event()

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:  # the handshake in the request's own thread, so that a failed one stops nothing else
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:
            return
        try:
            super().finish_request(tls, client_address)
        except OSError:
            pass  # the client left
        finally:
            tls.close()


@pytest.fixture(scope="module")
def https_server(certificates):
    _ca, chain, key = certificates
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    server = _TLSServer(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(https_server):
    https_server.seen.clear()
    return https_server


@pytest.fixture
def cafile(certificates):
    return certificates[0]


@pytest.fixture
def connects(monkeypatch):
    """Every address a TCP connection is opened to (still opened: a real connect)."""
    made = []
    real = oneclick._open_tcp

    def recording(family, sockaddr, timeout):
        made.append(sockaddr[:2])
        return real(family, sockaddr, timeout)

    monkeypatch.setattr(oneclick, "_open_tcp", recording)
    return made


@pytest.fixture
def no_connect(monkeypatch):
    """Every connection attempt, none of which is made."""
    attempts = []

    def trap(family, sockaddr, timeout):
        attempts.append(sockaddr)
        raise ConnectionRefusedError("the test allows no connection")

    monkeypatch.setattr(oneclick, "_open_tcp", trap)
    return attempts


def resolver(*addresses: str, calls: list | None = None):
    """A fake getaddrinfo answering every name with these addresses."""
    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if calls is not None:
            calls.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]
    return resolve


def finishes(call, seconds: float = 15):
    """The result of `call()`, failing the test if it has not returned after `seconds` (a guard
    against a hang, far beyond the deadline under test, not a measure of it)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"still running after {seconds} s"
    return result[0]


# --- answers from the server -----------------------------------------------------------------

def test_a_2xx_is_ok_and_the_server_sees_one_rfc8058_post(server, cafile, connects):
    port = server.server_port
    url = f"https://localhost:{port}/ok?u=seed%40example.org"
    answer = post_one_click(url, allow_loopback=True, cafile=cafile)
    assert (answer.outcome, answer.status, answer.url) == ("ok", 200, url)
    assert answer.at.tzinfo is not None and answer.at <= dt.datetime.now(dt.UTC)
    assert len(server.seen) == 1
    seen = server.seen[0]
    assert (seen.method, seen.path, seen.body) == ("POST", "/ok?u=seed%40example.org", b"List-Unsubscribe=One-Click")
    headers = {name.lower(): value for name, value in seen.headers.items()}
    assert headers["content-type"] == FORM
    assert headers["content-length"] == str(len(b"List-Unsubscribe=One-Click"))
    assert headers["host"] == f"localhost:{port}"
    assert headers["user-agent"] == "suppression-seed-audit/1"
    assert "cookie" not in headers and "authorization" not in headers
    assert connects[-1] == ("127.0.0.1", port)


def test_an_ip_literal_is_checked_against_the_certificates_ip(server, cafile):
    answer = post_one_click(f"https://127.0.0.1:{server.server_port}/ok", allow_loopback=True, cafile=cafile)
    assert answer.outcome == "ok"
    assert server.seen[0].headers["Host"] == f"127.0.0.1:{server.server_port}"


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(server, cafile, connects):
    calls = []
    first = resolver("127.0.0.1", calls=calls)
    later = resolver("10.0.0.5")

    def rebinding(*args):  # a DNS rebinding attack: public-looking once, internal afterwards
        return (first if not calls else later)(*args)

    answer = post_one_click(f"https://localhost:{server.server_port}/ok", allow_loopback=True, cafile=cafile,
                            resolve=rebinding)
    assert answer.outcome == "ok"
    assert calls == ["localhost"]
    assert connects == [("127.0.0.1", server.server_port)]


def test_a_redirect_is_rejected_and_not_followed(server, cafile):
    answer = post_one_click(f"https://localhost:{server.server_port}/moved", allow_loopback=True, cafile=cafile)
    assert (answer.outcome, answer.status) == ("rejected", 302)
    assert "not followed" in answer.detail and "/elsewhere" in answer.detail
    assert [seen.path for seen in server.seen] == ["/moved"]


def test_a_long_location_is_cut_in_the_detail(server, cafile):
    answer = post_one_click(f"https://localhost:{server.server_port}/moved-far", allow_loopback=True,
                            cafile=cafile)
    assert (answer.outcome, answer.status) == ("rejected", 301)
    assert "elsewhere.example" in answer.detail and len(answer.detail) <= 300


def test_a_server_error_is_rejected_with_its_status(server, cafile):
    answer = post_one_click(f"https://localhost:{server.server_port}/fail", allow_loopback=True, cafile=cafile)
    assert (answer.outcome, answer.status) == ("rejected", 500)
    assert len(server.seen) == 1


def test_an_untrusted_certificate_is_an_error(server):
    answer = post_one_click(f"https://localhost:{server.server_port}/ok", allow_loopback=True)
    assert (answer.outcome, answer.status) == ("error", None)
    assert "certificate" in answer.detail
    assert server.seen == []


def test_the_certificate_must_name_the_urls_host_not_the_address(server, cafile):
    answer = post_one_click(f"https://unsubscribe.example:{server.server_port}/ok", allow_loopback=True,
                            cafile=cafile, resolve=resolver("127.0.0.1"))
    assert answer.outcome == "error" and "certificate" in answer.detail
    assert server.seen == []


def test_a_server_that_does_not_answer_in_time_is_a_timeout(server, cafile):
    answer = finishes(lambda: post_one_click(f"https://localhost:{server.server_port}/slow", timeout=0.5,
                                             allow_loopback=True, cafile=cafile))
    assert (answer.outcome, answer.status) == ("timeout", None)


@pytest.mark.parametrize("path, status", [("/drip", 200), ("/drip-head", None)])
def test_a_slow_drip_is_a_timeout_at_the_overall_deadline(server, cafile, path, status):
    # A byte every 0.2 s never trips the 0.5 s time-out of one read: only the deadline ends it.
    answer = finishes(lambda: post_one_click(f"https://localhost:{server.server_port}{path}", timeout=0.5,
                                             allow_loopback=True, cafile=cafile))
    assert (answer.outcome, answer.status) == ("timeout", status)


def test_nothing_listening_is_an_error(cafile):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    answer = post_one_click(f"https://127.0.0.1:{port}/", allow_loopback=True, cafile=cafile)
    assert (answer.outcome, answer.status) == ("error", None)


def test_the_query_is_not_logged(server, cafile, caplog):
    caplog.set_level("DEBUG", logger="seedlist.oneclick")
    post_one_click(f"https://localhost:{server.server_port}/ok?address=seed-7@example.org", allow_loopback=True,
                   cafile=cafile)
    assert "localhost" in caplog.text and "seed-7" not in caplog.text


# --- refused before anything is sent ------------------------------------------------------------

def test_plain_http_is_refused_and_nothing_requested(server, no_connect):
    answer = post_one_click(f"http://127.0.0.1:{server.server_port}/ok", allow_loopback=True)
    assert (answer.outcome, answer.status) == ("refused", None)
    assert server.seen == [] and no_connect == []


@pytest.mark.parametrize("url", [
    "ftp://example.com/unsubscribe", "javascript:alert(1)", "mailto:unsubscribe@example.com", "example.com/u",
    "https:///no-host", "https://", "https://user:secret@example.com/u", "https://user@example.com/u",
    "https://example.com:99999/u", "https://example.com:port/u", "https://example.com:0/u",
    "https://[::1/u", "https://exa mple.com/u", "https://example.com/u\r\nX-Injected: 1",
    "https://example.com/\u00e9", "https://exa\\mple.com/u", "https://exa%41mple.com/u",
    "https://example.com/" + "a" * 2048, "",
])
def test_urls_that_are_not_plain_https_to_a_host_are_refused(url, no_connect):
    calls = []
    answer = post_one_click(url, resolve=resolver("93.184.216.34", calls=calls))
    assert (answer.outcome, answer.status) == ("refused", None), answer.detail
    assert calls == [] and no_connect == []


def test_something_other_than_text_is_refused(no_connect):
    assert post_one_click(None).outcome == "refused"  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_unless_allowed(server, cafile, host):
    answer = post_one_click(f"https://{host}:{server.server_port}/ok", cafile=cafile)
    assert (answer.outcome, answer.status) == ("refused", None)
    assert "loopback" in answer.detail
    assert server.seen == []


@pytest.mark.parametrize("url, address", [
    ("https://10.1.2.3/u", "10.1.2.3"), ("https://192.168.1.1/u", "192.168.1.1"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"), ("https://[::1]:8443/u", "::1"),
    ("https://[fd00::1]/u", "fd00::1"), ("https://100.64.0.1/u", "100.64.0.1"),
    ("https://[::ffff:10.0.0.1]/u", "::ffff:10.0.0.1"), ("https://[::ffff:127.0.0.1]/u", "::ffff:127.0.0.1"),
    ("https://0.0.0.0/u", "0.0.0.0"), ("https://224.0.0.1/u", "224.0.0.1"), ("https://[fe80::1]/u", "fe80::1"),
    ("https://[64:ff9b::a00:1]/u", "64:ff9b::a00:1"), ("https://[2002:a00:1::1]/u", "2002:a00:1::1"),
    ("https://2130706433/u", "127.0.0.1"),  # a decimal IPv4 address, which getaddrinfo accepts
])
def test_non_public_addresses_are_refused_without_connecting(url, address, no_connect):
    answer = post_one_click(url)
    assert (answer.outcome, answer.status) == ("refused", None)
    assert f"destination {address} is " in answer.detail
    assert no_connect == []


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["93.184.216.34", "10.0.0.5"], ["10.0.0.5", "93.184.216.34"],
                                       ["2606:4700::1111", "fd12::5"], ["93.184.216.34", "127.0.0.1"]])
def test_a_name_with_any_non_public_address_is_refused_without_connecting(addresses, no_connect):
    answer = post_one_click("https://evil.example/u", resolve=resolver(*addresses))
    assert (answer.outcome, answer.status) == ("refused", None)
    assert no_connect == []


def test_allowing_loopback_still_refuses_private_addresses(no_connect):
    answer = post_one_click("https://evil.example/u", allow_loopback=True, resolve=resolver("127.0.0.1", "10.0.0.5"))
    assert answer.outcome == "refused" and "10.0.0.5 is a private address" in answer.detail
    assert no_connect == []


def test_a_public_address_is_connected_to(no_connect):
    answer = post_one_click("https://shop.example:8443/u", resolve=resolver("93.184.216.34"))
    assert answer.outcome == "error"  # the trap refused the connection
    assert no_connect == [("93.184.216.34", 8443)]


def test_a_name_that_does_not_resolve_is_an_error(no_connect):
    def unknown(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    answer = post_one_click("https://nowhere.example/u", resolve=unknown)
    assert (answer.outcome, answer.status) == ("error", None) and "nowhere.example" in answer.detail


def test_a_stalled_lookup_is_a_timeout(no_connect):
    release = threading.Event()

    def stalled(*args):
        release.wait(10)
        return resolver("93.184.216.34")(*args)

    try:
        answer = finishes(lambda: post_one_click("https://slow-dns.example/u", timeout=0.2, resolve=stalled))
    finally:
        release.set()
    assert answer.outcome == "timeout" and no_connect == []


# --- the answer itself ------------------------------------------------------------------------------

def test_an_answer_as_json_and_its_detail_bounded():
    at = dt.datetime(2024, 5, 1, 12, 0, 3, 250000, tzinfo=dt.UTC)
    answer = Answer("https://a.example/u", at, "rejected", 302, "x" * 1000)
    assert len(answer.detail) == 300
    assert answer.as_json() == {"url": "https://a.example/u", "at": "2024-05-01T12:00:03.250Z",
                                "outcome": "rejected", "status": 302, "detail": answer.detail}


URLS = st.one_of(
    st.text(max_size=300),
    st.builds(lambda rest: "https://" + rest, st.text(max_size=200)),
    st.builds(lambda host, port, path: f"https://{host}:{port}/{path}",
              st.from_regex(r"[a-z0-9.\[\]:_-]{0,40}", fullmatch=True), st.integers(-5, 70000),
              st.text(max_size=50)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=URLS)
def test_any_text_gives_an_answer_and_never_raises(url, no_connect):
    answer = post_one_click(url, timeout=0.2, resolve=resolver("10.0.0.1"))
    assert isinstance(answer, Answer)
    assert answer.outcome in OUTCOMES and len(answer.detail) <= 300
    assert answer.outcome != "ok"
    assert all(ipaddress.ip_address(sockaddr[0]).is_global for sockaddr in no_connect)
