"""What a classifier or a provider adapter reports about one message or one provider event.

Every reader (DSN, ARF, provider webhooks) returns these plain values, so the code that turns
them into suppressions, counts and evidence does not care where they came from.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

BOUNCE, COMPLAINT, OTHER = "bounce", "complaint", "other"


@dataclass(frozen=True)
class RecipientResult:
    """One recipient of a bounce or complaint."""

    address: str  # lower-cased, as found in the message
    action: str | None = None  # RFC 3464 Action: failed, delayed, delivered, relayed, expanded
    status: str | None = None  # RFC 3463 enhanced status code, e.g. "5.1.1"
    hard: bool | None = None  # True: the address is dead (global suppression); False: soft; None: n/a
    reason: str | None = None  # short machine reason, e.g. user_unknown, mailbox_full, policy, feedback
    diagnostic: str | None = None  # the remote server's words, shortened
    # The address the sender mailed, when the report says it was forwarded or expanded to `address`
    # (Original-Recipient, "expanded from"): the one on the dealer's list.
    original: str | None = None

    @property
    def mailed(self) -> str:
        """The address the dealer sent to: the one its next send will be checked for."""
        return self.original or self.address


@dataclass(frozen=True)
class Original:
    """What the returned original message (or its headers) says about who sent it."""

    message_id: str | None = None
    from_domain: str | None = None  # domain of the original From:
    dkim_domains: tuple[str, ...] = ()  # d= of each DKIM-Signature
    account_header: str | None = None  # value of the configured account header (ACCOUNT_HEADER)
    list_name: str | None = None  # value of the configured list header (LIST_HEADER): the list it was sent for
    return_path: str | None = None  # the original envelope sender, for VERP


@dataclass(frozen=True)
class Classification:
    """The verdict on one message or provider event."""

    kind: str  # BOUNCE, COMPLAINT or OTHER
    recipients: tuple[RecipientResult, ...] = ()
    feedback_type: str | None = None  # ARF Feedback-Type (abuse, fraud, virus, not-spam, ...)
    original: Original = field(default_factory=Original)
    detail: str | None = None  # why it was read this way (the format matched), for operators
    unreadable: str | None = None  # why the message could not be read at all; None when it was read

    def as_json(self) -> dict:
        """Plain values for JSON (the `classify` CLI, the events table)."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict) -> Classification:
        """The Classification `as_json` gave."""
        original = dict(value.get("original") or {})
        original["dkim_domains"] = tuple(original.get("dkim_domains") or ())
        return cls(value["kind"], tuple(RecipientResult(**r) for r in value.get("recipients") or ()),
                   feedback_type=value.get("feedback_type"), original=Original(**original),
                   detail=value.get("detail"))
