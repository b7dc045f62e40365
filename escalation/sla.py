"""Deadline arithmetic: the one place that turns a level into due times.

A level's windows count SLA time: wall time on a 24×7 level, working time of
its business calendar (escalation.calendars) on a business-hours level, in the
team's time zone. Time spent paused is added back to the resolve window, so
the deadline moves later by the SLA time the incident waited.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from common import sql
from escalation.calendars import ALWAYS, WorkingTime, zone
from escalation.models import BusinessCalendar, CalendarDay, SlaPolicy, WorkingHours

logger = logging.getLogger(__name__)

# PROCESS.md's table; used only when an administrator deleted a level's policy,
# so a deadline is never missing. The data migration seeds the same numbers.
DEFAULT_MINUTES = {
    "P0": (5, 120, 30),
    "P1": (15, 240, 30),
    "P2": (30, 480, 60),
    "P3": (120, 1440, 60),
}


@dataclass(frozen=True)
class Windows:
    respond: timedelta
    resolve: timedelta
    update: timedelta
    warning_percent: int = 80
    calendar_id: int | None = None  # None: 24×7

    @property
    def business_hours(self) -> bool:
        return self.calendar_id is not None


def _windows(severity: str, policy: SlaPolicy | None) -> Windows:
    """A level's windows from its policy, or PROCESS.md's table without one."""
    if policy is None:
        respond, resolve, update = DEFAULT_MINUTES[severity]
        warning, calendar_id = 80, None
    else:
        respond, resolve, update = (
            policy.respond_minutes,
            policy.resolve_minutes,
            policy.update_minutes,
        )
        warning, calendar_id = policy.warning_percent, policy.calendar_id
    return Windows(
        respond=timedelta(minutes=respond),
        resolve=timedelta(minutes=resolve),
        update=timedelta(minutes=update),
        warning_percent=warning,
        calendar_id=calendar_id,
    )


def windows_for(severity: str) -> Windows:
    return _windows(severity, SlaPolicy.objects.filter(severity=severity).first())


def all_windows() -> dict[str, Windows]:
    """Every level's windows, in one query."""
    policies = {p.severity: p for p in SlaPolicy.objects.all()}
    return {severity: _windows(severity, policies.get(severity)) for severity in DEFAULT_MINUTES}


def business_hours_levels() -> frozenset[str]:
    """The levels whose clocks run on a business calendar (one query, written out:
    every dashboard asks)."""
    found = sql.rows(
        f"SELECT {sql.column(SlaPolicy, 'severity')} FROM {sql.table(SlaPolicy)} "  # nosec B608
        f"WHERE {sql.column(SlaPolicy, 'calendar')} IS NOT NULL"
    )
    return frozenset(severity for (severity,) in found)


def working_time(calendar_id: int | None, time_zone: str = ""):
    """The clock of a level: ALWAYS (24×7) or the calendar's working time in `time_zone`
    (empty: the site's zone). Three small queries for a calendar, none for 24×7."""
    if calendar_id is None:
        return ALWAYS
    china_holidays = (
        BusinessCalendar.objects.filter(pk=calendar_id)
        .values_list("china_holidays", flat=True)
        .first()
    )
    weekly: dict[int, list] = {}
    for start, end, weekday in WorkingHours.objects.filter(calendar_id=calendar_id).values_list(
        "start", "end", "weekday"
    ):
        weekly.setdefault(weekday, []).append((start, end))
    days = CalendarDay.objects.filter(calendar_id=calendar_id)
    if not weekly:
        # A calendar without working hours would never fall due: count 24×7
        # rather than lose the deadline (as for a deleted policy).
        logger.warning("business calendar %s has no working hours: counting 24x7", calendar_id)
        return ALWAYS
    return WorkingTime(
        weekly={d: tuple(sorted(spans)) for d, spans in weekly.items()},
        extra={
            day: kind == CalendarDay.Kind.WORKDAY for day, kind in days.values_list("day", "kind")
        },
        china_holidays=bool(china_holidays),
        tz=zone(time_zone),
    )


def clock_for(severity: str, team) -> tuple[Windows, object]:
    """The level's windows and the clock they are counted on for `team`'s incidents."""
    w = windows_for(severity)
    return w, working_time(w.calendar_id, getattr(team, "time_zone", ""))


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime
    resolve_by: datetime
    next_update_by: datetime | None
    resolve_warn_by: datetime


def compute_deadlines(
    *,
    severity: str,
    received_at: datetime,
    update_clock_from: datetime | None,
    team=None,
    paused: Iterable[tuple[datetime, datetime]] = (),
    clock: tuple[Windows, object] | None = None,
    respond_paused: Iterable[tuple[datetime, datetime]] = (),
) -> Deadlines:
    """Respond and resolve run from `received_at`, the update clock from its last
    restart, all in the level's SLA time for `team`. `paused`: the (start, end)
    of each pause so far; their SLA time is added to the resolve window.
    `respond_paused`: the holds of the respond clock (a maintenance window's, before
    the acknowledgement), added to the respond window. `clock`:
    clock_for(severity, team), when the caller has looked it up already."""
    w, sla = clock or clock_for(severity, team)
    held = sum((sla.elapsed(start, end) for start, end in paused), timedelta(0))
    held_before_ack = sum((sla.elapsed(start, end) for start, end in respond_paused), timedelta(0))
    return Deadlines(
        respond_by=sla.add(received_at, w.respond + held_before_ack),
        resolve_by=sla.add(received_at, w.resolve + held),
        next_update_by=sla.add(update_clock_from, w.update) if update_clock_from else None,
        resolve_warn_by=sla.add(received_at, w.resolve * w.warning_percent / 100 + held),
    )
