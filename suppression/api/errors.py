"""The one place exceptions become the JSON error object: {"error": {code, message, details}}."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import BadRequest, HTTPException

from suppression import pages
from suppression.db import db
from suppression.errors import DomainError

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "invalid", 429: "rate_limited", 503: "unavailable"}


def error_response(status: int, code: str, message: str, details: object = None):
    """A JSON error response; a plain page for a recipient's request."""
    if pages.is_page_request():
        return pages.error_page(status, message)
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def validation_error(exc: ValidationError):
    """flask-openapi3's hook: pydantic errors as a 422 naming each bad field."""
    details = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()[:50]]
    return error_response(422, "invalid_request", "the request does not match the API schema", details)


def register(app: Flask) -> None:
    """Install the error handlers and the JSON body pre-check."""
    app.validation_error_callback = validation_error

    @app.before_request
    def reject_malformed_json():
        # get_json(silent=True) inside validation would turn bad JSON into a vague 422.
        if (request.method in ("POST", "PUT", "PATCH") and request.is_json and request.content_length != 0
                and not pages.is_page_request()):  # any body a mail client sends is an opt-out
            try:
                request.get_json()
            except BadRequest:
                raise DomainError("the request body is not valid JSON", code="malformed_json") from None

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return error_response(status, _HTTP_CODES.get(status, "error"), exc.description or exc.name)

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        # A race the domain checks could not see (two creates of one domain at once).
        db.session.rollback()
        return error_response(409, "conflict", "that conflicts with existing data; reload and retry")

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        db.session.rollback()
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return error_response(503, "unavailable", "the database is unavailable; retry shortly")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
