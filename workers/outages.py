"""Redis outages, as a worker sees them: which errors mean Redis is away, and how long to wait
before asking again."""
from __future__ import annotations

from redis.exceptions import ConnectionError, TimeoutError

# Refused, reset, timed out, or still loading its data after a restart (BusyLoadingError is a
# ConnectionError): Redis will be back, and the worker waits for it. Any other Redis error is a
# bug or a misconfiguration, and RQ's handling of it stands.
REDIS_AWAY = (ConnectionError, TimeoutError)

FIRST_PAUSE = 1.0  # seconds
LONGEST_PAUSE = 30.0


class Backoff:
    """Pauses of 1, 2, 4 ... and then 30 s while Redis stays away; from 1 s again once it answers."""

    def __init__(self) -> None:
        self.pause: float | None = None

    @property
    def waiting(self) -> bool:
        """Whether Redis has been away since the last `reset`."""
        return self.pause is not None

    def next(self) -> float:
        """Seconds to wait before the next try."""
        self.pause = FIRST_PAUSE if self.pause is None else min(self.pause * 2, LONGEST_PAUSE)
        return self.pause

    def reset(self) -> None:
        """Redis answered: the next outage starts again from the first pause."""
        self.pause = None
