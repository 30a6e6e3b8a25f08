"""The suppression service. Its domain modules (models, lists, accounts, events, audit,
counters, policy, tokens, unsubscribe) know nothing of HTTP, RQ or the classifiers; the
web layer (api/, pages/, web/, cli.py) sits on top, and suppression/app.py composes it all.
"""
from __future__ import annotations

from collections.abc import Mapping


def create_app(overrides: Mapping[str, object] | None = None):
    """The Flask app (suppression/app.py); `overrides` (tests) win over the environment.

    Imported here on first call, so that a worker importing a domain module does not load
    the web layer."""
    from suppression.app import create_app as build
    return build(overrides)


def create_worker_app(overrides: Mapping[str, object] | None = None):
    """The worker's app (suppression/app.py): the same settings, the workers' commands, no web layer."""
    from suppression.app import create_worker_app as build
    return build(overrides)
