"""The HTTP API: one blueprint per resource, errors mapped in one place."""
from __future__ import annotations

from flask_openapi3 import OpenAPI


def register(app: OpenAPI) -> None:
    """Register blueprints, error handlers and the OpenAPI document at /openapi.json."""
    from suppression.api import (
        accounts,
        check,
        errors,
        inbound,
        links,
        ops,
        suppressions,
    )
    errors.register(app)
    for module in (check, suppressions, links, inbound, accounts, ops):
        app.register_api(module.bp)
    app.add_url_rule("/openapi.json", "openapi_json", lambda: app.api_doc)
