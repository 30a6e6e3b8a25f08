"""Seeds (list, add, retire) and what the seed audit found, per account and per seed."""
from __future__ import annotations

from flask import render_template, request, url_for
from sqlalchemy import func, select

from seedlist import findings
from seedlist import seeds as seedlist
from suppression.admin import forms
from suppression.admin.blueprint import act, actor, admin_only, bp
from suppression.db import db
from suppression.errors import Invalid
from suppression.models import Account, Finding, Seed

PER_PAGE = 50
KINDS = {"": None, "monitor": "monitor", "trap": "trap", "optout": "optout"}
STATUSES = {"": None, "active": "active", "retired": "retired"}
SEVERITIES = {"": None, "info": "info", "warning": "warning", "critical": "critical"}


@bp.get("/seeds")
def seeds_page():
    """Seeds, newest first, filtered by kind and status; admins add and retire them here."""
    kind, status, page = forms.choice("kind", KINDS), forms.choice("status", STATUSES), forms.whole("page", 1, minimum=1)
    stmt = seedlist.query(kind, status)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Seed.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE))
    return render_template("admin/seeds.html", rows=[seedlist.view(s) for s in rows], total=total, page=page,
                           per_page=PER_PAGE, kind=kind or "", status=status or "", kinds=KINDS, statuses=STATUSES)


@bp.post("/seeds")
@admin_only
def add_seed():
    """Add a seed; its mailbox URL is sealed and never shown again."""
    form = request.form

    def change() -> str:
        if form.get("kind") not in ("monitor", "trap", "optout"):
            raise Invalid("choose a kind: monitor, trap or optout")
        seed = seedlist.create(seedlist.NewSeed(form.get("address", ""), form["kind"], form.get("provider") or "own",
                                                form.get("mailbox") or None), actor())
        return f"Seed #{seed.id} added ({seed.kind.value})."
    return act(change, url_for("admin.seeds_page"))


@bp.post("/seeds/<int:seed_id>/retire")
@admin_only
def retire_seed(seed_id: int):
    """Retire a seed, with a note for the audit trail."""
    def change() -> str:
        seed = seedlist.retire(seed_id, actor(), forms.note())
        return f"Seed #{seed.id} retired."
    return act(change, url_for("admin.seeds_page"))


@bp.get("/findings")
def findings_page():
    """The seed audit's findings, newest first, by account, seed, rule or severity."""
    account_id, seed_id = forms.whole("account_id"), forms.whole("seed_id")
    rule, severity = forms.text("rule", 40), forms.choice("severity", SEVERITIES)
    page = forms.whole("page", 1, minimum=1)
    stmt = findings.query(account_id, seed_id, rule or None, severity)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(db.session.scalars(stmt.order_by(Finding.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    return render_template("admin/findings.html", rows=rows, names=_names({r.account_id for r in rows}),
                           addresses=_addresses({r.seed_id for r in rows}), total=total, page=page,
                           per_page=PER_PAGE, args={"account_id": account_id or "", "seed_id": seed_id or "",
                                                    "rule": rule, "severity": severity or ""},
                           severities=SEVERITIES)


def _names(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    return dict(db.session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all()) if ids else {}


def _addresses(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    return dict(db.session.execute(select(Seed.id, Seed.address).where(Seed.id.in_(ids))).all()) if ids else {}
