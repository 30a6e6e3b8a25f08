"""Address search across every scope, and removal of an entry by an admin, with a reason."""
from __future__ import annotations

from flask import render_template, request, url_for

from suppression import lists
from suppression.admin import forms
from suppression.admin.blueprint import act, actor, admin_only, bp
from suppression.db import db
from suppression.models import Account


@bp.get("/search")
def search():
    """Every suppression of an address: global, each dealer's, each list's, with reason, source and evidence."""
    address = forms.text("address")
    rows = lists.everywhere(address) if address else []
    names = _account_names({row.account_id for row in rows if row.account_id is not None})
    return render_template("admin/search.html", address=address, rows=rows, names=names)


@bp.post("/suppressions/<int:suppression_id>/remove")
@admin_only
def remove_suppression(suppression_id: int):
    """Delete one entry (admins), with the reason in the audit trail."""
    row = lists.entry(suppression_id)

    def change() -> str:
        lists.remove(lists.Scope.of(row.account_id, row.list_name), row.address, actor(), by_staff=True,
                     reason=forms.note())
        return f"Removed the {row.scope} entry ({row.reason.value})."
    return act(change, url_for("admin.search", address=request.form.get("address", row.address)))


def _account_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(db.select(Account.id, Account.name).where(Account.id.in_(ids))).all())
