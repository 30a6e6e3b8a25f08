"""Bounce and AUP thresholds as data; the rules that apply them are pure functions."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Policy:
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 14
    soft_bounce_suppress_days: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Policy":
        """Read each field from its upper-case environment variable, when set."""
        environ = os.environ if environ is None else environ
        values = {f.name: int(environ[f.name.upper()]) for f in fields(cls) if f.name.upper() in environ}
        return cls(**values)
