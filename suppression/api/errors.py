"""Validation errors (pydantic, through flask-openapi3) as a 422 naming each bad field."""
from __future__ import annotations

from pydantic import ValidationError

from suppression.web.errors import json_error


def validation_error(exc: ValidationError):
    """flask-openapi3's hook: pydantic errors as a 422 naming each bad field."""
    details = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()[:50]]
    return json_error(422, "invalid_request", "the request does not match the API schema", details)
