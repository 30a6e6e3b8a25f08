"""Suppression lists: a sender's own account (and its lists); staff: global or any account."""
from __future__ import annotations

from itertools import islice
from typing import Literal

from flask import Response, current_app, stream_with_context
from pydantic import AwareDatetime, BaseModel, Field

from suppression import accounts, lists
from suppression.addresses import normalize
from suppression.api import csvio
from suppression.api.auth import actor, caller, requires
from suppression.api.blueprint import api_blueprint
from suppression.api.schemas import (
    CONFLICT,
    MAX_PAGE_SIZE,
    MAX_SUPPRESSION_BATCH,
    UNSUPPORTED,
    Id,
    Page,
    SmallId,
    Strict,
    text_response,
)
from suppression.db import db, iso, keyset_page, utcnow
from suppression.errors import Forbidden, Invalid, NotFound
from suppression.models import Reason, Role, Suppression
from suppression.models.suppressions import scope_level

bp = api_blueprint("suppressions", __name__, "suppressions", url_prefix="/v1/suppressions")


EXPORT_CHUNK = 5_000


class ScopeQuery(Strict):
    account_id: SmallId | None = Field(None, description="Staff: that account (default: the global list). "
                                                     "Senders: only their own.")
    list_name: str | None = Field(None, alias="list", description="A list of the account.")


class ListQuery(ScopeQuery):
    reason: Reason | None = None
    source: str | None = None
    address: str | None = None
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    before: Id | None = Field(None, description="The `next` cursor of the previous page.")


class Entry(Strict):
    address: str
    reason: Reason = Reason.manual


class AddBody(Strict):
    suppressions: list[Entry] = Field(max_length=MAX_SUPPRESSION_BATCH)
    list_name: str | None = Field(None, alias="list")
    account_id: SmallId | None = None
    expires_at: AwareDatetime | None = Field(None, description="When the entries lapse (with a time zone).")


class DeleteQuery(ScopeQuery):
    reason: str | None = Field(None, description="Why; required from staff, kept in the audit log.")


class ImportQuery(ScopeQuery):
    reason: Reason = Field(Reason.unsubscribed, description="Reason for every imported address.")


class InvalidLine(BaseModel):
    line: int
    value: str = Field(description="The address cell as sent (its first 320 characters); bytes that "
                                   "were not UTF-8 escaped, as in `m\\xfcller@example.de`.")
    reason: Literal["invalid_address", "invalid_encoding"] = Field(
        description="invalid_address, or invalid_encoding: the line is not UTF-8")


class ImportReport(BaseModel):
    lines: int
    added: int
    already_present: int
    invalid: int
    invalid_lines: list[InvalidLine] = Field(description="The first IMPORT_MAX_REPORTED_INVALID of them.")
    invalid_lines_truncated: bool


class AddressPath(Strict):
    address: str


# What the views answer (the OpenAPI document's response schemas).

class SuppressionView(BaseModel):
    address: str
    scope: Literal["global", "account", "list"]
    account_id: int | None = Field(description="null on the global list")
    list_name: str | None = Field(alias="list")
    reason: Reason
    source: str = Field(description="api, import, console, or what suppressed it (an event's source)")
    created_at: str = Field(description="UTC, ISO 8601")
    expires_at: str | None
    event_id: int | None = Field(description="The inbound event that caused it")


class SuppressionPage(Page):
    items: list[SuppressionView]


class Added(BaseModel):
    added: list[str] = Field(description="Normalized addresses suppressed now")
    already_present: list[str] = Field(description="Normalized addresses suppressed before")
    invalid: list[str] = Field(description="Addresses as sent that are not addresses")


class Removed(BaseModel):
    removed: SuppressionView


def _scope(account_id: int | None, list_name: str | None) -> lists.Scope:
    """The scope the caller may act on: senders their own account, staff any."""
    who = caller()
    if who.role == Role.sender:
        if account_id is not None and account_id != who.account_id:
            raise NotFound(f"no account {account_id}")
        return lists.Scope.of(who.account_id, list_name)
    if account_id is not None:
        accounts.get(account_id)
    return lists.Scope.of(account_id, list_name)


def entry_json(row: Suppression) -> dict:
    return {"address": row.address, "scope": row.scope, "account_id": row.account_id, "list": row.list_name,
            "reason": row.reason.value, "source": row.source, "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at), "event_id": row.event_id}


@bp.get("", responses={200: SuppressionPage})
@requires(Role.sender, Role.staff)
def list_suppressions(query: ListQuery):
    """Page through suppressions, newest first; filter by list, reason, source or address."""
    scope = _scope(query.account_id, query.list_name)
    stmt = lists.query(scope, whole_account=query.list_name is None, reason=query.reason,
                       source=query.source, address=query.address)
    rows, cursor = keyset_page(stmt, Suppression.id, query.limit, query.before)
    return {"items": [entry_json(r) for r in rows], "next": cursor}


@bp.post("", responses={201: Added, 200: Added, **CONFLICT, **UNSUPPORTED})
@requires(Role.sender, Role.staff)
def add_suppressions(body: AddBody):
    """Suppress up to 1,000 addresses; the response says which were added and which were invalid."""
    scope = _scope(body.account_id, body.list_name)
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise Invalid("expires_at must be in the future", code="invalid_expiry", field="expires_at")
    by_reason: dict[Reason, list[str]] = {}
    invalid = []
    for entry in body.suppressions:
        if caller().role == Role.sender and entry.reason not in lists.SENDER_REASONS:
            raise Forbidden(f"senders may add only manual or unsubscribed entries, not {entry.reason.value}")
        normalized = normalize(entry.address)
        if normalized is None:
            invalid.append(entry.address)
        else:
            by_reason.setdefault(entry.reason, []).append(normalized)
    added, present = [], []
    for reason, addresses in by_reason.items():
        # A person's own entry: a seed among them is added like any address (refusing it would reveal it).
        result = lists.suppress(scope, addresses, reason, "api", actor(), expires_at=body.expires_at, protect=())
        added += result.added
        present += result.already_present
    db.session.commit()
    return {"added": added, "already_present": present, "invalid": invalid}, 201 if added else 200


@bp.delete("/<path:address>", responses={200: Removed})
@requires(Role.sender, Role.staff)
def delete_suppression(path: AddressPath, query: DeleteQuery):
    """Remove one entry. Senders: only manual or imported entries; staff: anything, with a reason."""
    scope = _scope(query.account_id, query.list_name)
    row = lists.remove(scope, path.address, actor(), by_staff=caller().role == Role.staff, reason=query.reason)
    db.session.commit()
    return {"removed": entry_json(row)}


@bp.get("/export", responses={200: text_response("text/csv", "One line per suppression, after a header line")})
@requires(Role.sender, Role.staff)
def export_suppressions(query: ScopeQuery):
    """All suppressions in scope as CSV, streamed."""
    scope = _scope(query.account_id, query.list_name)
    rows = lists.export_rows(scope, whole_account=query.list_name is None, chunk=EXPORT_CHUNK)

    def generate():
        line = csvio.CsvLines()
        yield "address,scope,list,reason,source,created_at,expires_at\n"
        while batch := list(islice(rows, EXPORT_CHUNK)):
            yield line([address, scope_level(account_id, list_name), list_name or "", reason.value, source,
                        iso(created_at), iso(expires_at) or ""]
                       for _, address, account_id, list_name, reason, source, created_at, expires_at in batch)

    filename = f"suppressions-{scope.key.replace('/', '-')}.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/import", responses={200: ImportReport, **CONFLICT, **UNSUPPORTED},
         openapi_extensions={"requestBody": csvio.REQUEST_BODY})
@requires(Role.sender, Role.staff)
@csvio.takes_upload
def import_suppressions(query: ImportQuery):
    """Bulk-add a CSV (or one address a line) of any size; counts added, present and invalid lines.
    A line that is not UTF-8 is not imported: it is reported invalid (`invalid_encoding`) with its number,
    and the other lines go in (importing the corrected file again adds only what was left out)."""
    scope = _scope(query.account_id, query.list_name)
    if caller().role == Role.sender and query.reason not in lists.SENDER_REASONS:
        raise Forbidden("senders may import only manual or unsubscribed entries")
    chunks = lists.import_lines(scope, csvio.addresses(csvio.upload()), query.reason, "import", actor(),
                                chunk=current_app.config["IMPORT_CHUNK"],
                                max_reported=current_app.config["IMPORT_MAX_REPORTED_INVALID"])
    report = None
    for report in chunks:  # noqa: B007 -- the last report is the whole import's
        db.session.commit()  # chunk by chunk: memory stays bounded, and a crash keeps what went in
    return report
