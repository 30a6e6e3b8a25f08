"""The console's blueprint and what every one of its requests goes through: the staff user of
the session, CSRF on every form, roles, a plain error page, and headers that allow nothing
from anywhere else."""
from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import ValidationError, generate_csrf, validate_csrf

from suppression import staff
from suppression.db import commit, db
from suppression.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Unauthenticated,
)
from suppression.web import errors

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/assets")

# No script at all, no image, font or frame from anywhere; forms post only here. A hostile
# message shown in the evidence viewer has nothing it could run or load.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.login_post", "admin.static"})


class FormRefused(DomainError):
    http_status = 400
    code = "csrf_failed"


def error_page(status: int, code: str, message: str, details: object = None) -> Response:
    """The console's error page: what went wrong, and the way back."""
    try:
        body = render_template("admin/error.html", status=status, message=message)
    except Exception:  # the page of last resort must not fail in its turn
        return errors.plain_page(status, code, message)
    return Response(body, status, mimetype="text/html")


errors.install(bp, error_page)


@bp.before_request
def staff_of_session():
    """Load the session's staff user; refuse a form without this session's CSRF token."""
    g.staff = staff.active_user(session.get("staff_id"))
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError:
            raise FormRefused("This form has expired or did not come from this console. "
                              "Go back, reload the page and try again.") from None
    if g.staff is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.method == "GET":
            return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
        raise Unauthenticated("Your session has ended. Log in again.")
    return None


@bp.after_request
def console_headers(response: Response) -> Response:
    """Strict headers on every console response, errors included."""
    response.headers.update(HEADERS)
    return response


@bp.context_processor
def console_context() -> dict:
    """What every console template may use."""
    return {"csrf_token": generate_csrf, "current_staff": g.get("staff")}


def admin_only(view):
    """The view is an admin's (suspend, reinstate, close alerts, remove suppressions): 403 for an analyst."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not g.staff.is_admin:
            raise Forbidden("This needs an admin. Ask one, or have your role changed.")
        return view(*args, **kwargs)
    return guarded


def act(change: Callable[[], str], back: str) -> Response:
    """Make a staff change: committed and said (the message `change` returns), or refused with
    why (a missing note, an alert already closed), then back to the page at `back`."""
    try:
        done = change()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        commit()
        flash(done, "done")
    return redirect(back, 303)


def actor() -> str:
    """How the audit log names the staff member of this request."""
    return staff.actor(g.staff)


def safe_next(target: str | None) -> str:
    """Where to go after login: a console path of this site, never another site."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or target.startswith("//"):
        return url_for("admin.alerts_queue")
    return target
