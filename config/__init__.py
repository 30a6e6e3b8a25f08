"""Settings, read from the environment when the app or a worker starts.

Nothing here runs at import time: `load()` is called by `create_app` and by the
worker start-up, and tests pass a mapping of overrides instead.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from config.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
# The headers the platform puts in every message it sends, read back from bounces, complaints
# and provider webhooks: the dealer account, and the list (the name senders check with). The
# names are settings (ACCOUNT_HEADER, LIST_HEADER); these are their defaults, defined once.
ACCOUNT_HEADER = "X-Account-ID"
LIST_HEADER = "X-List-ID"

DEFAULTS: dict[str, object] = {
    "DATABASE_URL": "",  # empty: SQLite under instance/
    "REDIS_URL": "",  # empty: jobs run inline, no Redis needed
    "SECRET_KEY": "",
    "MAX_JSON_BYTES": 4 * 1024 * 1024,
    "MAX_UPLOAD_BYTES": 10 * 1024**3,  # CSV uploads, spooled to disk
    "MAX_CHECK_ADDRESSES": 10_000,
    "MAX_SUPPRESSION_BATCH": 1_000,
    "MAX_PAGE_SIZE": 1_000,
    "IMPORT_CHUNK": 5_000,
    "IMPORT_MAX_REPORTED_INVALID": 1_000,
    "LOG_LEVEL": "INFO",
    # Recipient links. UNSUBSCRIBE_KEYS: Fernet keys, comma-separated, newest first; older keys
    # only open tokens. Empty: a key kept in instance/unsubscribe.keys (one machine only).
    "UNSUBSCRIBE_KEYS": "",
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "UNSUBSCRIBE_MAILTO_DOMAIN": "",  # empty: the host of PUBLIC_BASE_URL
    "MAX_LINK_RECIPIENTS": 10_000,
    # Rate limits per client address (Flask-Limiter syntax): page views of /u/ (POSTs are never
    # refused, so a mailbox provider's one-click traffic always lands), and failures (bad tokens,
    # bad API keys), which alone are counted, so good requests never wait on the limiter.
    "UNSUBSCRIBE_RATE_LIMIT": "30/second",
    "BAD_TOKEN_LIMIT": "20/minute",
    "AUTH_FAILURE_LIMIT": "20/minute",
    # How long a process trusts a key it has checked: revoking a key or suspending an account
    # takes effect at once on the process that did it, and on every process within this time.
    # 0: every API call reads its key from the database.
    "AUTH_CACHE_SECONDS": 5,
    "TRUSTED_PROXIES": 0,  # how many reverse proxies set X-Forwarded-For in front of the app
    # Inbound mail: which account a bounce or complaint belongs to (VERP first, then this header
    # in the returned original, then its DKIM d= or From domain).
    "ACCOUNT_HEADER": ACCOUNT_HEADER,
    # The list a message was sent for, in the same places as the account header (a SendGrid custom
    # arg, Mailgun user variable, Postmark metadata, or this header in the returned original):
    # a provider's opt-out from a message of that list is scoped to the list.
    "LIST_HEADER": LIST_HEADER,
    "VERP_PATTERN": r"\+a(?P<account>\d+)[-=@.]",
    "MAX_INBOUND_BYTES": 10 * 1024 * 1024,  # one raw message
    # Provider webhooks; each endpoint is off until its verification is set.
    "SES_TOPIC_ARNS": "",  # comma-separated SNS topic ARNs to accept
    "SENDGRID_VERIFICATION_KEY": "",  # the event webhook's public key (base64 DER)
    "MAILGUN_SIGNING_KEY": "",
    "MAILGUN_MAX_AGE": 300,  # seconds a signed timestamp stays acceptable
    "POSTMARK_WEBHOOK_TOKEN": "",  # sent as ?token= or HTTP Basic auth
    # The suppression index is hot in memory or on SSD; with PostgreSQL's default of 4 the
    # planner reads 1,000,000 rows sequentially rather than look up 10,000 keys (300 ms vs 85 ms).
    "PG_RANDOM_PAGE_COST": "1.1",
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int)}


def database_url(raw: str, instance_path: str) -> str:
    """The SQLAlchemy URL: psycopg 3 for PostgreSQL, SQLite under instance/ by default."""
    if not raw:
        return "sqlite:///" + os.path.join(instance_path, "suppression.db")
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def engine_options(url: str, settings: Mapping[str, object]) -> dict:
    """SQLAlchemy engine options for `url`."""
    # No pool_pre_ping: it costs a round trip per request. A connection the server dropped
    # fails one request with a 503 (api/errors.py) and SQLAlchemy then refreshes the pool.
    options: dict[str, object] = {"pool_recycle": 1800}
    if url.startswith("postgresql"):
        options["connect_args"] = {"options": f"-c random_page_cost={float(settings['PG_RANDOM_PAGE_COST'])}"}
    return options


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None) -> dict:
    """Settings from `environ` (default: os.environ), then `overrides` on top."""
    environ = os.environ if environ is None else environ
    settings: dict[str, object] = {}
    for key, default in DEFAULTS.items():
        value = environ.get(key, default)
        settings[key] = int(value) if key in _INT_KEYS else value
    settings.update(overrides or {})
    settings["POLICY"] = Policy.from_env(environ)
    return settings
