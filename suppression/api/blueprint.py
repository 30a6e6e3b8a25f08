"""The API's blueprints: each checks the caller's key, then the JSON body, before a view runs,
and shows every error as the JSON error object."""
from __future__ import annotations

from functools import cache
from typing import get_type_hints

from flask import current_app, request
from flask_openapi3 import APIBlueprint, OpenAPI, Tag
from flask_openapi3.utils import parse_parameters
from werkzeug.exceptions import BadRequest

from suppression.api import auth
from suppression.api.schemas import ERRORS
from suppression.errors import DomainError, Invalid
from suppression.web import errors


class DeferredDocBlueprint(APIBlueprint):
    """An APIBlueprint that writes its views' OpenAPI description when the document is first
    asked for (see describe), not when each view is declared: the JSON schemas of the models
    were a third of the start-up of every process that loads the app, the worker's included."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._undescribed: list[tuple[str, object, dict]] = []

    def _collect_openapi_info(self, rule, func, **kwargs):
        self._undescribed.append((rule, func, kwargs))
        return parse_parameters(func, doc_ui=False)  # the same models, without their schemas

    def describe(self, app: OpenAPI) -> None:
        """Write the pending descriptions, then add them to the app's as register_api would have."""
        undescribed, self._undescribed = self._undescribed, []
        for rule, func, kwargs in undescribed:
            super()._collect_openapi_info(rule, func, **kwargs)
        for tag in self.tags:
            if tag.name not in app.tag_names:
                app.tags.append(tag)
                app.tag_names.append(tag.name)
        app.paths.update(**self.paths)
        app.components_schemas.update(**self.components_schemas)


def api_blueprint(name: str, import_name: str, tag: str, *, url_prefix: str = "/v1",
                  bearer: bool = True) -> DeferredDocBlueprint:
    """A blueprint of the API; its views declare their callers (auth.requires or auth.public)."""
    bp = DeferredDocBlueprint(name, import_name, url_prefix=url_prefix, abp_tags=[Tag(name=tag)],
                      abp_security=[{"bearer": []}] if bearer else None, abp_responses=ERRORS)
    bp.before_request(auth.before_view)
    bp.before_request(reject_unknown_parameters)
    bp.before_request(reject_malformed_json)
    errors.install(bp, errors.json_error)
    return bp


def reject_malformed_json() -> None:
    """400 for a body that says it is JSON and is not (validation would make it a vague 422).
    An upload view refuses any JSON body itself, as the wrong type (415)."""
    if getattr(current_app.view_functions.get(request.endpoint), "takes_upload", False):
        return
    if request.method in ("POST", "PUT", "PATCH") and request.is_json and request.content_length != 0:
        try:
            request.get_json()
        except BadRequest:
            raise DomainError("the request body is not valid JSON", code="malformed_json") from None


def takes_query(*names: str):
    """Declare the query parameters a view reads by hand (without a query model)."""
    def declare(view):
        view.query_parameters = frozenset(names)
        return view
    return declare


def reject_unknown_parameters() -> None:
    """422 naming each query parameter the view does not take: a misspelt filter must not be
    ignored (an export of the wrong list, a staff add to the global list)."""
    unknown = sorted(set(request.args) - _parameters(request.endpoint))
    if unknown:
        raise Invalid(f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                      code="unknown_parameter",
                      details=[{"field": name, "problem": "not a parameter of this endpoint"} for name in unknown])


@cache
def _parameters(endpoint: str) -> frozenset[str]:
    view = current_app.view_functions[endpoint]
    model = get_type_hints(getattr(view, "__wrapped__", view)).get("query")
    names = set(getattr(view, "query_parameters", ()))
    if model is not None:
        names |= {field.alias or name for name, field in model.model_fields.items()}
    return frozenset(names)
