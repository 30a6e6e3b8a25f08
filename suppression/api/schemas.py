"""Shapes shared by several endpoints, for validation and the OpenAPI document."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from suppression.db import MAX_SMALL_ID
from suppression.web.converters import MAX_ID

# The contract's batch and page limits (DESIGN.md), enforced by the request schemas and shown in
# the OpenAPI document. They are part of the API, not settings: a client written against one
# deployment must work against another.
MAX_CHECK_ADDRESSES = 10_000
MAX_LINK_RECIPIENTS = 10_000
MAX_SUPPRESSION_BATCH = 1_000
MAX_PAGE_SIZE = 1_000

# An id in a path, a parameter or a body: a positive 64-bit integer (BIGINT keys: events, alerts,
# suppressions, findings) ...
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# ... or 32-bit, for the INTEGER keys of accounts and seeds in parameters and bodies. In a path
# either is a 64-bit Id, and one past the key's range names nothing (a 404, as any unknown id).
SmallId = Annotated[int, Field(ge=1, le=MAX_SMALL_ID)]


class Strict(BaseModel):
    """A request's body, query or path: a field it does not know is a 422 naming it, never
    ignored (a typo of `list` would otherwise check against no list at all)."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="What went wrong, for programs: invalid_request, not_found, conflict, ...")
    message: str = Field(description="What went wrong, for people.")
    details: Any = Field(description="What is at fault, usually [{field, problem}]; null when nothing more to say.")


class Error(BaseModel):
    """The one shape of every error the API answers: {"error": {"code", "message", "details"}}."""

    error: ErrorBody


class Page(BaseModel):
    """A page of a list, newest first; its subclasses say what the items are."""

    next: int | None = Field(description="Pass as `before` for the next page; null on the last page.")


def error_response(description: str, retry_after: bool = False) -> dict:
    """An error status as the OpenAPI document shows it: the error object, and for a status a
    client should retry later, the Retry-After header it carries."""
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if retry_after:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait before asking again",
                                               "schema": {"type": "integer"}}}
    return response


def text_response(media_type: str, description: str = "OK") -> dict:
    """A success whose body is not JSON (CSV, a raw message, Prometheus text)."""
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


# The errors every operation can answer: a malformed body (400), a missing or unknown key (401),
# a key of another role or a suspended account (403), an unknown id (404), a body past its
# limit (413), a request that does not match the schema (422), too many requests (429) and an
# unavailable database (503). Error is a model here so that the document defines it; 429 and 503
# say when to come back.
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 413: Error, 422: Error,
          429: error_response("Too many requests", retry_after=True),
          503: error_response("The database is unavailable; retry shortly", retry_after=True)}
# What some operations answer besides: a state that does not allow the change, or a write that
# raced another (409); a request body of a type the operation does not read (415).
CONFLICT = {409: Error}
UNSUPPORTED = {415: Error}
