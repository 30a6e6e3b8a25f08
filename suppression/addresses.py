"""Address normalization: one spelling per mailbox, so a suppression matches every variant.

email-validator decides syntax (never DNS on this path). The whole address is
lower-cased and IDN domains are kept in their Unicode form, so `A@XN--BCHER-KVA.DE`
and `a@bücher.de` are one address. Plain ASCII addresses take a regex fast path;
tests/test_addresses.py proves it agrees with email-validator on all it accepts.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

MAX_LENGTH = 254

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Conservative on purpose: anything unusual (one-letter or numeric TLDs, punycode,
# quoted local parts) falls through to email-validator.
_SPECIAL = "|".join(map(re.escape, SPECIAL_USE_DOMAIN_NAMES))
_FAST = re.compile(
    rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*"  # local part of at most 64 characters
    rf"@(?=[^@]{{1,253}}$)(?!.*--)"  # domain of at most 253, no '--' (IDNA-reserved)
    rf"(?:{_LABEL}\.)+(?!(?:{_SPECIAL})$)[a-z]{{2,63}}"  # letters-only TLD, not special-use
)


def normalize(raw: object) -> str | None:
    """The normalized address, or None when `raw` is not a valid address."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if value.isascii():
        fast = _fast_path(value.lower())
        if fast is not None:
            return fast
    return _slow_path(value)


def _fast_path(value: str) -> str | None:
    return value if len(value) <= MAX_LENGTH and _FAST.fullmatch(value) else None


@lru_cache(maxsize=65536)
def _slow_path(value: str) -> str | None:
    if not value or len(value) > 4 * MAX_LENGTH:
        return None
    try:
        result = validate_email(value, check_deliverability=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    return unicodedata.normalize("NFC", result.normalized.lower())
