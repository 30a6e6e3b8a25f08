"""The HTTP API: one blueprint per resource (api/blueprint.py gives each its key check and
JSON errors), and the OpenAPI document at /openapi.json."""
from __future__ import annotations

from flask_openapi3 import OpenAPI


def register(app: OpenAPI) -> None:
    """Register the blueprints and the OpenAPI document; refuse a view that declares no callers."""
    from suppression.api import (
        accounts,
        alerts,
        auth,
        check,
        errors,
        inbound,
        links,
        metrics,
        ops,
        seeds,
        sends,
        suppressions,
    )
    app.validation_error_callback = errors.validation_error
    modules = (check, suppressions, links, sends, inbound, accounts, alerts, seeds, ops, metrics)
    blueprints = [module.bp for module in modules]
    for bp in blueprints:
        app.register_api(bp)
    if missing := auth.undeclared(app, {bp.name for bp in blueprints}):
        raise RuntimeError(f"API views without auth.requires or auth.public: {', '.join(missing)}")
    metrics.init_app(app)
    generate = app.generate_spec_json

    def generate_described() -> None:  # the document, on first request: see blueprint.DeferredDocBlueprint
        for bp in blueprints:
            bp.describe(app)
        generate()

    app.generate_spec_json = generate_described
    app.add_url_rule("/openapi.json", "openapi_json", lambda: app.api_doc)
