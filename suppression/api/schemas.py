"""Shapes shared by several endpoints, for validation and the OpenAPI document."""
from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object = None


class Error(BaseModel):
    error: ErrorBody


ERRORS = {status: Error for status in (400, 401, 403, 404, 413, 422, 429)}
