"""Shapes shared by several endpoints, for validation and the OpenAPI document."""
from __future__ import annotations

from pydantic import BaseModel

# The contract's batch and page limits (DESIGN.md), enforced by the request schemas and shown in
# the OpenAPI document. They are part of the API, not settings: a client written against one
# deployment must work against another.
MAX_CHECK_ADDRESSES = 10_000
MAX_LINK_RECIPIENTS = 10_000
MAX_SUPPRESSION_BATCH = 1_000
MAX_PAGE_SIZE = 1_000


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object = None


class Error(BaseModel):
    error: ErrorBody


ERRORS = {status: Error for status in (400, 401, 403, 404, 413, 422, 429)}
