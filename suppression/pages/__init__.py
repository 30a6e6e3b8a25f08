"""Recipient pages at /u/<token>: confirm (no change), unsubscribe (one-click or form), undo.

No cookies, no sessions, no CSRF token and never a redirect (RFC 8058): the token is the
authority. GET and HEAD change nothing, because mail scanners follow links.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from suppression import tokens, unsubscribe
from suppression.db import autocommit, commit, db
from suppression.errors import DomainError
from suppression.unsubscribe import Choice, Source
from suppression.web import bodies, errors, ratelimit

bp = Blueprint("pages", __name__, url_prefix="/u", template_folder="templates",
               static_folder="static", static_url_path="/assets")

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


ONE_CLICK_DONE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Unsubscribed</title>"
                  "<p>You are unsubscribed.</p></html>")


class BadLink(DomainError):
    http_status = 400
    code = "bad_link"


def register(app: Flask) -> None:
    """The recipient blueprint."""
    app.register_blueprint(bp)
    # Page views are flood-limited; POSTs never are: a refused one-click is a lost opt-out (mail
    # clients do not retry), a valid token's POST is idempotent, and bad tokens have their own limit.
    ratelimit.limit_blueprint(app, bp, "UNSUBSCRIBE_RATE_LIMIT", exempt_when=lambda: request.method == "POST")


def error_page(status: int, code: str, message: str, details: object = None) -> Response:
    """A plain page that says what went wrong and nothing more: recipients never see JSON."""
    return Response(render_template("pages/error.html", status=status, message=message), status,
                    mimetype="text/html")


errors.install(bp, error_page)


@bp.after_request
def page_headers(response: Response) -> Response:
    """No caching, no referrer, no framing, no scripts: on every page, errors included."""
    response.headers.update(HEADERS)
    return response


@bp.get("/<token>")
def confirm(token: str):
    """The confirmation page; it changes nothing."""
    autocommit()  # only reads: no transaction
    claims = _open(token)
    return _confirm_page(token, claims, _dealer(claims))


@bp.post("/<token>")
def unsubscribe_post(token: str):
    """RFC 8058 one-click (any body, even none), or the page's form with a chosen scope."""
    claims = _open(token)
    chosen = _chosen_scope()
    source = Source.one_click if chosen is None else Source.page
    choice = Choice(chosen) if chosen in {c.value for c in Choice} else Choice.this
    outcome = unsubscribe.unsubscribe(claims, tokens.token_id(token), choice, source, standalone=True)
    if outcome is None:
        raise BadLink(_BAD_LINK)
    commit()  # nothing, when the one-statement path wrote it on its own connection
    if source == Source.one_click:  # read by a mail client, not a person: no page to render
        return Response(ONE_CLICK_DONE, mimetype="text/html")
    return render_template("pages/done.html", token=token, masked=mask(claims.address),
                           what=_what(outcome.scope, claims, outcome.dealer))


@bp.post("/<token>/resubscribe")
def resubscribe(token: str):
    """Undo what this link did; other opt-outs stay."""
    claims = _open(token)
    dealer = _dealer(claims)
    removed = unsubscribe.resubscribe(claims, tokens.token_id(token))
    db.session.commit()
    if removed:
        notice = f"Done: you will get mail {_undone(removed, claims, dealer)} again."
    else:
        notice = "Nothing to undo: this link has not unsubscribed you from anything."
    return _confirm_page(token, claims, dealer, notice)


def _open(token: str) -> tokens.Claims:
    try:
        return tokens.sealer().open(token)
    except tokens.BadToken:
        ratelimit.count_failure("token", "BAD_TOKEN_LIMIT")
        raise BadLink(_BAD_LINK) from None


def _dealer(claims: tokens.Claims) -> str:
    name = unsubscribe.dealer_name(claims.account_id)
    if name is None:  # a link from another installation, or an account since deleted
        raise BadLink(_BAD_LINK)
    return name


_BAD_LINK = ("This unsubscribe link is not valid. If you copied it from an email, check that you "
             "copied all of it, or use the unsubscribe link in a newer email.")


def _chosen_scope() -> str | None:
    """The page form's `scope`; None for a one-click POST, whatever its body."""
    # Whatever the client sent, a POST here is an opt-out: an unreadable body is an empty one.
    try:
        if request.mimetype == "application/x-www-form-urlencoded":
            # A few bytes: parsed directly, at a third of the cost of the general form parser.
            values = parse_qs(bodies.whole(request.max_content_length).decode("utf-8", "replace"))
            return values.get("scope", [None])[0]
        return request.form.get("scope")
    except (HTTPException, ValueError, DomainError):  # a cut-off form chooses nothing wider
        return None


def _confirm_page(token: str, claims: tokens.Claims, dealer: str, notice: str | None = None) -> str:
    return render_template("pages/confirm.html", token=token, masked=mask(claims.address), dealer=dealer,
                           list_name=claims.list_name, notice=notice)


def _what(scope: str, claims: tokens.Claims, dealer: str) -> str:
    if scope == "global":
        return "from any dealer on this platform"
    if scope == "list":
        return f"from the “{claims.list_name}” list of {dealer}"
    return f"from {dealer}"


# The scopes an undo can remove, narrowest first: one link can have made several (its list, then
# the whole dealer, say), and the notice names each of them.
_UNDO_ORDER = ("list", "account", "global")


def _undone(removed: list[str], claims: tokens.Claims, dealer: str) -> str:
    """What an undo restored, in words: the list of that dealer, that dealer, every dealer."""
    return " and ".join(_what(scope, claims, dealer) for scope in _UNDO_ORDER if scope in removed)


def mask(address: str) -> str:
    """j***@example.com: enough for the owner to recognise, too little for anyone else."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
