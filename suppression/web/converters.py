"""URL converters shared by the web surfaces."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1  # ids are BIGINT


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a positive integer that fits the ids' BIGINT. A larger one
    matches no route, so it is a 404 like any id that names nothing, never a database error."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False):
        super().__init__(map, fixed_digits, 1 if min is None else min, MAX_ID if max is None else max, signed)


def init_app(app) -> None:
    app.url_map.converters["int"] = IdConverter
