"""Unsubscribe links and the List-Unsubscribe headers a sender puts in each message."""
from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import urlsplit

from flask import current_app
from pydantic import BaseModel, Field

from suppression import lists, tokens, unsubscribe
from suppression.addresses import normalize
from suppression.api.auth import caller, read_only, requires
from suppression.api.blueprint import api_blueprint
from suppression.api.schemas import MAX_LINK_RECIPIENTS, UNSUPPORTED, Strict
from suppression.errors import AccountSuspended
from suppression.models import Role

bp = api_blueprint("links", __name__, "unsubscribe links")


ONE_CLICK = "List-Unsubscribe=One-Click"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
log = logging.getLogger(__name__)


class Recipient(Strict):
    address: str
    list_name: str | None = Field(None, alias="list", description="Unsubscribe from this list of the account only.")


class LinksBody(Strict):
    recipients: list[Recipient] = Field(max_length=MAX_LINK_RECIPIENTS, description="Up to 10,000 recipients.")


class Headers(BaseModel):
    list_unsubscribe: str = Field(alias="List-Unsubscribe")
    list_unsubscribe_post: str = Field(alias="List-Unsubscribe-Post")


class Link(BaseModel):
    """A valid address has url, mailto and headers; an invalid one has error instead."""

    address: str
    normalized: str | None
    list_name: str | None = Field(None, alias="list")
    url: str | None = Field(None, description="The https one-click and confirmation page URL.")
    mailto: str | None = Field(None, description="null when the service has no mail domain to receive it.")
    headers: Headers | None = Field(None, description="Put both in the message, signed by DKIM.")
    error: Literal["invalid_address"] | None = Field(None, description="No link for this one.")


class LinksResult(BaseModel):
    results: list[Link]


@bp.post("/unsubscribe-links", responses={200: LinksResult, **UNSUPPORTED})
@read_only
@requires(Role.sender)
def unsubscribe_links(body: LinksBody):
    """For each recipient: the unsubscribe URL, the mailto address and the two headers (RFC 8058)."""
    if caller().account_suspended:
        raise AccountSuspended("this account is suspended and may not send; links already sent keep working")
    account_id = caller().account_id
    for list_name in {r.list_name for r in body.recipients if r.list_name is not None}:
        lists.Scope.of(account_id, list_name)  # 422 invalid_list before any link is made
    base, mailbox = _endpoints()
    return {"results": [_link(account_id, r, base, mailbox) for r in body.recipients]}


def _endpoints() -> tuple[str, str | None]:
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    host = urlsplit(base).hostname
    if not base.startswith("https://") and host not in LOCAL_HOSTS:
        # Gmail and Yahoo honour one-click only over https; say so where operators look.
        log.warning("PUBLIC_BASE_URL is not https: mailbox providers will not offer one-click unsubscribe")
    return base + "/u/", unsubscribe.mailbox()


def _link(account_id: int, recipient: Recipient, base: str, mailbox: str | None) -> dict:
    list_name = recipient.list_name.strip().lower() if recipient.list_name else None
    address = normalize(recipient.address)
    if address is None:
        return {"address": recipient.address, "normalized": None, "list": list_name, "error": "invalid_address"}
    token = tokens.sealer().seal(account_id, address, list_name)
    url = base + token
    # The token rides in the subject: a local part longer than 64 octets is refused by some MTAs.
    mailto = f"mailto:{mailbox}?subject=unsubscribe%20{token}" if mailbox else None
    listed = f"<{url}>, <{mailto}>" if mailto else f"<{url}>"
    return {"address": recipient.address, "normalized": address, "list": list_name, "url": url, "mailto": mailto,
            "headers": {"List-Unsubscribe": listed, "List-Unsubscribe-Post": ONE_CLICK}}
