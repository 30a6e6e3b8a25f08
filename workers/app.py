"""The app a worker's jobs run in: the worker's own (set up once before work starts), or one
built from the environment for a plain `rq worker`."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from functools import lru_cache

from flask import Flask, has_app_context


@lru_cache(maxsize=1)
def _app_from_environment() -> Flask:
    from suppression import create_app
    return create_app()


@contextmanager
def app_context():
    """The current app context if there is one, else one of the app built from the environment."""
    context = nullcontext() if has_app_context() else _app_from_environment().app_context()
    with context:
        yield
