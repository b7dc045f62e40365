"""The one place services read the time from.

`now()` is `django.utils.timezone.now()` unless a block runs under `frozen()`,
which lets `seed_demo` write realistic histories (events that happened hours
ago) through the ordinary services instead of faking rows. Tests move the
clock with time-machine, which this respects.
"""

import contextlib
import contextvars
from datetime import datetime

from django.utils import timezone

_override: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "clock_override", default=None
)


def now() -> datetime:
    return _override.get() or timezone.now()


@contextlib.contextmanager
def frozen(at: datetime):
    if timezone.is_naive(at):
        raise ValueError("frozen() needs an aware datetime")
    token = _override.set(at)
    try:
        yield at
    finally:
        _override.reset(token)
