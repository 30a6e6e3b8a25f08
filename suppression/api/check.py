"""The pre-send check: may this account mail these addresses?"""
from __future__ import annotations

from itertools import islice

from flask import Response, stream_with_context
from pydantic import BaseModel, Field

from suppression import lists
from suppression.api import csvio, metrics
from suppression.api.auth import caller, read_only, requires
from suppression.api.blueprint import api_blueprint
from suppression.api.schemas import (
    MAX_CHECK_ADDRESSES,
    UNSUPPORTED,
    Strict,
    text_response,
)
from suppression.errors import AccountSuspended
from suppression.models import Role

bp = api_blueprint("check", __name__, "check")


FILTER_CHUNK = 5_000


class CheckBody(Strict):
    addresses: list[str] = Field(max_length=MAX_CHECK_ADDRESSES,
                                 description="Up to 10,000 addresses, as you have them.")
    list_name: str | None = Field(None, alias="list", description="Also apply this list's opt-outs.")


class Decision(BaseModel):
    address: str
    normalized: str | None
    send: bool
    reason: str | None = Field(description="invalid_address, unsubscribed, complained, hard_bounce, "
                                           "soft_bounce_limit, manual, spam_trap or global_opt_out")
    scope: str | None = Field(description="global, account or list: where the suppression lives")


class CheckResult(BaseModel):
    results: list[Decision]


class FilterQuery(Strict):
    list_name: str | None = Field(None, alias="list")


def _active_account_id() -> int:
    if caller().account_suspended:
        raise AccountSuspended("this account is suspended and may not send; contact trust and safety")
    return caller().account_id


@bp.post("/check", responses={200: CheckResult, **UNSUPPORTED})
@read_only
@requires(Role.sender)
def check(body: CheckBody):
    """Decide, for each address in order, whether this account may mail it."""
    decisions = lists.check(_active_account_id(), body.addresses, body.list_name)
    metrics.count_checks(decisions)
    return {"results": decisions}


@bp.post("/check/filter",
         responses={200: text_response("text/csv", "address,send,reason for each line"), **UNSUPPORTED},
         openapi_extensions={"requestBody": csvio.REQUEST_BODY})
@read_only
@requires(Role.sender)
@csvio.takes_upload
def check_filter(query: FilterQuery):
    """Upload a CSV or one address a line, of any size; get `address,send,reason` back as CSV.
    A file with an address that is not UTF-8 is refused (422 `invalid_encoding`, its line)."""
    account_id = _active_account_id()
    if query.list_name:
        lists.Scope.of(account_id, query.list_name)  # a bad list name fails before streaming starts
    # Each row of the answer echoes its address: one that is not UTF-8 cannot be echoed as sent,
    # so the whole file is refused, before streaming starts (it is spooled whole already).
    rows = csvio.addresses(csvio.decodable(csvio.upload()))

    def generate():
        line = csvio.CsvLines()
        yield "address,send,reason\n"
        while chunk := [value for _, value in islice(rows, FILTER_CHUNK)]:
            decisions = lists.check(account_id, chunk, query.list_name)
            metrics.count_checks(decisions)
            yield line([d["address"], "true" if d["send"] else "false", d["reason"] or ""] for d in decisions)

    return Response(stream_with_context(generate()), mimetype="text/csv")
