"""Which dealer account a bounce or complaint belongs to.

In order of trust: the VERP return path the bounce came back to, the account header the
platform put in the original message, then the original's DKIM d= and From domains matched to
an account's sending domains. None: the event is kept unattributed.
"""
from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from suppression.db import db
from suppression.models import Account, AccountDomain
from workers.findings import Original


def account_for(original: Original, bounce_to: tuple[str, ...]) -> int | None:
    """The account id, or None when nothing in the message names an existing account."""
    for candidate in _verp(bounce_to + ((original.return_path,) if original.return_path else ())):
        if db.session.get(Account, candidate) is not None:
            return candidate
    header = (original.account_header or "").strip()
    if header.isdigit() and db.session.get(Account, int(header)) is not None:
        return int(header)
    for domain in (*original.dkim_domains, original.from_domain):
        if domain and (account_id := _by_domain(domain)) is not None:
            return account_id
    return None


def _verp(addresses: tuple[str, ...]) -> list[int]:
    pattern = re.compile(str(current_app.config["VERP_PATTERN"]))
    return [int(m.group("account")) for a in addresses if (m := pattern.search(a))]


def _by_domain(domain: str) -> int | None:
    """The account sending from `domain` or a parent of it (mail.dealer.example → dealer.example)."""
    labels = domain.strip().lower().rstrip(".").split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    found = db.session.execute(select(AccountDomain.domain, AccountDomain.account_id)
                               .where(AccountDomain.domain.in_(candidates))).all()
    by_domain = dict(found)
    return next((by_domain[c] for c in candidates if c in by_domain), None)
