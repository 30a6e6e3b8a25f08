"""The trust-and-safety console at /admin: server-rendered pages for staff users (people with a
password and, optionally, a second factor; not API keys)."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """The console's blueprint, with every page module's views on it."""
    from suppression.admin import accounts, alerts, auth, evidence, search, seeds  # noqa: F401  (their views)
    from suppression.admin.blueprint import bp
    app.register_blueprint(bp)
