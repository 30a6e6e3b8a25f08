"""Shapes shared by several endpoints, for validation and the OpenAPI document."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from suppression.web.converters import (
    MAX_ID,  # a larger id names nothing: 404 in a path, 422 elsewhere
)

# The contract's batch and page limits (DESIGN.md), enforced by the request schemas and shown in
# the OpenAPI document. They are part of the API, not settings: a client written against one
# deployment must work against another.
MAX_CHECK_ADDRESSES = 10_000
MAX_LINK_RECIPIENTS = 10_000
MAX_SUPPRESSION_BATCH = 1_000
MAX_PAGE_SIZE = 1_000

# An id in a path, a parameter or a body: a positive 64-bit integer.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    """A request's body, query or path: a field it does not know is a 422 naming it, never
    ignored (a typo of `list` would otherwise check against no list at all)."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object = None


class Error(BaseModel):
    error: ErrorBody


ERRORS = {status: Error for status in (400, 401, 403, 404, 413, 422, 429)}
