"""The one place services read the time from.

`now()` is `django.utils.timezone.now()` unless a block runs under `frozen()`,
which lets `seed_demo` write realistic histories (events that happened hours
ago) through the ordinary services instead of faking rows. Tests move the
clock with time-machine, which this respects.
"""

import contextlib
import contextvars
import zoneinfo
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

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


def duration_text(value: timedelta | None) -> str:
    """A duration as teams say it: "5 min", "2 h", "1 h 30 min" (whole minutes,
    never negative); the one formatter of pages, notices and goals."""
    if value is None:
        return "—"
    minutes = max(0, int(value.total_seconds() // 60))
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}
    if hours:
        return _("%(h)s h") % {"h": hours}
    return _("%(m)s min") % {"m": minutes}


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The time zone called `name`, or None if it is empty or unknown."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
