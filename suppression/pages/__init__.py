"""Recipient pages at /u/<token>: confirm (no change), unsubscribe (one-click or form), undo.

No cookies, no sessions, no CSRF token and never a redirect (RFC 8058): the token is the
authority. GET and HEAD change nothing, because mail scanners follow links.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from suppression import ratelimit, tokens, unsubscribe
from suppression.db import db
from suppression.errors import DomainError
from suppression.models import Account
from suppression.unsubscribe import Choice, Source

bp = Blueprint("pages", __name__, url_prefix="/u", template_folder="templates",
               static_folder="static", static_url_path="/assets")

PREFIX = "/u/"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


class BadLink(DomainError):
    status = 400
    code = "bad_link"


def register(app: Flask) -> None:
    """The recipient blueprint, and its headers on every /u/ response (errors included)."""
    app.register_blueprint(bp)
    ratelimit.limit_blueprint(app, bp, "UNSUBSCRIBE_RATE_LIMIT")

    @app.after_request
    def page_headers(response: Response) -> Response:
        if is_page_request():
            response.headers.update(HEADERS)
        return response


def is_page_request() -> bool:
    """Is this request a recipient's (plain pages for errors, never JSON)?"""
    return request.path.startswith(PREFIX)


def error_page(status: int, message: str) -> Response:
    """A plain page that says what went wrong and nothing more."""
    return Response(render_template("pages/error.html", status=status, message=message), status,
                    mimetype="text/html")


@bp.get("/<token>")
def confirm(token: str):
    """The confirmation page; it changes nothing."""
    claims, dealer = _open(token)
    return _confirm_page(token, claims, dealer)


@bp.post("/<token>")
def unsubscribe_post(token: str):
    """RFC 8058 one-click (any body, even none), or the page's form with a chosen scope."""
    claims, dealer = _open(token)
    chosen = _form().get("scope")
    source = Source.one_click if chosen is None else Source.page
    choice = Choice(chosen) if chosen in {c.value for c in Choice} else Choice.this
    outcome = unsubscribe.unsubscribe(claims, tokens.token_id(token), choice, source)
    db.session.commit()
    return render_template("pages/done.html", token=token, masked=mask(claims.address),
                           what=_what(outcome.scope, claims, dealer))


@bp.post("/<token>/resubscribe")
def resubscribe(token: str):
    """Undo what this link did; other opt-outs stay."""
    claims, dealer = _open(token)
    removed = unsubscribe.resubscribe(claims, tokens.token_id(token))
    db.session.commit()
    if removed:
        notice = f"Done: you will get mail from {dealer.name} again."
    else:
        notice = "Nothing to undo: this link has not unsubscribed you from anything."
    return _confirm_page(token, claims, dealer, notice)


def _open(token: str) -> tuple[tokens.Claims, Account]:
    try:
        claims = tokens.sealer().open(token)
    except tokens.BadToken:
        ratelimit.count_failure("token", "BAD_TOKEN_LIMIT")
        raise BadLink(_BAD_LINK) from None
    dealer = db.session.get(Account, claims.account_id)
    if dealer is None:
        raise BadLink(_BAD_LINK)
    return claims, dealer


_BAD_LINK = ("This unsubscribe link is not valid. If you copied it from an email, check that you "
             "copied all of it, or use the unsubscribe link in a newer email.")


def _form():
    # Whatever the client sent, a POST here is an opt-out: an unreadable body is an empty one.
    try:
        return request.form
    except (HTTPException, ValueError):
        return {}


def _confirm_page(token: str, claims: tokens.Claims, dealer: Account, notice: str | None = None) -> str:
    return render_template("pages/confirm.html", token=token, masked=mask(claims.address), dealer=dealer.name,
                           list_name=claims.list_name, notice=notice)


def _what(scope: str, claims: tokens.Claims, dealer: Account) -> str:
    if scope == "global":
        return "from any dealer on this platform"
    if scope == "list":
        return f"from the “{claims.list_name}” list of {dealer.name}"
    return f"from {dealer.name}"


def mask(address: str) -> str:
    """j***@example.com: enough for the owner to recognise, too little for anyone else."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
