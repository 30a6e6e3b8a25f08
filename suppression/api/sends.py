"""Send volume: senders report how many messages they sent, the denominator of the AUP rates."""
from __future__ import annotations

import re
from datetime import date

from flask import request
from pydantic import BaseModel, Field

from suppression import sends
from suppression.api.auth import caller, requires
from suppression.api.blueprint import api_blueprint
from suppression.api.schemas import CONFLICT, UNSUPPORTED, Strict
from suppression.db import commit
from suppression.errors import AccountSuspended, Invalid
from suppression.models import Role
from workers import alerting

bp = api_blueprint("sends", __name__, "sends")

_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as HTTP headers carry it
IDEMPOTENCY_KEY = {"parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                                   "schema": {"type": "string", "maxLength": 200},
                                   "description": "One key per report: a retry with the same key counts once"}]}


class SendsBody(Strict):
    count: int = Field(ge=1, le=sends.MAX_COUNT, description="Messages sent.")
    campaign: str | None = Field(None, max_length=200)
    day: date | None = Field(None, description="The UTC day they were sent (default today; up to 31 days back).")


class Counted(BaseModel):
    id: int
    count: int
    day: date
    campaign: str | None
    counted: bool = Field(description="false when this key's report was counted before: this is a retry")


@bp.post("/sends", responses={201: Counted, 200: Counted, **CONFLICT, **UNSUPPORTED},
         openapi_extensions=IDEMPOTENCY_KEY)
@requires(Role.sender)
def report_sends(body: SendsBody):
    """Report sends: counted once per Idempotency-Key; the same key with another report is 409."""
    who = caller()
    if who.account_suspended:
        raise AccountSuspended("this account is suspended and may not send; contact trust and safety")
    key = request.headers.get("Idempotency-Key", "").strip()
    if not _KEY.fullmatch(key):
        raise Invalid("send an Idempotency-Key header (1-200 visible characters), one per report",
                      code="idempotency_key_required", details=[{"field": "Idempotency-Key", "problem": "required"}])
    row, new = sends.report(who.account_id, key, body.count, body.day, body.campaign)
    commit()
    if new:
        alerting.request_evaluation([who.account_id])  # more volume may make a rate defined, or lower it
    return {"id": row.id, "count": row.count, "day": row.day.isoformat(), "campaign": row.campaign,
            "counted": new}, 201 if new else 200
