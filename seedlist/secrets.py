"""Seed mailbox credentials, sealed at rest: an IMAP URL holds a password.

Sealed with Fernet (AES-128-CBC + HMAC-SHA256) under SEED_KEYS through MultiFernet: the first
key seals, every key opens, and `flask --app wsgi seeds rotate-keys` seals every stored mailbox
again with the first key, after which an old key can be dropped. Only the scheme, host and port
(`mailbox_host`) are ever shown; the URL itself is opened only by the code that logs in.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from cryptography.fernet import InvalidToken, MultiFernet
from flask import Flask, current_app

from suppression.errors import Invalid
from suppression.tokens import keys_from, multi_fernet

SCHEMES = {"imaps": 993, "imap": 143}
MAX_URL = 2000


class SealedUnreadable(Exception):
    """A sealed mailbox no configured key opens (its key was dropped too early)."""


def init_app(app: Flask) -> None:
    """Build the app's sealer from SEED_KEYS; a bad key stops start-up with its number."""
    keys = keys_from(str(app.config["SEED_KEYS"]), app.instance_path, "seed.keys")
    app.extensions["seed_sealer"] = multi_fernet(keys, "SEED_KEYS")


def _sealer() -> MultiFernet:
    return current_app.extensions["seed_sealer"]


def checked(url: str) -> str:
    """`url` if it says how to read a mailbox (imaps://user:password@host[:port][/folder]); Invalid
    otherwise, with a message that never repeats the URL (it holds a password)."""
    if len(url) > MAX_URL:
        raise Invalid(f"mailbox: at most {MAX_URL} characters", code="invalid_mailbox", field="mailbox")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Invalid("mailbox: not a URL", code="invalid_mailbox", field="mailbox") from None
    if parts.scheme not in SCHEMES or not parts.hostname or not parts.username:
        raise Invalid("mailbox: an imaps:// (or imap://) URL with a user name and host, "
                      "as imaps://user:password@imap.example.com", code="invalid_mailbox", field="mailbox")
    if port is not None and not 0 < port < 65536:
        raise Invalid("mailbox: bad port", code="invalid_mailbox", field="mailbox")
    return url.strip()


def host_of(url: str) -> str:
    """What staff may see of a mailbox: its scheme, host and port."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or SCHEMES[parts.scheme]}"


def seal(url: str) -> bytes:
    return _sealer().encrypt(url.encode())


def unseal(sealed: bytes) -> str:
    try:
        return _sealer().decrypt(sealed).decode()
    except InvalidToken:
        raise SealedUnreadable("no key in SEED_KEYS opens this mailbox") from None


def reseal(sealed: bytes) -> bytes:
    """The same mailbox sealed with the first key (MultiFernet.rotate)."""
    try:
        return _sealer().rotate(sealed)
    except InvalidToken:
        raise SealedUnreadable("no key in SEED_KEYS opens this mailbox") from None
