"""orjson for request and response bodies: a 10,000-address check is mostly JSON work."""
from __future__ import annotations

import enum
import json

import orjson
from flask.json.provider import JSONProvider


def _default(value):
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _dumps(obj) -> bytes:
    try:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        return json.dumps(obj, default=_default).encode()


class OrjsonProvider(JSONProvider):
    def dumps(self, obj, **kwargs) -> str:
        return _dumps(obj).decode()

    def loads(self, s: str | bytes, **kwargs):
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            # Valid JSON orjson cannot hold (huge integers) still parses; bad JSON still raises.
            return json.loads(s)

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(_dumps(obj), mimetype="application/json")
