"""The one place services read the time from.

`now()` is `django.utils.timezone.now()` unless a block runs under `frozen()`,
which lets `seed_demo` write realistic histories (events that happened hours
ago) through the ordinary services instead of faking rows. Tests move the
clock with time-machine, which this respects.
"""

import contextlib
import contextvars
import zoneinfo
from datetime import UTC, datetime, timedelta

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
    never negative), "under a minute" below one (a notice sent seconds after its
    deadline is not "overdue by 0 min"); the one formatter of pages, notices and goals."""
    if value is None:
        return "—"
    minutes = max(0, int(value.total_seconds() // 60))
    if not minutes:
        return _("under a minute")
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


def local_instant(day, at, zone) -> datetime:
    """`day` at wall-clock time `at` in `zone`, as a UTC instant.

    A time the clocks skip (the hour lost when summer time begins) means the
    first instant after the gap: 02:30 on a night that jumps from 02:00 to
    03:00 is 03:00. A time that happens twice (the hour repeated when summer
    time ends) means its first occurrence.
    """
    return resolve_local(datetime.combine(day, at), zone)[0]


def resolve_local(naive: datetime, zone) -> tuple[datetime, str]:
    """A wall-clock time in `zone` as a UTC instant, and what was made of it:
    "" (it exists once), "repeated" (its first occurrence was taken) or
    "skipped" (the first instant after the gap was taken)."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC), ""
    early, late = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    if early.astimezone(zone).replace(tzinfo=None) == naive:
        return early, "repeated"
    # In a gap, fold=0 reads the time with the offset before the change and
    # fold=1 with the one after: the change itself lies between the two.
    after = late.astimezone(zone).utcoffset()
    while late - early > timedelta(seconds=1):
        middle = early + (late - early) / 2
        if middle.astimezone(zone).utcoffset() == after:
            late = middle
        else:
            early = middle
    return late.replace(microsecond=0), "skipped"
