"""Policy as typed data: the bounce rules and the AUP thresholds of docs/DESIGN.md.

Each field is a setting named by its path in upper case (`soft_bounce_limit` is
SOFT_BOUNCE_LIMIT, `complaint_rate.warning` is COMPLAINT_RATE_WARNING), read from the
environment or from `create_app`'s overrides when the app starts, and checked then: a bad value
stops the app with a message naming it. The decisions that apply these values are pure
functions in suppression/policy.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace

from config.errors import SettingsError

# Bounce reasons (workers/status.py names them) that say the address is dead: a permanent
# failure for one of these suppresses the address for every dealer.
HARD_REASONS = frozenset({"user_unknown", "host_unknown", "has_moved", "not_accept", "bad_address"})
# Soft-bounce reasons that say something about the address (full, disabled, filtering, gone
# quiet): only these count toward its soft-bounce limit. Rejections of the sender or of the
# message (block lists, spam, policy, authentication, rate limits, a refused sender address:
# "rejected") count only in the dealer's rates, or one bad sending IP would suppress good
# addresses.
ADDRESS_REASONS = frozenset({"mailbox_full", "suspended", "filtered", "expired", "network_error",
                             "undefined", None})
# Feedback types of a report that are not complaints: the recipient says the mail is wanted, or
# a DMARC failure report about the sender's authentication (RFC 6591).
NOT_COMPLAINTS = frozenset({"not-spam", "auth-failure"})


@dataclass(frozen=True)
class Rate:
    """A rate rule over the daily counters: events / sends over the last `days` days, judged only
    with at least `min_sends` sends (below that the rate is undefined, never zero)."""

    days: int
    min_sends: int
    warning: float  # a fraction: 0.001 is 0.1 %
    critical: float | None = None  # None: the rule only warns


@dataclass(frozen=True)
class Count:
    """A count rule over the daily counters: `threshold` or more events over the last `days` days
    cross it, whatever the volume (its level, critical or warning, is the rule's, in
    suppression/policy.py)."""

    days: int
    threshold: int = 1


@dataclass(frozen=True)
class Placement:
    """The inbox-placement rule: the share of seed messages found in the inbox over the account's
    last `campaigns` campaigns (with at least `min_seeds` seeds assigned); under `warning` is a
    warning. A seed with no message `deadline_hours` after its assignment counts as missing."""

    campaigns: int = 3
    min_seeds: int = 10
    warning: float = 0.75
    deadline_hours: int = 6


@dataclass(frozen=True)
class Policy:
    soft_bounce_limit: int = 3  # soft bounces of one address within soft_bounce_days ...
    soft_bounce_days: int = 14
    soft_bounce_suppress_days: int = 30  # ... suppress it for this long
    complaint_rate: Rate = field(default_factory=lambda: Rate(days=7, min_sends=1000, warning=0.001, critical=0.003))
    # docs/DESIGN.md gives this rule no volume floor; without one, a dealer's first bounce of the
    # week would be a 100 % rate and suspend the account, so it shares the complaint rule's.
    hard_bounce_rate: Rate = field(default_factory=lambda: Rate(days=7, min_sends=1000, warning=0.02, critical=0.05))
    unsubscribe_rate: Rate = field(default_factory=lambda: Rate(days=7, min_sends=1000, warning=0.01))
    trap_hits: Count = field(default_factory=lambda: Count(days=30))  # mail to a trap seed: critical
    optout_ignored: Count = field(default_factory=lambda: Count(days=30))  # to an opted-out seed: critical
    seed_findings: Count = field(default_factory=lambda: Count(days=30))  # seed content findings: warning
    optout_grace_hours: int = 48  # after an opt-out seed's unsubscribe, mail from that dealer is a violation
    inbox_placement: Placement = field(default_factory=Placement)
    auto_suspend: bool = True  # an alert that opens or escalates critical suspends the account at once

    def windows(self) -> frozenset[int]:
        """The distinct windows (days) the AUP rules look back over."""
        return frozenset({self.complaint_rate.days, self.hard_bounce_rate.days, self.unsubscribe_rate.days,
                          self.trap_hits.days, self.optout_ignored.days, self.seed_findings.days})

    @classmethod
    def from_settings(cls, environ: Mapping[str, str], overrides: Mapping[str, object] | None = None) -> Policy:
        """The policy from the environment, with `overrides` on top; SettingsError names a bad value."""
        values = {**{k: v for k, v in environ.items() if k in SETTINGS}, **(overrides or {})}
        policy = _build(cls(), "", {k: v for k, v in values.items() if k in SETTINGS})
        _check(policy)
        return policy


def setting_names(shape=Policy, prefix: str = "") -> list[str]:
    """Every policy setting's name: SOFT_BOUNCE_LIMIT, COMPLAINT_RATE_WARNING, ..."""
    names = []
    for f in fields(shape):
        name = f"{prefix}{f.name.upper()}"
        nested = _nested_type(f)
        names.extend(setting_names(nested, name + "_") if nested else [name])
    return names


def _nested_type(f):
    return {"Rate": Rate, "Count": Count, "Placement": Placement}.get(
        f.type if isinstance(f.type, str) else f.type.__name__)


def _build(current, prefix: str, values: Mapping[str, object]):
    changes = {}
    for f in fields(current):
        name = f"{prefix}{f.name.upper()}"
        value = getattr(current, f.name)
        if is_dataclass(value):
            changes[f.name] = _build(value, name + "_", values)
        elif name in values:
            changes[f.name] = _parse(name, values[name], f.type)
    return replace(current, **changes)


def _parse(name: str, raw: object, kind: str) -> object:
    if kind == "bool":
        return _boolean(name, raw)
    if kind == "int":
        return _whole(name, raw)
    return _fraction(name, raw, optional=kind.endswith("None"))


def _whole(name: str, raw: object) -> int:
    try:
        value = int(str(raw).strip()) if not isinstance(raw, bool) else None
    except ValueError:
        value = None
    if value is None or value < 0:
        raise SettingsError(f"{name} must be a whole number of at least 0, not {raw!r}")
    return value


def _fraction(name: str, raw: object, optional: bool) -> float | None:
    if optional and (raw is None or str(raw).strip().lower() in ("", "none", "off")):
        return None
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise SettingsError(f"{name} must be a fraction between 0 and 1 (0.001, or 0.1%), not {raw!r}")
    return value


def _boolean(name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _check(policy: Policy) -> None:
    for name in ("soft_bounce_limit", "soft_bounce_days", "soft_bounce_suppress_days", "optout_grace_hours"):
        if getattr(policy, name) < 1:
            raise SettingsError(f"{name.upper()} must be at least 1")
    placement = policy.inbox_placement
    if placement.campaigns < 1 or placement.min_seeds < 1 or placement.deadline_hours < 1:
        raise SettingsError("INBOX_PLACEMENT_CAMPAIGNS, _MIN_SEEDS and _DEADLINE_HOURS must be at least 1")
    for rule_name in ("trap_hits", "optout_ignored", "seed_findings"):
        rule, name = getattr(policy, rule_name), rule_name.upper()
        if rule.days < 1 or rule.threshold < 1:
            raise SettingsError(f"{name}_DAYS and {name}_THRESHOLD must be at least 1")
    for rule_name in ("complaint_rate", "hard_bounce_rate", "unsubscribe_rate"):
        rule, name = getattr(policy, rule_name), rule_name.upper()
        if rule.days < 1:
            raise SettingsError(f"{name}_DAYS must be at least 1")
        if rule.critical is not None and rule.critical <= rule.warning:
            raise SettingsError(f"{name}_CRITICAL ({rule.critical:g}) must be above {name}_WARNING ({rule.warning:g})")


SETTINGS = frozenset(setting_names())
