"""Seeds (staff), a campaign's seed assignments (senders), and what the seed audit found (staff)."""
from __future__ import annotations

from typing import Literal

from flask import Response, current_app
from pydantic import BaseModel, Field

from seedlist import assignments, findings
from seedlist import seeds as seedlist
from seedlist.audit import RULES
from suppression import accounts, events, placements
from suppression.api.auth import actor, caller, requires
from suppression.api.blueprint import api_blueprint
from suppression.api.schemas import (
    CONFLICT,
    MAX_PAGE_SIZE,
    UNSUPPORTED,
    Id,
    Page,
    SmallId,
    Strict,
    text_response,
)
from suppression.db import commit, db
from suppression.errors import AccountSuspended, NotFound
from suppression.models import Finding, FindingSeverity, Role, SeedKind, SeedStatus

bp = api_blueprint("seeds", __name__, "seeds")

RAW_SHOWN = 64 * 1024  # bytes of a finding's message shown inline; the whole at .../raw
FINDING_RULES = ", ".join([r.id for r in RULES] + list(findings.CRITICAL_RULES)
                          + [findings.MALFORMED, findings.DNS_UNAVAILABLE, findings.OPTOUT_FAILED])


class SeedBody(Strict):
    address: str = Field(max_length=320)
    kind: Literal["monitor", "trap", "optout"]
    provider: str = Field("own", max_length=32, description="The mailbox provider: gmail, outlook, yahoo, own, ...")
    mailbox: str | None = Field(None, max_length=2000, description=(
        "How to read the seed's mailbox: imaps://user:password@host[:port]. Kept sealed; never shown again."))


class SeedQuery(Strict):
    kind: Literal["monitor", "trap", "optout"] | None = None
    status: Literal["active", "retired"] | None = None
    provider: str | None = Field(None, max_length=32)
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    before: SmallId | None = Field(None, description="The `next` cursor of the previous page.")


class SeedPath(Strict):
    seed_id: Id


class RetireBody(Strict):
    reason: str | None = Field(None, max_length=2000)


class AssignmentQuery(Strict):
    campaign: str = Field(max_length=200, description="The campaign id the messages carry in CAMPAIGN_HEADER.")


class FindingQuery(Strict):
    account_id: SmallId | None = None
    seed_id: SmallId | None = None
    rule: str | None = Field(None, max_length=40, description=FINDING_RULES)
    severity: Literal["info", "warning", "critical"] | None = None
    limit: int = Field(50, ge=1, le=200)
    before: Id | None = Field(None, description="The `next` cursor of the previous page.")


class FindingPath(Strict):
    finding_id: Id


class AccountPath(Strict):
    account_id: Id


class ComplianceQuery(Strict):
    days: int = Field(30, ge=1, le=365)


# What the views answer (the OpenAPI document's response schemas).

RAW_MESSAGE = text_response("message/rfc822", "The message as it arrived")


class Mailbox(BaseModel):
    configured: bool
    host: str | None = Field(description="scheme://host:port of the sealed IMAP URL; never its credentials")
    checked_at: str | None = Field(description="The last poll, UTC, ISO 8601")
    error: str | None = Field(description="Why the last poll failed (auth, connect, timeout, protocol: ...)")
    failures: int = Field(description="Polls failed in a row")
    next_poll_at: str | None = Field(description="Set while backing off after a failure")


class SeedView(BaseModel):
    id: int
    address: str
    kind: SeedKind
    provider: str
    status: SeedStatus
    mailbox: Mailbox
    created_at: str = Field(description="UTC, ISO 8601")
    created_by: str
    retired_at: str | None


class SeedPage(Page):
    items: list[SeedView]


class Assignment(BaseModel):
    campaign: str
    header: str = Field(description="The header each message must carry the campaign id in")
    addresses: list[str]


class FindingView(BaseModel):
    id: int
    rule: str
    severity: FindingSeverity
    detail: str
    account_id: int | None
    seed_id: int | None
    event_id: int
    created_at: str = Field(description="UTC, ISO 8601")
    message: str = Field(description="The message's first 64 KiB, as text")
    message_bytes: int
    message_truncated: bool
    message_href: str = Field(description="The whole message, as message/rfc822")


class FindingPage(Page):
    items: list[FindingView]


class RuleShare(BaseModel):
    passed: int
    failed: int
    unknown: int
    pass_rate: float | None = Field(description="passed / (passed + failed); null when none was judged")


class Compliance(BaseModel):
    account_id: int
    days: int
    messages: int
    rules: dict[str, RuleShare]
    auth_failure_reports: int = Field(description="DMARC failure reports (ARF Feedback-Type auth-failure) "
                                                  "received about the account's mail in these days")


@bp.post("/seeds", responses={201: SeedView, **CONFLICT, **UNSUPPORTED})
@requires(Role.staff)
def create_seed(body: SeedBody):
    """Add a seed; its mailbox (IMAP URL) is sealed at rest and never returned."""
    seed = seedlist.create(seedlist.NewSeed(body.address, body.kind, body.provider, body.mailbox), actor())
    db.session.commit()
    return seedlist.view(seed), 201


@bp.get("/seeds", responses={200: SeedPage})
@requires(Role.staff)
def list_seeds(query: SeedQuery):
    """Seeds, newest first; filter by kind, status or provider."""
    rows, cursor = seedlist.page(seedlist.query(query.kind, query.status, query.provider), query.limit, query.before)
    return {"items": [seedlist.view(s) for s in rows], "next": cursor}


@bp.post("/seeds/<int:seed_id>/retire", responses={200: SeedView, **CONFLICT, **UNSUPPORTED})
@requires(Role.staff)
def retire_seed(path: SeedPath, body: RetireBody):
    """Stop using a seed: never handed out again; its findings stay."""
    seed = seedlist.retire(path.seed_id, actor(), body.reason)
    db.session.commit()
    return seedlist.view(seed)


@bp.get("/seeds/assignments", responses={200: Assignment})
@requires(Role.sender)
def seed_assignments(query: AssignmentQuery):
    """The seed addresses to add to this campaign (the same every time it is asked); each message
    must carry the campaign id in the campaign header."""
    who = caller()
    if who.account_suspended:
        raise AccountSuspended("this account is suspended and may not send; contact trust and safety")
    campaign = assignments.checked_campaign(query.campaign)
    chosen = assignments.for_campaign(who.account_id, campaign)
    commit()
    return {"campaign": campaign, "header": current_app.config["CAMPAIGN_HEADER"],
            "addresses": [seed.address for seed in chosen]}


@bp.get("/findings", responses={200: FindingPage})
@requires(Role.staff)
def list_findings(query: FindingQuery):
    """What the seed audit found, newest first, each with its message (the first 64 KiB inline)."""
    stmt = findings.query(query.account_id, query.seed_id, query.rule, query.severity)
    rows, cursor = findings.page(stmt, query.limit, query.before)
    heads = events.raw_heads(sorted({f.event_id for f in rows}), RAW_SHOWN)
    return {"items": [_with_message(f, *heads.get(f.event_id, (b"", 0))) for f in rows], "next": cursor}


@bp.get("/findings/<int:finding_id>/raw", responses={200: RAW_MESSAGE})
@requires(Role.staff)
def finding_message(path: FindingPath):
    """The whole message a finding is about, as it arrived (message/rfc822)."""
    finding = db.session.get(Finding, path.finding_id)
    if finding is None:
        raise NotFound(f"no finding {path.finding_id}")
    raw = events.get(finding.event_id).raw or b""
    return Response(raw, mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="finding-{finding.id}.eml"'})


@bp.get("/accounts/<int:account_id>/compliance", responses={200: Compliance})
@requires(Role.staff)
def compliance(path: AccountPath, query: ComplianceQuery):
    """The share of the account's seed messages passing each audit rule over the last `days` days."""
    accounts.get(path.account_id)
    return findings.summary(path.account_id, query.days)


def _with_message(finding: Finding, head: bytes, length: int) -> dict:
    return findings.view(finding) | {
        "message": head.decode("utf-8", errors="replace"), "message_bytes": length,
        "message_truncated": length > len(head), "message_href": f"/v1/findings/{finding.id}/raw"}


# Inbox placement ----------------------------------------------------------------------------------

class PlacementQuery(Strict):
    campaign: str = Field(max_length=200, description="The campaign id the messages carried.")


class AccountPlacementQuery(Strict):
    campaign: str | None = Field(None, max_length=200, description="One campaign's report, besides the trend.")
    days: int = Field(30, ge=1, le=365)


class Tally(BaseModel):
    seeds: int = Field(description="Seeds assigned")
    inbox: int
    spam: int
    other: int = Field(description="Another folder, or arrived by the inbound path (no folder to tell)")
    missing: int = Field(description="No message by INBOX_PLACEMENT_DEADLINE_HOURS after the assignment")
    pending: int = Field(description="Not yet at the deadline: in no rate")
    inbox_rate: float | None
    spam_rate: float | None
    other_rate: float | None
    missing_rate: float | None


class CampaignPlacement(BaseModel):
    campaign: str
    overall: Tally
    providers: dict[str, Tally] = Field(description="Per mailbox provider (gmail, outlook, yahoo, own, ...)")


class DayPlacement(Tally):
    day: str


class AccountPlacement(BaseModel):
    account_id: int
    days: int
    trend: list[DayPlacement] = Field(description="Per day of assignment, oldest first")
    campaign: CampaignPlacement | None


@bp.get("/placement", responses={200: CampaignPlacement})
@requires(Role.sender)
def campaign_placement(query: PlacementQuery):
    """Where this campaign's seeds found its message: inbox, spam, other, or missing, per provider."""
    campaign = assignments.checked_campaign(query.campaign)
    return placements.report(caller().account_id, campaign, _deadline())


@bp.get("/accounts/<int:account_id>/placement", responses={200: AccountPlacement})
@requires(Role.staff)
def account_placement(path: AccountPath, query: AccountPlacementQuery):
    """An account's inbox placement per day over `days` days, and one campaign's when asked."""
    accounts.get(path.account_id)
    campaign = assignments.checked_campaign(query.campaign) if query.campaign is not None else None
    return {"account_id": path.account_id, "days": query.days,
            "trend": placements.trend(path.account_id, query.days, _deadline()),
            "campaign": placements.report(path.account_id, campaign, _deadline()) if campaign else None}


def _deadline() -> int:
    return current_app.config["POLICY"].inbox_placement.deadline_hours
