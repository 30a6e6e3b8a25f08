"""Seed audit, sender authentication: cached DNS reads (seedlist.dns) and DKIM, DMARC, SPF and
Authentication-Results (seedlist.authentication), against a DNS server on 127.0.0.1."""
from __future__ import annotations

import base64
import email
import threading

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from seedlist import authentication as auth
from seedlist.dns import DnsUnavailable, Resolver
from tests.dnsserver import DnsServer

SHORT = 0.3  # seconds: the timeout of lookups that are meant to time out


@pytest.fixture
def dns_server():
    server = DnsServer().start()
    yield server
    server.stop()


class Clock:
    """A clock the tests move by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def resolver(dns_server, clock):
    return Resolver([dns_server.address], timeout=2.0, clock=clock)


@pytest.fixture(scope="module")
def keys():
    """An RSA 2048 key: (PKCS#1 PEM private key for dkimpy, its DKIM key record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


MESSAGE = (b"From: Dealer News <news@mail.dealer.example>\r\n"
           b"To: seed1@monitor.example\r\n"
           b"Subject: This week's offers\r\n"
           b"Date: Mon, 01 Dec 2025 10:00:00 +0000\r\n"
           b"Message-ID: <1@mail.dealer.example>\r\n"
           b"List-Unsubscribe: <https://u.example/u/abc>, <mailto:u@u.example>\r\n"
           b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
           b"\r\n"
           b"Hello,\r\nour offers.\r\n")
BASE_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]
ONE_CLICK = [b"list-unsubscribe", b"list-unsubscribe-post"]


def signed(message: bytes, pem: bytes, domain: str = "dealer.example", selector: str = "s1",
           headers: list[bytes] = BASE_HEADERS + ONE_CLICK) -> bytes:
    """`message` with a DKIM-Signature prepended."""
    signature = dkim.sign(message, selector.encode(), domain.encode(), pem, include_headers=headers)
    return signature + message


def publish(server: DnsServer, record: str, domain: str = "dealer.example", selector: str = "s1") -> None:
    server.records[f"{selector}._domainkey.{domain}"] = [record]


# --- seedlist.dns ---

def test_txt_reads_records_joins_long_ones_and_tells_nxdomain_and_no_record_as_empty(dns_server, resolver):
    long = "v=DKIM1; p=" + "A" * 700  # sent as three character-strings
    dns_server.records.update({"Multi.Example": ["one", long], "empty.example": []})
    assert sorted(resolver.txt("multi.example.")) == sorted(["one", long])
    assert resolver.txt("empty.example") == []
    assert resolver.txt("absent.example") == []


def test_an_answer_is_cached_for_its_ttl(dns_server, resolver, clock):
    dns_server.ttl = 120
    dns_server.records["a.example"] = ["first"]
    assert resolver.txt("a.example") == ["first"]
    dns_server.records["a.example"] = ["second"]
    clock.now += 119
    assert resolver.txt("A.EXAMPLE.") == ["first"]
    assert dns_server.queries["a.example"] == 1
    clock.now += 2
    assert resolver.txt("a.example") == ["second"]
    assert dns_server.queries["a.example"] == 2


def test_the_ttl_is_clamped_to_min_and_max(dns_server, clock):
    resolver = Resolver([dns_server.address], clock=clock, min_ttl=60, max_ttl=3600)
    dns_server.records.update({"short.example": ["s"], "long.example": ["l"]})
    dns_server.ttl = 5
    resolver.txt("short.example")
    dns_server.ttl = 86400
    resolver.txt("long.example")
    clock.now += 59
    resolver.txt("short.example")
    assert dns_server.queries["short.example"] == 1
    clock.now += 2
    resolver.txt("short.example")
    assert dns_server.queries["short.example"] == 2
    clock.now += 3600
    resolver.txt("long.example")
    assert dns_server.queries["long.example"] == 2


def test_no_record_is_cached_for_negative_ttl(dns_server, clock):
    resolver = Resolver([dns_server.address], clock=clock, negative_ttl=300)
    assert resolver.txt("late.example") == []
    dns_server.records["late.example"] = ["now here"]
    clock.now += 299
    assert resolver.txt("late.example") == []
    assert dns_server.queries["late.example"] == 1
    clock.now += 2
    assert resolver.txt("late.example") == ["now here"]


def test_a_silent_or_failing_server_is_unavailable_and_that_is_not_cached(dns_server, clock):
    resolver = Resolver([dns_server.address], timeout=SHORT, clock=clock)
    dns_server.records.update({"slow.example": ["s"], "broken.example": ["b"]})
    dns_server.silent.add("slow.example")
    dns_server.servfail.add("broken.example")
    for name in ("slow.example", "broken.example"):
        with pytest.raises(DnsUnavailable):
            resolver.txt(name)
    dns_server.silent.clear()
    dns_server.servfail.clear()
    assert resolver.txt("slow.example") == ["s"]
    assert resolver.txt("broken.example") == ["b"]


def test_no_nameserver_listening_is_unavailable(dns_server):
    address = dns_server.address
    dns_server.stop()
    with pytest.raises(DnsUnavailable):
        Resolver([address], timeout=SHORT).txt("any.example")


def test_the_cache_is_bounded_dropping_the_oldest(dns_server, clock):
    resolver = Resolver([dns_server.address], clock=clock, max_entries=2)
    dns_server.records.update({n: [n] for n in ("a.example", "b.example", "c.example")})
    for name in ("a.example", "b.example", "c.example", "b.example", "c.example"):
        resolver.txt(name)
    assert dns_server.queries == {"a.example": 1, "b.example": 1, "c.example": 1}
    resolver.txt("a.example")
    assert dns_server.queries["a.example"] == 2


def test_threads_share_one_resolver(dns_server, clock):
    resolver = Resolver([dns_server.address], clock=clock, max_entries=5)
    names = [f"n{i}.example" for i in range(20)]
    dns_server.records.update({name: [name] for name in names})
    wrong: list[tuple[str, list[str]]] = []

    def read():
        for name in names * 3:
            answer = resolver.txt(name)
            if answer != [name]:
                wrong.append((name, answer))

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert len(resolver._cache) <= 5


def test_dkim_dnsfunc_gives_dkimpy_bytes_or_none_and_raises_when_unknown(dns_server, clock):
    dns_server.records["s1._domainkey.dealer.example"] = ["not a key", "v=DKIM1; p=QUJD"]
    dns_server.silent.add("s2._domainkey.dealer.example")
    dnsfunc = Resolver([dns_server.address], timeout=SHORT, clock=clock).dkim_dnsfunc()
    assert dnsfunc(b"s1._domainkey.dealer.example.", timeout=5) == b"v=DKIM1; p=QUJD"
    assert dnsfunc(b"s9._domainkey.dealer.example.") is None
    with pytest.raises(DnsUnavailable):
        dnsfunc(b"s2._domainkey.dealer.example.")


# --- DKIM ---

def test_a_signature_over_the_one_click_headers_verifies_and_covers_them(dns_server, resolver, keys):
    pem, record = keys
    publish(dns_server, record)
    [signature] = auth.signatures(signed(MESSAGE, pem), resolver)
    assert signature == auth.Signature(domain="dealer.example", selector="s1",
                                       signed_headers=tuple(h.decode() for h in BASE_HEADERS + ONE_CLICK),
                                       verified=True, error=None)
    assert auth.covers(signature, ["List-Unsubscribe", "List-Unsubscribe-Post"])


def test_a_signature_without_the_one_click_headers_verifies_but_does_not_cover_them(dns_server, resolver, keys):
    pem, record = keys
    publish(dns_server, record)
    [signature] = auth.signatures(signed(MESSAGE, pem, headers=BASE_HEADERS), resolver)
    assert signature.verified is True
    assert auth.covers(signature, ["from", "Subject"])
    assert not auth.covers(signature, ["List-Unsubscribe", "List-Unsubscribe-Post"])
    assert not auth.covers(signature, ["List-Unsubscribe-Post"])


def test_each_signature_is_verified_on_its_own(dns_server, resolver, keys):
    pem, record = keys
    publish(dns_server, record)
    publish(dns_server, record, domain="esp.example", selector="k1")
    raw = signed(signed(MESSAGE, pem), pem, domain="esp.example", selector="k1", headers=BASE_HEADERS)
    raw = raw.replace(b"Subject: This week's offers", b"Subject: Changed")  # breaks both
    raw = signed(raw, pem, domain="nokey.example", selector="k1")  # no key published
    found = auth.signatures(raw, resolver)
    assert [(s.domain, s.selector, s.verified) for s in found] == [
        ("nokey.example", "k1", False), ("esp.example", "k1", False), ("dealer.example", "s1", False)]
    assert "missing public key" in found[0].error
    assert found[1].error == "signature does not match"


def test_a_tampered_body_fails(dns_server, resolver, keys):
    pem, record = keys
    publish(dns_server, record)
    raw = signed(MESSAGE, pem).replace(b"our offers", b"our prices")
    [signature] = auth.signatures(raw, resolver)
    assert signature.verified is False
    assert "body hash mismatch" in signature.error


def test_a_missing_or_broken_key_record_fails(dns_server, resolver, keys):
    pem, _ = keys
    [missing] = auth.signatures(signed(MESSAGE, pem), resolver)
    assert missing.verified is False and "missing public key" in missing.error
    publish(dns_server, "v=DKIM1; k=rsa; p=bm90IGEga2V5", domain="broken.example")
    [broken] = auth.signatures(signed(MESSAGE, pem, domain="broken.example"), resolver)
    assert broken.verified is False and broken.error


def test_an_unavailable_key_is_unknown_not_a_failure(dns_server, keys, clock):
    pem, record = keys
    publish(dns_server, record)
    dns_server.silent.add("s1._domainkey.dealer.example")
    dns_server.servfail.add("s1._domainkey.servfail.example")
    resolver = Resolver([dns_server.address], timeout=SHORT, clock=clock)
    [silent] = auth.signatures(signed(MESSAGE, pem), resolver)
    [failing] = auth.signatures(signed(MESSAGE, pem, domain="servfail.example"), resolver)
    assert (silent.verified, failing.verified) == (None, None)
    assert "s1._domainkey.dealer.example" in silent.error
    dns_server.silent.clear()
    [later] = auth.signatures(signed(MESSAGE, pem), resolver)
    assert later.verified is True


def test_the_key_is_read_once_through_the_cache(dns_server, resolver, keys):
    pem, record = keys
    publish(dns_server, record)
    raw = signed(MESSAGE, pem)
    assert [s.verified for s in auth.signatures(raw, resolver) + auth.signatures(raw, resolver)] == [True, True]
    assert dns_server.queries["s1._domainkey.dealer.example"] == 1


@pytest.mark.parametrize("garbage", [
    b"garbage",
    b"v=1; a=rsa-sha256; d=dealer.example; s=s1",  # no b=, bh=, h=
    b"v=1; a=rsa-md5; d=dealer.example; s=s1; h=from; bh=AAAA; b=AAAA",
    b"v=1; a=rsa-sha256; c=relaxed/relaxed; d=dealer.example; s=s1; h=from:subject; bh=!!!; b=###",
    b"v=1; a=rsa-sha256; d=dealer.example; s=s1; h=subject; bh=AAAA; b=AAAA",  # From not signed
    b"=;=;;;==",
])
def test_a_broken_signature_header_fails_with_an_error(dns_server, resolver, keys, garbage):
    pem, record = keys
    publish(dns_server, record)
    raw = b"DKIM-Signature: " + garbage + b"\r\n" + signed(MESSAGE, pem)
    broken, good = auth.signatures(raw, resolver)
    assert broken.verified is False and broken.error
    assert good.verified is True


def test_an_unreadable_message_fails_every_signature_without_raising(dns_server, resolver, keys):
    pem, record = keys
    publish(dns_server, record)
    raw = b" folded before any header\r\n" + signed(MESSAGE, pem)
    [signature] = auth.signatures(raw, resolver)
    assert (signature.domain, signature.verified) == ("dealer.example", False)
    assert "not readable" in signature.error


def test_an_unsigned_message_has_no_signatures(resolver):
    assert auth.signatures(MESSAGE, resolver) == []


# --- alignment, DMARC, SPF ---

@pytest.mark.parametrize("domain, organizational", [
    ("mail.dealer.example", "dealer.example"), ("dealer.example", "dealer.example"),
    ("a.b.dealer.co.uk", "dealer.co.uk"), ("dealer.co.uk", "dealer.co.uk"), ("co.uk", "co.uk"),
    ("News.Dealer.Com.Au.", "dealer.com.au"), ("x.shop.co.jp", "shop.co.jp"), ("localhost", "localhost"),
])
def test_organizational_domain(domain, organizational):
    assert auth.organizational_domain(domain) == organizational


@pytest.mark.parametrize("dkim_domain, from_domain, relaxed, strict", [
    ("mail.dealer.example", "dealer.example", True, False),
    ("dealer.example", "mail.dealer.example", True, False),
    ("Dealer.Example.", "dealer.example", True, True),
    ("dealer.co.uk", "other.co.uk", False, False),
    ("mail.dealer.co.uk", "dealer.co.uk", True, False),
    ("esp.example", "dealer.example", False, False),
    ("", "dealer.example", False, False),
])
def test_alignment(dkim_domain, from_domain, relaxed, strict):
    assert auth.aligned(dkim_domain, from_domain) is relaxed
    assert auth.aligned(dkim_domain, from_domain, strict=True) is strict


def test_dmarc_at_the_from_domain(dns_server, resolver):
    record = "v=DMARC1; p=Reject; adkim=s; rua=mailto:r@x"
    dns_server.records["_dmarc.dealer.example"] = ["some other text", record]
    assert auth.dmarc("Dealer.Example", resolver) == auth.Dmarc(
        domain="dealer.example", policy="reject", adkim="s", aspf="r", raw=record)


def test_dmarc_of_a_subdomain_is_found_at_the_organizational_domain(dns_server, resolver):
    dns_server.records["_dmarc.dealer.example"] = ["v=DMARC1;p=quarantine;aspf=s"]
    dns_server.records["_dmarc.shop.co.uk"] = ["v=DMARC1; p=reject; sp=none"]
    found = auth.dmarc("mail.news.dealer.example", resolver)
    assert (found.domain, found.policy, found.adkim, found.aspf) == ("dealer.example", "quarantine", "r", "s")
    assert dns_server.queries["_dmarc.mail.news.dealer.example"] == 1
    assert auth.dmarc("mail.shop.co.uk", resolver).policy == "none"  # sp= is the subdomains' policy
    assert auth.dmarc("shop.co.uk", resolver).policy == "reject"


@pytest.mark.parametrize("records", [
    [], ["v=spf1 -all"], ["v=DMARC1; rua=mailto:r@x"], ["v=DMARC1; p=maybe"], ["v=dmarc1; p=reject"],
    ["x v=DMARC1; p=reject"],
])
def test_no_valid_dmarc_record_is_none(dns_server, resolver, records):
    dns_server.records["_dmarc.dealer.example"] = records
    assert auth.dmarc("dealer.example", resolver) is None
    assert auth.dmarc("", resolver) is None


def test_an_invalid_dmarc_record_at_the_from_domain_is_not_replaced_by_the_organizational_one(dns_server, resolver):
    dns_server.records["_dmarc.mail.dealer.example"] = ["v=DMARC1; adkim=s"]
    dns_server.records["_dmarc.dealer.example"] = ["v=DMARC1; p=reject"]
    assert auth.dmarc("mail.dealer.example", resolver) is None


def test_dmarc_unknown_raises(dns_server, clock):
    dns_server.records["_dmarc.dealer.example"] = ["v=DMARC1; p=reject"]
    dns_server.silent.add("_dmarc.dealer.example")
    resolver = Resolver([dns_server.address], timeout=SHORT, clock=clock)
    with pytest.raises(DnsUnavailable):
        auth.dmarc("mail.dealer.example", resolver)


def test_spf(dns_server, resolver, clock):
    dns_server.records["dealer.example"] = ["google-site-verification=x", "v=spf1 include:esp.example -all"]
    dns_server.records["other.example"] = ["v=spf10 +all", "spf1"]
    dns_server.records["bare.example"] = ["V=SPF1"]
    assert auth.spf("dealer.example.", resolver) == "v=spf1 include:esp.example -all"
    assert auth.spf("other.example", resolver) is None
    assert auth.spf("absent.example", resolver) is None
    assert auth.spf("bare.example", resolver) == "V=SPF1"
    dns_server.servfail.add("down.example")
    with pytest.raises(DnsUnavailable):
        auth.spf("down.example", resolver)


# --- Authentication-Results ---

@pytest.mark.parametrize("values, expected", [
    (["mx.monitor.example; spf=pass smtp.mailfrom=news@dealer.example; dkim=fail header.d=dealer.example;"
      " dmarc=pass header.from=dealer.example"], {"spf": "pass", "dkim": "fail", "dmarc": "pass"}),
    (["mx.monitor.example (a comment; dkim=fail); dkim=pass (good (nested) signature) header.d=x;"
      " spf=none (no record)"], {"dkim": "pass", "spf": "none"}),
    (["mx.monitor.example;\r\n\tdkim=pass\r\n header.i=@dealer.example;\r\n spf=softfail"],
     {"dkim": "pass", "spf": "softfail"}),
    (["mx.monitor.example 1; DKIM/1 = Pass header.b=\"ab;cd\"; dmarc=temperror"],
     {"dkim": "pass", "dmarc": "temperror"}),
    (["mx.monitor.example; none"], {}),
    (["mx.monitor.example; dkim (escaped \\= in a comment)=pass"], {"dkim": "pass"}),
    (["mx.monitor.example; dkim-adsp=pass; arc=pass; dkim=neutral; dkim=pass"], {"dkim": "neutral"}),
    (["mx.monitor.example; spf=fail", "mx.monitor.example; spf=pass; dkim=pass; dmarc=fail"],
     {"spf": "fail", "dkim": "pass", "dmarc": "fail"}),
    (["", ";;;", "(unclosed; dkim=pass", "\"quoted; dkim=pass"], {}),
])
def test_authentication_results(values, expected):
    assert auth.authentication_results(values) == expected


def test_authentication_results_of_chosen_services_only():
    values = ["forged.example; dkim=pass; spf=pass", "MX.Monitor.Example; dkim=fail", "mx2.monitor.example; spf=fail"]
    assert auth.authentication_results(values, authserv_ids={"mx.monitor.example", "mx2.monitor.example"}) == {
        "dkim": "fail", "spf": "fail"}
    assert auth.authentication_results(values) == {"dkim": "pass", "spf": "pass"}


def test_authentication_results_of_a_message():
    message = email.message_from_bytes(
        b"Authentication-Results: mx.monitor.example;\r\n dkim=pass header.d=dealer.example;\r\n"
        b" dmarc=pass (p=reject) header.from=dealer.example\r\n"
        b"Authentication-Results: relay.example; spf=fail\r\n" + MESSAGE)
    assert auth.authentication_results(message) == {"dkim": "pass", "dmarc": "pass", "spf": "fail"}
    assert auth.authentication_results(email.message_from_bytes(MESSAGE)) == {}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("dkimspfarc=;() \"\\\r\n\t.x/1pasfil") | st.characters(),
                        max_size=80), max_size=4),
       st.none() | st.sets(st.text(max_size=10), max_size=3))
def test_authentication_results_never_raises(values, authserv_ids):
    results = auth.authentication_results(values, authserv_ids=authserv_ids)
    assert set(results) <= {"spf", "dkim", "dmarc"}
    assert all(isinstance(v, str) and v for v in results.values())
