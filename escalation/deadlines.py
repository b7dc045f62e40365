"""Deadlines as data: keep one Deadline row per running clock of an incident.

`sync(incident)` is called by the incident services in the same transaction
as every change that can move a clock (intake, acknowledge, regrade, progress,
verification, reopen, cancel...). It works out which clocks should be running
and when they fall due, and writes only what changed; the sweep then reads
nothing but the rows whose next notice is due.
"""

from datetime import datetime, timedelta

from django.conf import settings

from escalation import notices
from escalation.calendars import ALWAYS
from escalation.models import ONE_SHOT_CLOCKS, Clock, Deadline, LadderStep
from escalation.sla import Windows, clock_for, windows_for
from incidents.models import Incident


def ladder() -> dict[str, list[LadderStep]]:
    """The escalation ladder: clock → its steps by level."""
    steps: dict[str, list[LadderStep]] = {}
    for step in LadderStep.objects.order_by("clock", "level"):
        steps.setdefault(step.clock, []).append(step)
    return steps


def level_due(due_at: datetime, step: LadderStep, sla=ALWAYS) -> datetime:
    """When `step` falls due: its minutes after the deadline, in the level's SLA time
    (a business-hours level escalates in working time too)."""
    return sla.add(due_at, timedelta(minutes=step.after_minutes))


def step_time(due_at: datetime, steps: list[LadderStep], level: int, sla=ALWAYS) -> datetime | None:
    """When level `level` of a clock falls due; None past the last level."""
    for step in steps:
        if step.level >= level:
            return level_due(due_at, step, sla)
    return None


def desired(incident: Incident, windows: Windows | None = None) -> dict[str, tuple[datetime, int]]:
    """Clock → (deadline, cycle) for every clock that should be running now.

    `windows`: the incident level's SLA windows, when the caller has them already.
    """
    want: dict[str, tuple[datetime, int]] = {}
    if incident.respond_clock_running:
        want[Clock.RESPOND] = (incident.respond_by, 0)
    if incident.resolve_clock_running:
        # A reopen starts a new cycle: the notices of the first one were sent.
        want[Clock.RESOLVE] = (incident.resolve_by, incident.reopen_count)
        warn_at = incident.resolve_warn_by
        if warn_at is None:  # written before the warning time was kept
            windows = windows or windows_for(incident.severity)
            warn_at = incident.received_at + windows.resolve * windows.warning_percent / 100
        want[Clock.WARNING] = (warn_at, incident.reopen_count)
    if incident.paused_at is not None and incident.is_open:
        # A pause longer than the limit tells the tech leads, once per pause.
        limit = timedelta(hours=settings.SLA_PAUSE_LIMIT_HOURS)
        want[Clock.PAUSE] = (incident.paused_at + limit, int(incident.paused_at.timestamp()))
    if incident.update_clock_running:
        # Each restart of the update clock (progress entry, reopen) is a new cycle.
        cycle = int(incident.update_clock_from.timestamp()) if incident.update_clock_from else 0
        want[Clock.UPDATE] = (incident.next_update_by, cycle)
    return want


def sync(incident: Incident) -> None:
    """Bring the incident's Deadline rows in line with its clocks (same transaction)."""
    want = desired(incident)
    existing = {d.clock: d for d in Deadline.objects.filter(incident=incident)}
    if not want and not any(d.next_at for c, d in existing.items() if c not in ONE_SHOT_CLOCKS):
        return
    steps = ladder()
    _windows, sla = clock_for(incident.severity, incident.team)
    for clock, (due_at, cycle) in want.items():
        row = existing.get(clock)
        clock_steps = steps.get(clock, [])
        if row is None:
            Deadline.objects.create(
                incident=incident,
                clock=clock,
                cycle=cycle,
                due_at=due_at,
                next_level=1,
                next_at=step_time(due_at, clock_steps, 1, _sla(clock, sla)),
            )
        elif row.cycle != cycle:
            row.cycle, row.due_at, row.next_level = cycle, due_at, 1
            row.next_at = step_time(due_at, clock_steps, 1, _sla(clock, sla))
            row.save(update_fields=["cycle", "due_at", "next_level", "next_at"])
        elif row.due_at != due_at or (row.next_at is None and row.next_level == 1):
            # A regrade moves the deadline; levels already sent stay sent.
            row.due_at = due_at
            row.next_at = step_time(due_at, clock_steps, row.next_level, _sla(clock, sla))
            row.save(update_fields=["due_at", "next_at"])
    for clock, row in existing.items():
        if clock not in want and clock not in ONE_SHOT_CLOCKS and row.next_at is not None:
            row.next_at = None  # the clock stopped: nothing more to send
            row.save(update_fields=["next_at"])


def _sla(clock: str, sla):
    """The pause limit is wall time (how long the team has really waited)."""
    return ALWAYS if clock == Clock.PAUSE else sla


def alert_blocker(incident: Incident, entry_id: int, now: datetime) -> None:
    """A blocker was logged: the tech leads are told by the next sweep (enqueued at
    once). Each blocker entry is its own cycle, so each gets its notice."""
    Deadline.objects.update_or_create(
        incident=incident,
        clock=Clock.BLOCKER,
        defaults={"cycle": entry_id, "due_at": now, "next_level": 1, "next_at": now},
    )


def page_now(incident: Incident, now: datetime) -> None:
    """An urgent P0: the tech leads are paged by the next sweep (enqueued at once)."""
    Deadline.objects.update_or_create(
        incident=incident,
        clock=Clock.PAGE,
        defaults={"cycle": 0, "due_at": now, "next_level": 1, "next_at": now},
    )


def verification_failed(incident: Incident, verification, facts: dict, now: datetime) -> None:
    """A verification failed: its owner and helpers are told at once, in the same
    transaction (escalation.notices.notify_verification_failed)."""
    notices.notify_verification_failed(incident, verification, facts, now)
