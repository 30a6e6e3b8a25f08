"""Unsubscribe tokens: who may be unsubscribed from whom, sealed with authenticated encryption.

A token is a Fernet token (AES-128-CBC + HMAC-SHA256) over "1|account|list|address", so the
address is not readable from the URL and any change to the token is detected. Fernet's own
timestamp is the issue time. Keys rotate through MultiFernet: the first key seals, every key
opens, and a token sealed with a key that has been removed no longer opens.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

import config

VERSION = "1"
MAX_TOKEN_LENGTH = 1024  # an address is at most 320 bytes; a longer token is not ours


class BadToken(Exception):
    """The token is not one this service sealed with a key it still holds."""


@dataclass(frozen=True)
class Claims:
    account_id: int
    address: str
    list_name: str | None
    issued_at: datetime


class Sealer:
    """Seals and opens tokens with a list of keys, newest first."""

    def __init__(self, keys: list[str]):
        self._fernet = multi_fernet(keys, "UNSUBSCRIBE_KEYS")

    def seal(self, account_id: int, address: str, list_name: str | None = None) -> str:
        """A URL-safe token for a normalized address of `account_id` (and `list_name`)."""
        payload = f"{VERSION}|{account_id}|{list_name or ''}|{address}".encode()
        # Fernet pads its base64 with '='; URLs and mail headers do better without it.
        return self._fernet.encrypt(payload).decode("ascii").rstrip("=")

    def open(self, token: str) -> Claims:
        """The claims of `token`, or BadToken. Tokens do not expire: an old link still unsubscribes
        for as long as its key is kept (keep each key at least a year after it stops sealing)."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise BadToken()
        raw = (token + "=" * (-len(token) % 4)).encode("ascii")
        try:
            payload = self._fernet.decrypt(raw).decode()
            issued = self._fernet.extract_timestamp(raw)
        except (InvalidToken, UnicodeDecodeError):
            raise BadToken() from None
        version, account, list_name, address = payload.split("|", 3)
        if version != VERSION:
            raise BadToken()
        return Claims(int(account), address, list_name or None, datetime.fromtimestamp(issued, UTC))


def multi_fernet(keys: list[str], setting: str) -> MultiFernet:
    """The keys of `setting`, newest first, as one MultiFernet; ValueError names a bad one."""
    if not keys:
        raise ValueError(f"{setting} holds no key")
    fernets = []
    for number, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ValueError(f"{setting}: key {number} is not a Fernet key "
                             "(make one with `.venv/bin/flask --app wsgi unsubscribe new-key`)") from None
    return MultiFernet(fernets)


def init_app(app: Flask) -> None:
    """Build the app's sealer from UNSUBSCRIBE_KEYS; a bad key stops start-up with its number."""
    app.extensions["unsubscribe_sealer"] = Sealer(keys_from(str(app.config["UNSUBSCRIBE_KEYS"]), app.instance_path))


def sealer() -> Sealer:
    """The current app's sealer."""
    return current_app.extensions["unsubscribe_sealer"]


def token_id(token: str) -> str:
    """A short fingerprint of one token: what it added is what its undo may remove."""
    return hashlib.sha256(token.rstrip("=").encode("ascii", "replace")).hexdigest()[:16]


def new_key() -> str:
    """A fresh Fernet key."""
    return Fernet.generate_key().decode("ascii")


def keys_from(setting: str, instance_path: str, file_name: str = "unsubscribe.keys") -> list[str]:
    """The configured keys; with none configured, one kept in instance/`file_name` (made on first use)."""
    keys = [k.strip() for k in setting.split(",") if k.strip()]
    if keys:
        return keys
    path = os.path.join(instance_path, file_name)
    if not os.path.exists(path):
        config.keep_once(path, new_key() + "\n")
    with open(path) as stored:
        return [k.strip() for k in stored.read().replace(",", "\n").split() if k.strip()]
