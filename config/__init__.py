"""Settings, read from the environment when the app or a worker starts, and checked then.

Nothing here runs at import time: `load()` is called by `create_app`, and tests pass a mapping
of overrides instead. A value that cannot be used raises SettingsError naming the setting, so a
typo stops the service at start-up rather than at the first request that needs it.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from limits import parse as parse_limit

from config.errors import SettingsError
from config.policy import Policy

__all__ = ["ACCOUNT_HEADER", "LIST_HEADER", "DEFAULTS", "SettingsError", "database_url", "engine_options", "load",
           "secret_key"]

ROOT = Path(__file__).resolve().parent.parent
# The headers the platform puts in every message it sends, read back from bounces, complaints
# and provider webhooks: the dealer account, and the list (the name senders check with). The
# names are settings (ACCOUNT_HEADER, LIST_HEADER); these are their defaults, defined once.
ACCOUNT_HEADER = "X-Account-ID"
LIST_HEADER = "X-List-ID"
# gunicorn's address when BIND is unset (config/gunicorn.py), and the port gunicorn takes for a
# BIND naming a host alone.
DEFAULT_BIND = "127.0.0.1:5000"
GUNICORN_PORT = "8000"

DEFAULTS: dict[str, object] = {
    "DATABASE_URL": "",  # empty: SQLite under instance/
    "REDIS_URL": "",  # empty: jobs run inline, no Redis needed
    # Signs the staff console's sessions and CSRF tokens. Unset: on SQLite (one machine) one is made
    # and kept in instance/secret.key; on PostgreSQL (many processes, many hosts) it is required.
    "SECRET_KEY": "",
    "MAX_JSON_BYTES": 4 * 1024 * 1024,
    "MAX_UPLOAD_BYTES": 10 * 1024**3,  # CSV uploads, spooled to disk
    "IMPORT_CHUNK": 5_000,
    "IMPORT_MAX_REPORTED_INVALID": 1_000,  # invalid lines an import report lists
    "LOG_LEVEL": "INFO",
    # Recipient links. UNSUBSCRIBE_KEYS: Fernet keys, comma-separated, newest first; older keys
    # only open tokens. Empty: a key kept in instance/unsubscribe.keys (one machine only).
    "UNSUBSCRIBE_KEYS": "",
    # Empty: http:// and the address gunicorn binds (BIND), so that `make run` on any port hands
    # out links that reach it.
    "PUBLIC_BASE_URL": "",
    # Empty: the host of PUBLIC_BASE_URL, when that is a mail domain; an IP address or localhost
    # is not, and links then have no mailto.
    "UNSUBSCRIBE_MAILTO_DOMAIN": "",
    # Rate limits per client address (Flask-Limiter syntax): page views of /u/ (POSTs are never
    # refused, so a mailbox provider's one-click traffic always lands), and failures (bad tokens,
    # bad API keys), which alone are counted, so good requests never wait on the limiter.
    "UNSUBSCRIBE_RATE_LIMIT": "30/second",
    "BAD_TOKEN_LIMIT": "20/minute",
    "AUTH_FAILURE_LIMIT": "20/minute",
    # Failed console logins (wrong address, password or code) per client address; when spent,
    # even a right password waits.
    "LOGIN_FAILURE_LIMIT": "10/15minutes",
    "ADMIN_SESSION_HOURS": 12,  # a console session ends this long after its last request
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
    # The LMTP listener (`make lmtp`) the MTA delivers inbound mail to, and the client addresses it
    # takes mail from (comma-separated; empty: any).
    "LMTP_BIND": "127.0.0.1:8024",
    "LMTP_ALLOW": "",
    # An event pending this long is taken as stranded (stored while Redis was down, or its worker
    # died): the sweep, every minute, queues it again, and /metrics counts it.
    "SWEEP_AFTER_SECONDS": 60,
    # Provider webhooks; each endpoint is off until its verification is set.
    "SES_TOPIC_ARNS": "",  # comma-separated SNS topic ARNs to accept
    "SENDGRID_VERIFICATION_KEY": "",  # the event webhook's public key (base64 DER)
    "MAILGUN_SIGNING_KEY": "",
    "MAILGUN_MAX_AGE": 300,  # seconds a signed timestamp stays acceptable
    "POSTMARK_WEBHOOK_TOKEN": "",  # sent as ?token= or HTTP Basic auth
    # AUP alerts: an HMAC-signed JSON POST on each alert opened or escalated and each suspension
    # (empty: none); the secret signs it, and the receiver checks it.
    "ALERT_WEBHOOK_URL": "",
    "ALERT_WEBHOOK_SECRET": "",
    # The suppression index is hot in memory or on SSD; with PostgreSQL's default of 4 the
    # planner reads 1,000,000 rows sequentially rather than look up 10,000 keys (300 ms vs 85 ms).
    "PG_RANDOM_PAGE_COST": "1.1",
    # GET /metrics (Prometheus). Empty: open to whoever reaches it (keep it on a private network);
    # set, scrapers send it as `Authorization: Bearer <token>`.
    "METRICS_TOKEN": "",
    # How long a process reuses the figures it read from the database and Redis for /metrics:
    # with a million suppressions on PostgreSQL a reading takes about half a second. 0: every scrape reads.
    "METRICS_CACHE_SECONDS": 15,
    # Seedlist monitoring. SEED_KEYS: Fernet keys sealing seed mailboxes' credentials (their IMAP
    # URLs), comma-separated, newest first; older keys only open. Empty: instance/seed.keys.
    "SEED_KEYS": "",
    "CAMPAIGN_HEADER": "X-Campaign-ID",  # the campaign a message belongs to, in every message sent
    "SEEDS_PER_CAMPAIGN": 10,  # monitor seeds handed to an account for each campaign
    "OPTOUT_SEEDS_PER_CAMPAIGN": 1,  # opt-out seeds among them (never one that opted out of that account)
    # DNS for the seed audit (DKIM keys, DMARC and SPF records): nameservers as ip or ip:port,
    # comma-separated (empty: the system's), and the time-out of one lookup. Answers are cached
    # for their TTL; a time-out is a `dns_unavailable` finding, retried, never a pass.
    "DNS_NAMESERVERS": "",
    "DNS_TIMEOUT_MS": 2000,
    "SEED_DNS_RETRIES": 5,  # audits of a message while DNS is unavailable, before its DNS checks stay unknown
    # Authentication-Results headers trusted (the receiving side's authserv-ids, comma-separated).
    # Empty: the topmost header of each method, as the last receiving server wrote it.
    "AUTHSERV_IDS": "",
    # An opt-out seed's one-click POST to a dealer's own https link: its time-out, and (tests only)
    # loopback destinations and a CA file for their certificate. Private addresses are always refused.
    "SEED_OPTOUT_TIMEOUT": 5,
    "SEED_OPTOUT_ALLOW_LOOPBACK": 0,
    "SEED_OPTOUT_CAFILE": "",
    # Seed mailboxes read over IMAP (seedlist/imap.py): a read's time-out, the most messages one poll
    # takes from a mailbox, and (tests only) plain IMAP to loopback and a CA file for its certificate.
    "SEED_IMAP_TIMEOUT": 10,
    "SEED_IMAP_MAX_MESSAGES": 1000,
    "SEED_IMAP_ALLOW_PLAIN_LOOPBACK": 0,
    "SEED_IMAP_CAFILE": "",
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int)}
_LIMIT_KEYS = ("UNSUBSCRIBE_RATE_LIMIT", "BAD_TOKEN_LIMIT", "AUTH_FAILURE_LIMIT", "LOGIN_FAILURE_LIMIT")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
MIN_SECRET_KEY = 32
MIN_METRICS_TOKEN = 16


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None) -> dict:
    """Settings from `environ` (default: os.environ), then `overrides` on top, checked."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    settings: dict[str, object] = {}
    for key, default in DEFAULTS.items():
        value = overrides.pop(key) if key in overrides else environ.get(key, default)
        settings[key] = _whole(key, value) if key in _INT_KEYS else str(value)
    policy = overrides.pop("POLICY", None)
    settings.update(overrides)
    if not settings["PUBLIC_BASE_URL"]:
        settings["PUBLIC_BASE_URL"] = base_url_of(str(overrides.get("BIND") or environ.get("BIND") or DEFAULT_BIND))
    settings["POLICY"] = policy if isinstance(policy, Policy) else Policy.from_settings(environ, overrides)
    _check(settings)
    return settings


def base_url_of(bind: str) -> str:
    """The URL that reaches gunicorn bound to `bind` (host:port, [ipv6]:port or host): the
    default of PUBLIC_BASE_URL. A wildcard address is reached on loopback; a socket has no URL."""
    bind = bind.strip()
    if bind.startswith("["):
        host, _, port = bind[1:].partition("]")
        port = port.removeprefix(":")
    elif bind.count(":") == 1:
        host, _, port = bind.partition(":")
    else:
        host, port = bind, ""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    port = port or GUNICORN_PORT
    if bind.startswith(("unix:", "fd:")) or not port.isdigit() or not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        raise SettingsError(f"PUBLIC_BASE_URL is required when BIND is not host:port ({bind!r}): "
                            "recipients' links must reach the service")
    return f"http://{f'[{host}]' if ':' in host else host}:{int(port)}"


def is_mail_domain(host: str) -> bool:
    """Can `host` follow the @ of an address senders and mailbox providers accept? Not an IP
    address (RFC 5321 writes those as [127.0.0.1], which providers refuse), not localhost."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return False
    except ValueError:
        pass
    try:
        validate_email(f"unsubscribe@{host}", check_deliverability=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return False
    return True


def _whole(key: str, value: object) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        number = -1
    if number < 0:
        raise SettingsError(f"{key} must be a whole number of at least 0, not {value!r}")
    return number


def _check(settings: Mapping[str, object]) -> None:
    try:
        pattern = re.compile(str(settings["VERP_PATTERN"]))
    except re.error as exc:
        raise SettingsError(f"VERP_PATTERN is not a regular expression: {exc}") from None
    if "account" not in pattern.groupindex:
        raise SettingsError("VERP_PATTERN needs a group named account, as in (?P<account>\\d+)")
    url = urlsplit(str(settings["PUBLIC_BASE_URL"]))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise SettingsError(f"PUBLIC_BASE_URL must be an http(s) URL, not {settings['PUBLIC_BASE_URL']!r}")
    domain = str(settings["UNSUBSCRIBE_MAILTO_DOMAIN"])
    if domain and not is_mail_domain(domain):
        raise SettingsError(f"UNSUBSCRIBE_MAILTO_DOMAIN must be a mail domain such as unsub.example.net, not "
                            f"{domain!r}")
    for key in _LIMIT_KEYS:
        try:
            parse_limit(str(settings[key]))
        except ValueError:
            raise SettingsError(f"{key} must be a rate such as 20/minute, not {settings[key]!r}") from None
    for key in ("ACCOUNT_HEADER", "LIST_HEADER", "CAMPAIGN_HEADER"):
        if not _HEADER_NAME.fullmatch(str(settings[key])):
            raise SettingsError(f"{key} must be a header name such as X-Account-ID, not {settings[key]!r}")
    if not isinstance(logging.getLevelName(str(settings["LOG_LEVEL"]).upper()), int):
        raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {settings['LOG_LEVEL']!r}")
    try:
        if float(str(settings["PG_RANDOM_PAGE_COST"])) <= 0:
            raise ValueError
    except ValueError:
        raise SettingsError(f"PG_RANDOM_PAGE_COST must be a positive number, not {settings['PG_RANDOM_PAGE_COST']!r}") \
            from None
    if settings["ALERT_WEBHOOK_URL"]:
        hook = urlsplit(str(settings["ALERT_WEBHOOK_URL"]))
        if hook.scheme not in ("http", "https") or not hook.hostname:
            raise SettingsError(f"ALERT_WEBHOOK_URL must be an http(s) URL, not {settings['ALERT_WEBHOOK_URL']!r}")
        if len(str(settings["ALERT_WEBHOOK_SECRET"])) < MIN_SECRET_KEY:
            raise SettingsError(f"ALERT_WEBHOOK_SECRET must be at least {MIN_SECRET_KEY} characters when "
                                "ALERT_WEBHOOK_URL is set: the receiver checks each notification's signature")
    token = str(settings["METRICS_TOKEN"])
    if token and len(token) < MIN_METRICS_TOKEN:
        raise SettingsError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters: it is all that "
                            "guards /metrics")
    secret = str(settings["SECRET_KEY"])
    if secret and len(secret) < MIN_SECRET_KEY:
        raise SettingsError(f"SECRET_KEY must be at least {MIN_SECRET_KEY} characters (make one with "
                            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")


def secret_key(settings: Mapping[str, object], url: str, instance_path: str) -> str:
    """SECRET_KEY; unset, one kept under instance/ on SQLite (one machine), and required on any
    other database, where many processes on many hosts must sign sessions alike."""
    configured = str(settings["SECRET_KEY"])
    if configured:
        return configured
    if not url.startswith("sqlite"):
        raise SettingsError("SECRET_KEY is required with DATABASE_URL: every process must sign the staff "
                            "console's sessions with the same key")
    path = os.path.join(instance_path, "secret.key")
    if not os.path.exists(path):
        keep_once(path, secrets.token_urlsafe(48) + "\n")
    with open(path) as stored:
        return stored.read().strip()


def keep_once(path: str, content: str) -> None:
    """Write `content` to a new file at `path`, readable by its owner alone; if two processes
    race, both end up reading the one that was linked into place first."""
    temp = f"{path}.{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)


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
    # fails one request with a 503 (web/errors.py) and SQLAlchemy then refreshes the pool.
    options: dict[str, object] = {"pool_recycle": 1800}
    if url.startswith("postgresql"):
        options["connect_args"] = {"options": f"-c random_page_cost={float(settings['PG_RANDOM_PAGE_COST'])}"}
    return options
