"""When a maintenance window runs: its occurrences, in UTC.

A one-off window has one occurrence, `starts_at` → `ends_at`. A recurring one
expands its RFC 5545 RRULE (python-dateutil) in the team's time zone: the rule
starts at `starts_at`'s wall-clock time there, each occurrence is that wall time
on its day (a time skipped by a DST change means the first instant after the
gap, common.clock), lasts `duration_minutes`, and with a calendar is kept only on
China's working days or only on its rest days (调休 included). An occurrence
ended early by hand stops at `ended_at`.
"""

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from dateutil.rrule import rrule, rrulestr
from django.conf import settings
from django.utils.translation import gettext as _

from common import clock
from escalation import deadlines
from incidents.models import MaintenanceWindow

# Rules are stepped through from their first occurrence (dateutil has no other
# way): bound the work one question may do, and refuse rules finer than hourly.
# A rule is never expanded further than HORIZON past what is asked (dateutil
# would otherwise search to year 9999 for an occurrence that never comes).
MAX_STEPS = 200_000
MAX_OCCURRENCES = 1_000
HORIZON = timedelta(days=3653)
ALLOWED_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")

Occurrence = tuple[datetime, datetime]


class RuleError(ValueError):
    """The recurrence text is not a rule we accept (the message says why)."""


def team_zone(team):
    """The zone the team's windows are computed in (empty: the site's)."""
    return clock.zone_named(team.time_zone) or clock.zone_named(settings.TIME_ZONE) or UTC


def parse_rule(text: str, starts_at: datetime, zone) -> rrule:
    """The RRULE `text` anchored at `starts_at`'s wall time in `zone`.

    Raises RuleError: not one RRULE line, a DTSTART inside (starts_at is the
    start), a frequency finer than hourly, or anything dateutil refuses. An UNTIL
    given in UTC ("…Z") is read as that instant's wall time in the zone.
    """
    text = (text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or "\n" in text or ":" in text:
        raise RuleError(_("Give one RRULE, e.g. FREQ=WEEKLY;BYDAY=TU."))
    parts = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise RuleError(_("“%(part)s” is not NAME=VALUE.") % {"part": part})
        parts[name.strip().upper()] = value.strip()
    if "DTSTART" in parts:
        raise RuleError(_("Leave DTSTART out: the window's start time is the rule's start."))
    if parts.get("FREQ", "").upper() not in ALLOWED_FREQUENCIES:
        raise RuleError(
            _("FREQ must be one of %(allowed)s.") % {"allowed": ", ".join(ALLOWED_FREQUENCIES)}
        )
    until = parts.get("UNTIL", "")
    if until.upper().endswith("Z"):
        parts["UNTIL"] = _utc_until_as_wall(until, zone)
    anchor = starts_at.astimezone(zone).replace(tzinfo=None)
    try:
        rule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=anchor)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise RuleError(_("Not a valid RRULE: %(error)s") % {"error": exc}) from exc
    if not isinstance(rule, rrule):
        raise RuleError(_("Give one RRULE, e.g. FREQ=WEEKLY;BYDAY=TU."))
    return rule


def check_rule(rule: rrule, starts_at: datetime, zone) -> None:
    """Refuse a rule with no occurrence within ten years of its start, or whose
    COUNT reaches further (RuleError): expanding either would search for years."""
    anchor = starts_at.astimezone(zone).replace(tzinfo=None)
    count = rule._count  # dateutil keeps the parsed parts on the rule
    until = min(filter(None, (rule._until, anchor + HORIZON)))
    capped = rule.replace(count=None, until=until)
    found = 0
    for found, _wall in enumerate(capped, start=1):
        if count is None or found >= count:
            break
    if not found:
        raise RuleError(_("The rule gives no occurrence within ten years of the start."))
    if count is not None and found < count:
        raise RuleError(_("COUNT reaches beyond ten years from the start; use UNTIL."))


def bounded(rule: rrule, horizon: datetime, zone) -> rrule:
    """`rule`, expanded no further than `horizon` (a COUNT rule ends by itself)."""
    if rule._count is not None:
        return rule
    wall = horizon.astimezone(zone).replace(tzinfo=None)
    if rule._until is not None and rule._until <= wall:
        return rule
    return rule.replace(until=wall)


def _utc_until_as_wall(value: str, zone) -> str:
    match = re.fullmatch(r"(\d{8})(?:T(\d{6}))?Z", value.upper())
    if not match:
        raise RuleError(_("UNTIL must look like 20261231T235959Z."))
    try:
        instant = datetime.strptime(match[1] + (match[2] or "000000"), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise RuleError(_("Not a valid RRULE: %(error)s") % {"error": exc}) from exc
    try:
        wall = instant.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        wall = datetime.max.replace(microsecond=0)  # the end of time, in any zone
    return wall.strftime("%Y%m%dT%H%M%S")


def kept_by_calendar(calendar: str, day: date) -> bool:
    """Whether an occurrence starting on `day` (team zone) runs under `calendar`.

    For a year the holiday library does not know, Monday–Friday are the working
    days (the best guess; /healthz warns about such years)."""
    if not calendar:
        return True
    working = deadlines.china_working_day(day)
    if working is None:
        working = day.weekday() < 5
    return working if calendar == MaintenanceWindow.Calendar.WORKDAYS else not working


def iter_occurrences(
    window: MaintenanceWindow, since: datetime, until: datetime | None = None
) -> Iterator[Occurrence]:
    """Occurrences still running at or starting after `since`, in order, none
    starting after `until` (default: ten years after `since`)."""
    if not window.recurrence:
        if window.ends_at is None:
            return
        end = window.ends_at
        if window.ended_at is not None:
            end = min(end, window.ended_at)
        if end > since and end > window.starts_at:
            yield window.starts_at, end
        return
    zone = team_zone(window.team)
    duration = timedelta(minutes=window.duration_minutes or 0)
    if duration <= timedelta(0):
        return
    try:
        rule = parse_rule(window.recurrence, window.starts_at, zone)
    except RuleError:
        return
    rule = bounded(rule, until or since + HORIZON, zone)
    # A day of slack either side of the wall-clock bound covers any UTC offset.
    lowest = (since - duration).astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    given = 0
    for steps, wall in enumerate(rule):
        if steps >= MAX_STEPS or given >= MAX_OCCURRENCES:
            return
        if wall < lowest or not kept_by_calendar(window.calendar, wall.date()):
            continue
        start = clock.resolve_local(wall, zone)[0]
        end = start + duration
        if window.ended_occurrence is not None and window.ended_occurrence == start:
            end = min(end, window.ended_at or end)
        if end <= since or end <= start:
            continue
        given += 1
        yield start, end


def occurrences(window: MaintenanceWindow, since: datetime, until: datetime) -> list[Occurrence]:
    """The window's occurrences overlapping [since, until), as UTC (start, end)."""
    found = []
    for start, end in iter_occurrences(window, since, until + timedelta(days=1)):
        if start >= until:
            break
        found.append((start.astimezone(UTC), end.astimezone(UTC)))
    return found


def current_occurrence(window: MaintenanceWindow, at: datetime) -> Occurrence | None:
    """The occurrence running at `at` (start ≤ at < end), if any."""
    running = occurrences(window, at, at + timedelta(microseconds=1))
    return running[0] if running else None


def is_active(window: MaintenanceWindow, at: datetime) -> bool:
    return current_occurrence(window, at) is not None


def next_occurrences(window: MaintenanceWindow, at: datetime, n: int = 5) -> list[datetime]:
    """The starts of the next `n` occurrences after `at` (UTC)."""
    starts = []
    for start, _end in iter_occurrences(window, at):
        if start > at:
            starts.append(start.astimezone(UTC))
            if len(starts) >= n:
                break
    return starts
