"""Logging in and out of the console."""
from __future__ import annotations

from flask import g, redirect, render_template, request, session, url_for

from suppression import staff
from suppression.admin.blueprint import bp, safe_next
from suppression.db import commit
from suppression.web import ratelimit

LOGIN_LIMIT = ("console_login", "LOGIN_FAILURE_LIMIT")


@bp.get("/login")
def login():
    """The login form."""
    if g.staff is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("admin/login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_post():
    """Check the credentials; a new session for the user, or the form again with one vague error."""
    ratelimit.refuse_when_spent(*LOGIN_LIMIT)
    form = request.form
    user = staff.authenticate(form.get("email", ""), form.get("password", ""), form.get("code"))
    commit()  # the login's audit entry, or the second-factor step it used up
    if user is None:
        ratelimit.count_failure(*LOGIN_LIMIT)
        return render_template("admin/login.html", next=form.get("next", ""), email=form.get("email", ""),
                               error="That address, password or code is not right."), 401
    session.clear()  # a fresh session (and CSRF token) for the new user: no fixation
    session.permanent = True
    session["staff_id"] = user.id
    return redirect(safe_next(form.get("next")))


@bp.post("/logout")
def logout():
    """End the session."""
    session.clear()
    return redirect(url_for("admin.login"))
