"""Provider webhook adapters: one class per provider (ses.Ses, sendgrid.SendGrid, mailgun.Mailgun,
postmark.Postmark), each built once, when the app starts, from the settings (`build`), so that a bad
key or setting stops the start rather than the first webhook.

Each adapter has the same two pure methods (no database, no Flask, no network; SES's certificate
fetch is given to its constructor):

- `verify(body, headers, now)`: raises `Rejected` when the payload is not authentic or not
  acceptable; returns None otherwise.
- `parse(body, headers)`: the payload as a list of `ProviderEvent`, one per recipient; raises
  `Rejected` (never anything else) when the payload is malformed. The account header and the list
  header (settings ACCOUNT_HEADER, LIST_HEADER) are looked up where the provider keeps the sender's
  own values (custom args, user variables, metadata, the original's headers).

The helpers below are shared by the adapters: JSON loading that only ever raises `Rejected`,
typed field access, and `hardness`, the one reading of a status code and the server's words.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Protocol

import config
from workers.findings import Classification, RecipientResult
from workers.status import interpret

ADAPTERS = ("ses", "sendgrid", "mailgun", "postmark")
_CLASSES = {"ses": "Ses", "sendgrid": "SendGrid", "mailgun": "Mailgun", "postmark": "Postmark"}
# The setting that switches each webhook on. Providers cannot send our API key, so an endpoint
# answers only once its verification is configured: an open one would let anyone suppress any address.
SWITCHES = {"ses": "SES_TOPIC_ARNS", "sendgrid": "SENDGRID_VERIFICATION_KEY", "mailgun": "MAILGUN_SIGNING_KEY",
            "postmark": "POSTMARK_WEBHOOK_TOKEN"}
MAX_KEY = 200  # events.dedupe_key is String(200)
MAX_DIAGNOSTIC = 500


class Rejected(Exception):
    """The payload is not authentic, not acceptable, or not readable; the message says why."""


@dataclass(frozen=True)
class ProviderEvent:
    """One provider event, normalized."""

    dedupe_key: str  # "<provider>:<the provider's own id>[:<recipient>]", at most 200 characters
    classification: Classification  # one recipient at most
    unsubscribe: bool = False  # the recipient opted out (classification.kind is "other")
    unsubscribe_list: str | None = None  # the opt-out is from this list of the account only; None: all of it
    subscription_url: str | None = None  # SNS SubscriptionConfirmation: GET it once to confirm
    occurred_at: str | None = None  # ISO 8601 in UTC, when the provider says it happened

    def finding(self) -> dict:
        """What was found, as plain JSON values (stored with the event; the key is stored beside it)."""
        return {"classification": self.classification.as_json(), "unsubscribe": self.unsubscribe,
                "unsubscribe_list": self.unsubscribe_list, "subscription_url": self.subscription_url,
                "occurred_at": self.occurred_at}

    @classmethod
    def from_finding(cls, dedupe_key: str, finding: Mapping[str, object]) -> ProviderEvent:
        """The event `finding()` gave, back from its JSON."""
        return cls(dedupe_key, Classification.from_json(finding["classification"]),
                   unsubscribe=bool(finding.get("unsubscribe")), unsubscribe_list=finding.get("unsubscribe_list"),
                   subscription_url=finding.get("subscription_url"), occurred_at=finding.get("occurred_at"))


class Adapter(Protocol):
    """What every provider's adapter offers (see the module docstring)."""

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None: ...

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]: ...


def build(settings: Mapping[str, object]) -> dict[str, Adapter]:
    """The adapter of each provider whose webhook is switched on (SWITCHES), by name.
    SettingsError, naming the setting, when a setting is unusable."""
    try:
        return {name: _class(name).from_settings(settings) for name, switch in SWITCHES.items()
                if _is_set(settings.get(switch))}
    except ValueError as exc:
        raise config.SettingsError(str(exc)) from None


def reader(name: str, settings: Mapping[str, object]) -> Adapter:
    """Provider `name`'s adapter without its verification settings: for parsing alone."""
    return _class(name)(**header_names(settings))


def header_names(settings: Mapping[str, object]) -> dict[str, str]:
    """The account and list header names, as the adapters' keyword arguments."""
    return {"account_header": setting_text(settings, "ACCOUNT_HEADER") or config.ACCOUNT_HEADER,
            "list_header": setting_text(settings, "LIST_HEADER") or config.LIST_HEADER}


def _is_set(value: object) -> bool:
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(str(item).strip() for item in value)
    return value is not None and bool(str(value).strip())


def _class(name: str) -> type:
    if name not in ADAPTERS:
        raise ValueError(f"no adapter for provider {name!r}")
    # Imported here: each adapter's module imports the helpers below from this package.
    return getattr(importlib.import_module(f"{__name__}.{name}"), _CLASSES[name])


# --- Hard or soft -----------------------------------------------------------------------------

_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def status_code(*texts: str | None) -> str | None:
    """The first RFC 3463 enhanced status code (e.g. "5.1.1") found in `texts`."""
    for text in texts:
        if text and (m := _CODE.search(text)):
            return ".".join(str(int(part)) for part in m.groups())
    return None


def hardness(status: str | None, provider_says_permanent: bool | None, text: str) -> tuple[bool | None, str]:
    """(hard, reason) for a failed delivery, by the same rules as a bounce read from mail
    (workers/status.py): the status code before the provider's label, hard only for a dead
    address, block-list, spam and policy rejections soft. hard is None for a 2.x.x code."""
    code = status_code(status, text)
    if code and code[0] == "2":
        return None, "delivered"
    reason, hard, _ = interpret(code, text, failed=provider_says_permanent is not False or bool(code))
    return hard, reason


def judge(status: str | None, provider_says_permanent: bool | None, text: str,
          dead_reason: str | None = None) -> tuple[bool | None, str]:
    """`hardness`, then the provider's subtype: when code and text told nothing (and the code is not
    temporary), `dead_reason` (given when the subtype says the mailbox does not exist) decides."""
    hard, reason = hardness(status, provider_says_permanent, text)
    code = status_code(status, text)
    if dead_reason and (hard, reason) == (False, "undefined") and not (code and code[0] == "4"):
        return True, dead_reason
    return hard, reason


# --- Reading payloads -------------------------------------------------------------------------

def load_json(body: bytes | str) -> object:
    """The JSON document in `body`; Rejected when it is not JSON."""
    if not isinstance(body, (bytes, bytearray, str)):
        raise Rejected("the body is not bytes")
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Rejected(f"not JSON: {str(exc)[:80]}") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def obj(value: object, what: str) -> dict:
    """`value` when it is a JSON object; Rejected naming `what` otherwise."""
    if not isinstance(value, dict):
        raise Rejected(f"{what} is not a JSON object")
    return value


def text(container: Mapping, key: str, *, required: bool = False) -> str | None:
    """container[key] when it is a string; None when absent or null (Rejected when required)."""
    value = container.get(key)
    if value is None:
        if required:
            raise Rejected(f"{key} is missing")
        return None
    if not isinstance(value, str):
        raise Rejected(f"{key} is not a string")
    if required and not value.strip():
        raise Rejected(f"{key} is empty")
    return value


def optional_obj(container: Mapping, key: str) -> dict:
    """container[key] when it is an object, {} when absent or null; Rejected otherwise."""
    value = container.get(key)
    return {} if value is None else obj(value, key)


def scalar(container: Mapping, key: str) -> str | None:
    """container[key] as text when it is a string or a number (ids and codes come as either)."""
    value = container.get(key)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise Rejected(f"{key} is not a string or a number")


def address(container: Mapping, key: str) -> str:
    """The recipient address at container[key], lower-cased (normalized later by the caller)."""
    value = text(container, key, required=True)
    return value.strip().lower()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of HTTP header `name`, whatever the case of the mapping's keys."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == lowered), None)
    return value if isinstance(value, str) else None


def lookup(mapping: Mapping, name: str | None) -> str | None:
    """mapping[name] matched without regard to case, as text (custom args, metadata, variables)."""
    if not name or not mapping:
        return None
    lowered = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lowered and isinstance(value, (str, int)) \
                and not isinstance(value, bool):
            return str(value).strip() or None
    return None


def setting_text(settings: Mapping[str, object], key: str) -> str | None:
    """settings[key] as a stripped string; None when unset or empty."""
    value = settings.get(key)
    if value is None:
        return None
    return str(value).strip() or None


def domain_of(value: str | None) -> str | None:
    """The lower-cased domain of an address or a From: header value."""
    if not value:
        return None
    _, addr = parseaddr(value)
    domain = addr.rpartition("@")[2].strip().strip(">").lower().rstrip(".")
    return domain or None


def message_id(value: str | None) -> str | None:
    """A Message-ID without its angle brackets."""
    if not value:
        return None
    return value.strip().strip("<>").strip() or None


def shorten(value: str | None) -> str | None:
    """The server's words on one line, at most MAX_DIAGNOSTIC characters."""
    if not value:
        return None
    one_line = " ".join(value.split())
    return (one_line[: MAX_DIAGNOSTIC - 1] + "…") if len(one_line) > MAX_DIAGNOSTIC else one_line or None


def iso_time(value: object) -> str | None:
    """An ISO 8601 string or a Unix time as ISO 8601 in UTC; None when unreadable."""
    try:
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, tz=UTC)
        else:
            return None
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def dedupe(provider: str, *parts: str) -> str:
    """A dedupe key: readable when it fits in MAX_KEY characters, else a digest of it."""
    key = ":".join((provider, *parts))
    if len(key) <= MAX_KEY:
        return key
    return f"{provider}:sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


def digest(value: object) -> str:
    """A stable digest of a JSON value, for events that carry no id of their own."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def recipient(addr: str, *, action: str | None = None, status: str | None = None, hard: bool | None = None,
              reason: str | None = None, diagnostic: str | None = None) -> RecipientResult:
    """A RecipientResult with a shortened diagnostic."""
    return RecipientResult(addr, action=action, status=status, hard=hard, reason=reason,
                           diagnostic=shorten(diagnostic))
