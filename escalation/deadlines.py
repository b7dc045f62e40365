"""The seam between incidents and escalation: the one way an incident's clocks move.

Every incident service that saves a change calls `sync(incident, now, fields)` in
the same transaction. It

1. runs the update clock: started when the incident enters the states that owe
   progress updates, restarted by a progress report (`progress=True`), a reopen
   or the end of a pause, stopped outside those states;
2. computes the deadlines once, from the level's SLA windows looked up once, in
   the level's SLA time (escalation.sla);
3. saves the incident row: the changed `fields` and the deadline columns. The
   columns on Incident are the truth (the API, the dashboard and the filters
   read them);
4. derives from them the Deadline rows the sweep reads (one per running clock,
   with the time its next level falls due), writing only what changed.

No other code writes the deadline columns of a stored incident, so the rows and
the columns cannot disagree (tests/escalation/test_deadline_seam.py). The other
entries here record one-shot clocks: a page, a blocker, a failed verification.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction

from escalation import calendars, jobs, notices
from escalation.calendars import ALWAYS
from escalation.models import ONE_SHOT_CLOCKS, Clock, Deadline, LadderStep, Notice
from escalation.sla import Windows, all_windows, clock_for, compute_deadlines, windows_for
from escalation.status.version import bump_version
from incidents.models import UPDATE_CLOCK_STATES, Incident

# The columns of Incident that sync() writes; nothing else writes them.
DEADLINE_FIELDS = (
    "respond_by",
    "resolve_by",
    "next_update_by",
    "update_clock_from",
    "resolve_warn_by",
)


def sync(
    incident: Incident, now: datetime, fields: Iterable[str] = (), *, progress: bool = False
) -> None:
    """Store the incident's change together with its clocks (see the module's text).

    `fields`: what the caller changed (saved with the deadline columns); an unsaved
    incident is inserted whole. `progress`: a progress report was made, which
    restarts the update clock. A respond deadline already met or missed stays as
    it was (a regrade must not rewrite how the response went) unless
    `received_at` moved.
    """
    fields = set(fields)
    _run_update_clock(incident, now, fields, progress)
    windows, sla = _clock(incident)
    respond_by = incident.respond_by
    pauses = _ended_pauses(incident)
    computed = compute_deadlines(
        severity=incident.severity,
        received_at=incident.received_at,
        update_clock_from=incident.update_clock_from,
        clock=(windows, sla),
        paused=pauses,
        respond_paused=_respond_holds(incident, pauses, now),
    )
    incident.respond_by = computed.respond_by
    incident.resolve_by = computed.resolve_by
    incident.next_update_by = computed.next_update_by
    incident.resolve_warn_by = computed.resolve_warn_by
    respond_stopped = incident.acknowledged_at is not None and "acknowledged_at" not in fields
    if respond_stopped and respond_by is not None and "received_at" not in fields:
        incident.respond_by = respond_by
    if incident.pk is None:
        incident.save()
    else:
        incident.save(update_fields=[*fields, *DEADLINE_FIELDS])
    _write_rows(incident, windows, sla)


def _run_update_clock(incident: Incident, now: datetime, fields: set, progress: bool) -> None:
    """When the update clock counts from: the one place it starts, restarts and stops."""
    if incident.state not in UPDATE_CLOCK_STATES:
        incident.update_clock_from = None
    elif incident.update_clock_from is None or progress or "reopen_count" in fields:
        incident.update_clock_from = now
    elif "paused_at" in fields and incident.paused_at is None:
        incident.update_clock_from = now  # resumed: one cadence from now


def _respond_holds(incident: Incident, pauses, now: datetime) -> list[tuple[datetime, datetime]]:
    """The pauses that held the respond clock: those begun before the acknowledgement
    (only a maintenance window's hold can be), the open one counted until now."""
    held = list(pauses)
    if incident.paused_at is not None:
        held.append((incident.paused_at, now))
    ack = incident.acknowledged_at
    return [(start, end) for start, end in held if ack is None or start < ack]


def _clock(incident: Incident):
    """The level's windows and SLA clock for the incident's team, looked up once per
    write: the services lock a fresh instance for each, which holds it."""
    key = (incident.severity, incident.team_id)
    cached = getattr(incident, "_sla_clock", None)
    if cached is None or cached[0] != key:
        cached = (key, clock_for(incident.severity, incident.team))
        incident._sla_clock = cached
    return cached[1]


def _ended_pauses(incident: Incident) -> list[tuple[datetime, datetime]]:
    if incident.pk is None or not incident.paused_for:
        return []
    return list(
        incident.pauses.filter(ended_at__isnull=False).values_list("started_at", "ended_at")
    )


def windows(incident: Incident) -> Windows:
    """The SLA windows of the incident's level (for texts such as the default goal)."""
    return _clock(incident)[0]


def level_windows() -> dict[str, Windows]:
    """Every level's SLA windows, in one query (incidents.figures' wall-time compliance)."""
    return all_windows()


def late_update_ids(incident_ids) -> set[int]:
    """Of `incident_ids` (ids, or a query of them), those whose progress update was
    ever overdue (an update notice was sent): the metrics' update compliance."""
    return set(
        Notice.objects.filter(incident__in=incident_ids, clock=Clock.UPDATE)
        .order_by()
        .values_list("incident_id", flat=True)
        .distinct()
    )


def sla_time(incident: Incident, start: datetime, end: datetime, *, less_pauses=False) -> timedelta:
    """SLA time from `start` to `end` on the level's clock for the incident's team,
    less (with `less_pauses`) the SLA time of its ended pauses within it: how long a
    response or a restoration took, as metrics count it."""
    _w, sla = _clock(incident)
    pauses = _ended_pauses(incident) if less_pauses else []
    held = sum((sla.elapsed(max(a, start), min(b, end)) for a, b in pauses), timedelta(0))
    return max(sla.elapsed(start, end) - held, timedelta(0))


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
    if incident.paused_at is not None and incident.is_open and not incident.held_by_window:
        # A pause longer than the limit tells the tech leads, once per pause.
        limit = timedelta(hours=settings.SLA_PAUSE_LIMIT_HOURS)
        want[Clock.PAUSE] = (incident.paused_at + limit, int(incident.paused_at.timestamp()))
    if incident.update_clock_running:
        # Each restart of the update clock (progress entry, reopen) is a new cycle.
        cycle = int(incident.update_clock_from.timestamp()) if incident.update_clock_from else 0
        want[Clock.UPDATE] = (incident.next_update_by, cycle)
    return want


def _write_rows(incident: Incident, windows: Windows, sla) -> None:
    """Bring the incident's Deadline rows in line with its columns (same transaction)."""
    want = desired(incident, windows)
    existing = {d.clock: d for d in Deadline.objects.filter(incident=incident)}
    if not want and not any(d.next_at for c, d in existing.items() if c not in ONE_SHOT_CLOCKS):
        return
    steps = ladder()
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
    transaction.on_commit(jobs.sweep_soon)


def page_now(incident: Incident, now: datetime) -> None:
    """An urgent P0: the tech leads are paged by the next sweep (enqueued at once)."""
    Deadline.objects.update_or_create(
        incident=incident,
        clock=Clock.PAGE,
        defaults={"cycle": 0, "due_at": now, "next_level": 1, "next_at": now},
    )
    transaction.on_commit(jobs.sweep_soon)


def verification_failed(incident: Incident, verification, facts: dict, now: datetime) -> None:
    """A verification failed: its owner and helpers are told at once, in the same
    transaction (escalation.notices.notify_verification_failed)."""
    notices.notify_verification_failed(incident, verification, facts, now)


def china_working_day(day: date) -> bool | None:
    """Whether mainland China works on `day` (holidays and 调休 included), for the
    maintenance windows' calendars; None for a year without holiday data."""
    return calendars.china_workday(day)


def storm(incident: Incident, *, level: int, threshold: int, alerts: int, now: datetime) -> None:
    """An incident's alerts reached a storm threshold (`level` 1, 2, 3… for each
    threshold): its team's tech leads hear of it once per threshold."""
    notices.notify_storm(incident, level=level, threshold=threshold, alerts=alerts, now=now)


def public_window_changed() -> None:
    """A public maintenance window was planned, changed, ended or deleted: the
    status page shows it at once (its cached copies go stale)."""
    bump_version()
