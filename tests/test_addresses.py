"""Address normalization: one spelling per mailbox, and the fast path agrees with email-validator."""
from __future__ import annotations

import string

from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from suppression.addresses import _fast_path, normalize

LOCAL_CHARS = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-."
DOMAIN_CHARS = string.ascii_letters + string.digits + "-."
ascii_addresses = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(LOCAL_CHARS, min_size=0, max_size=70),
    st.text(DOMAIN_CHARS, min_size=0, max_size=70),
    st.sampled_from(["com", "de", "co", "x", "a1", "local", "test", "example", "1", "COM", "xn--p1ai", "io-"]),
)
anything = st.one_of(ascii_addresses, st.text(max_size=80), st.emails().map(str))


def reference(value: str) -> str | None:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=2000)
@given(ascii_addresses)
@example("Jane.Doe@Example.COM")
@example("a@b--c.com")
@example("a@" + "b" * 64 + ".com")
@example("a" * 65 + "@example.com")
def test_fast_path_accepts_only_what_email_validator_accepts_and_agrees(value):
    fast = _fast_path(value.lower())
    if fast is not None:
        assert fast == reference(value)


@settings(max_examples=1000)
@given(anything)
def test_normalizing_twice_changes_nothing(value):
    once = normalize(value)
    assert once is None or normalize(once) == once


@settings(max_examples=300)
@given(st.emails().map(str), st.randoms())
def test_case_variants_of_an_address_are_one_address(address, rnd):
    variant = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in address)
    assert normalize(variant) == normalize(address)


def test_idn_variants_are_one_address():
    unicode_form = normalize("Kunde@Bücher.de")
    assert unicode_form == "kunde@bücher.de"
    assert normalize("KUNDE@XN--BCHER-KVA.DE") == unicode_form
    assert normalize("kunde@xn--bcher-kva.de") == unicode_form


def test_invalid_input_is_none_never_an_exception():
    for value in ["", " ", "plain", "a@", "@b.com", "a@b@c.com", "a..b@x.com", "a@x.test",
                  "a@localhost", "x" * 5000, None, 42, ["a@b.com"], "a@b.com\x00"]:
        assert normalize(value) is None, value


def test_whitespace_around_an_address_is_ignored():
    assert normalize("  Jane@Example.com\t") == "jane@example.com"
