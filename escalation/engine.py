"""The sweep: turn due deadlines into notices, exactly once, and hand them on.

PostgreSQL is the scheduler; Celery carries the work. Each sweep claims due
Deadline rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent sweeps
split the work; on SQLite a sweep's IMMEDIATE transaction runs alone),
re-checks the incident, creates the Notice for the highest level that is due
(catch-up after an outage: one notice, marked late, never a burst), moves the
row to its next level, commits, then enqueues the deliveries. It also forms the
digests of the chat robots' held deliveries (`form_digests`), so they go out
even when no new notice comes.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min

from common import clock as wall
from escalation import jobs, registry
from escalation.calendars import ALWAYS
from escalation.channels import prune_slots
from escalation.deadlines import desired, ladder, level_due, step_time
from escalation.models import (
    Clock,
    Deadline,
    Delivery,
    Heartbeat,
    LadderStep,
    Layer,
    Notice,
)
from escalation.notices import write_deliveries
from escalation.roster.selectors import rosters_for
from escalation.sla import all_windows, working_time
from incidents.models import Incident, Team

SWEEP_LIMIT = 500


@dataclass
class SweepResult:
    claimed: int = 0
    notices: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)  # still to send (not in-app)
    requeued: list[int] = field(default_factory=list)
    digests: list[int] = field(default_factory=list)  # chat robots' digests formed now
    next_due: datetime | None = None  # the earliest deadline still ahead, after this sweep


def late_grace() -> timedelta:
    """A notice sent this long after its level fell due counts as late."""
    return timedelta(seconds=max(60, 3 * settings.ESCALATION_SWEEP_SECONDS))


def sweep_due_deadlines(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> SweepResult:
    """Claim due deadlines, write their notices and deliveries; enqueue sending on commit."""
    now = now or wall.now()
    result = SweepResult()
    with transaction.atomic():
        due = Deadline.objects.filter(next_at__lte=now).order_by("next_at")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        else:
            due = due.select_for_update()
        # Claim (lock) the ids first; joined rows cannot be locked through an outer join.
        claimed = list(due.values_list("pk", flat=True)[:limit])
        rows = list(
            Deadline.objects.filter(pk__in=claimed)
            .select_related("incident__team", "incident__owner", "incident__reporter")
            .order_by("next_at")
        )
        result.claimed = len(rows)
        created = _escalate_all(rows, now) if rows else []
        created += _owned_notices(now, limit)
        if created:
            result.notices = [n.pk for n in created]
            result.deliveries = write_deliveries(created, now)
        touch_heartbeat("sweep", now)
        # One probe of the next_at index: when the next level falls due, so the
        # worker can wake for it instead of waiting for beat's next tick.
        result.next_due = (
            Deadline.objects.filter(next_at__isnull=False)
            .order_by("next_at")
            .values_list("next_at", flat=True)
            .first()
        )
        # Deliveries whose task was lost (broker flushed, worker killed before it
        # acked) or whose retry is due: hand them to the worker again.
        stall = timedelta(seconds=settings.DELIVERY_STALL_SECONDS)
        stalled = Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=now - stall
        ).values_list("pk", flat=True)[:limit]
        result.requeued = [pk for pk in stalled if pk not in result.deliveries]
        Delivery.objects.filter(pk__in=result.requeued).update(next_attempt_at=now)
        result.digests = form_digests(now=now, limit=limit)
        prune_slots(now)
        pending = list(result.deliveries) + result.requeued + result.digests
        if pending:
            transaction.on_commit(lambda: jobs.deliver(pending))
    return result


def form_digests(*, now: datetime, limit: int = SWEEP_LIMIT) -> list[int]:
    """One digest per chat robot whose held deliveries are due (held in a minute
    now past): its oldest held delivery carries it (`digest` = itself, pending
    again) and every other due one joins it. Returns the carriers to send.

    Each step is a conditional UPDATE on rows still held and in no digest, so two
    sweeps at once form one digest per robot and put each delivery in exactly one.
    """
    robots = (
        Delivery.objects.filter(
            status=Delivery.Status.HELD, digest__isnull=True, next_attempt_at__lte=now
        )
        .values("channel", "address")
        .annotate(first=Min("pk"))
        .order_by("first")[:limit]
    )
    carriers = []
    for robot in robots:
        carrier = robot["first"]
        held = Delivery.objects.filter(
            status=Delivery.Status.HELD, digest__isnull=True, next_attempt_at__lte=now
        )
        taken = held.filter(pk=carrier).update(
            digest_id=carrier,
            status=Delivery.Status.PENDING,
            attempts=0,
            last_error="",
            next_attempt_at=now,
        )
        if not taken:
            continue  # another sweep formed it
        held.filter(channel=robot["channel"], address=robot["address"]).update(digest_id=carrier)
        carriers.append(carrier)
    return carriers


def _owned_notices(now: datetime, limit: int) -> list[Notice]:
    """The notices of the clocks other apps own (escalation.registry): each claims
    what fell due; the notice's unique key keeps two sweeps from telling anyone
    twice."""
    created = []
    for owned in registry.owned():
        wanted = owned.claim(now, limit)
        if not wanted:
            continue
        Notice.objects.bulk_create(wanted, ignore_conflicts=True)
        keys = {(n.incident_id, n.cycle) for n in wanted}
        written = Notice.objects.filter(clock=owned.clock, created_at=now).select_related(
            "incident__team"
        )
        created += [n for n in written if (n.incident_id, n.cycle) in keys]
    return created


def touch_heartbeat(name: str, now: datetime) -> None:
    """Record that `name` ran at `now`; safe when two processes do it at once."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, last_seen=now, count=0)], ignore_conflicts=True
    )
    Heartbeat.objects.filter(name=name).update(last_seen=now, count=F("count") + 1)


class _Context:
    """What a sweep looks up once for all its rows: ladder, SLA windows, team people,
    and (only when a step asks for them) the teams' duty rosters."""

    def __init__(self, rows: list[Deadline], now: datetime):
        self.now = now
        self.steps = ladder()
        self.windows = all_windows()
        team_ids = {row.incident.team_id for row in rows}
        self.leads: dict[int, list] = {t: [] for t in team_ids}
        through = Team.tech_leads.through.objects.filter(team_id__in=team_ids)
        for link in through.select_related("user"):
            self.leads[link.team_id].append(link.user)
        self.teams = list(Team.objects.filter(pk__in=team_ids).select_related("manager"))
        self.managers = {t.pk: t.manager for t in self.teams}
        self._clocks: dict[tuple, object] = {}
        self._rosters: dict | None = None
        self._on_call: dict[int, dict] = {}

    def sla(self, incident: Incident, clock: str):
        """The clock a level's ladder runs on: its calendar in the team's zone (the
        pause limit is wall time). Loaded once per calendar and zone per sweep."""
        calendar_id = self.windows[incident.severity].calendar_id
        if calendar_id is None or clock == Clock.PAUSE:
            return ALWAYS
        key = (calendar_id, incident.team.time_zone)
        if key not in self._clocks:
            self._clocks[key] = working_time(*key)
        return self._clocks[key]

    def running(self, incident: Incident, clock: str) -> bool:
        if clock == Clock.PAGE:
            return incident.respond_clock_running  # once acknowledged, paging is moot
        if clock == Clock.BLOCKER:
            return incident.is_open
        return clock in desired(incident, self.windows[incident.severity])

    def on_call(self, team_id: int) -> dict:
        """Layer → the user on call now in the team (None: nobody). The sweep's teams'
        rosters are loaded at the first step that asks; each team worked out once."""
        if self._rosters is None:
            self._rosters = rosters_for(self.teams, since=self.now)
        if team_id not in self._on_call:
            roster = self._rosters.get(team_id)
            answer = roster.on_call(self.now) if roster else {}
            self._on_call[team_id] = {layer: a.user for layer, a in answer.items()}
        return self._on_call[team_id]

    def recipients(
        self, steps: list[LadderStep], incident: Incident, clock: str
    ) -> tuple[list, dict | None]:
        """Who `steps` tell (a catch-up notice: every level it jumps over, each person
        once), and for on-call steps who was on call (`details`).

        An on-call layer nobody covers now falls back to the team's tech leads,
        and the details say so; nobody named at all → the tech leads, then the
        manager. A page never goes to whoever filed the incident: they know, and
        the notice names them.
        """
        leads = self.leads.get(incident.team_id, [])
        manager = self.managers.get(incident.team_id)
        people = []
        details: dict = {}
        oncall_seen: set = set()
        for step in steps:
            if step.to_owner and incident.owner is not None:
                people.append(incident.owner)
            for layer, wanted in (
                (Layer.PRIMARY, step.to_oncall_primary),
                (Layer.SECONDARY, step.to_oncall_secondary),
            ):
                if not wanted or layer in oncall_seen:
                    continue
                oncall_seen.add(layer)
                user = self.on_call(incident.team_id).get(layer)
                details.setdefault("oncall", []).append(
                    {"layer": layer, "user": user.username if user is not None else None}
                )
                if user is not None:
                    people.append(user)
                else:
                    details["fallback"] = True
                    people += leads
            if step.to_tech_leads:
                people += leads
            if step.to_manager and manager is not None:
                people.append(manager)
        if not people:
            people = list(leads) or ([manager] if manager else [])
        if clock == Clock.PAGE and incident.reporter_id is not None:
            details["filed_by"] = incident.reporter.username
            people = [u for u in people if u.pk != incident.reporter_id]
            if not people and manager is not None and manager.pk != incident.reporter_id:
                people = [manager]
        found = list({u.pk: u for u in people if u.is_active}.values())
        return found, details or None


def _escalate_all(rows: list[Deadline], now: datetime) -> list[Notice]:
    """Notices for the claimed rows (the highest level due, marked late after an outage),
    each row moved to its next level; returns the notices written now."""
    ctx = _Context(rows, now)
    wanted: list[Notice] = []
    for row in rows:
        incident = row.incident
        clock_steps = ctx.steps.get(row.clock, [])
        if not ctx.running(incident, row.clock):
            row.next_at = None
            continue
        sla = ctx.sla(incident, row.clock)
        reached = [
            s
            for s in clock_steps
            if s.level >= row.next_level and level_due(row.due_at, s, sla) <= now
        ]
        if not reached:
            row.next_at = step_time(row.due_at, clock_steps, row.next_level, sla)
            continue
        # After an outage (or for an incident filed after its deadline) jump to the
        # level that should have been reached: one notice, to everyone of the levels
        # it jumps over too, late by the time since the first of them fell due.
        step = reached[-1]
        step_due = level_due(row.due_at, step, sla)
        first_due = level_due(row.due_at, reached[0], sla)
        late_by = now - first_due
        late = late_by > late_grace()
        people, details = ctx.recipients(reached, incident, row.clock)
        if len(reached) > 1:
            details = {**(details or {}), "levels": [s.level for s in reached]}
        if late:
            # Why, for the reader: the incident did not exist yet when the level fell
            # due (filed after its deadline), or no sweep ran (beat or worker down).
            reason = "filed_late" if incident.created_at > first_due else "interrupted"
            details = {**(details or {}), "late_reason": reason}
        wanted.append(
            Notice(
                incident=incident,
                clock=row.clock,
                cycle=row.cycle,
                level=step.level,
                deadline=row.due_at,
                due_at=step_due,
                created_at=now,
                late=late,
                late_seconds=int(late_by.total_seconds()) if late else 0,
                recipients=[u.username for u in people],
                details=details,
            )
        )
        row.next_level = step.level + 1
        row.next_at = step_time(row.due_at, clock_steps, row.next_level, sla)
    Deadline.objects.bulk_update(rows, ["next_level", "next_at"], batch_size=500)
    if not wanted:
        return []
    # The unique key makes a second notice for the same level impossible; one
    # that exists already is skipped, and only the ones written now come back.
    Notice.objects.bulk_create(wanted, ignore_conflicts=True, batch_size=500)
    keys = {(n.incident_id, n.clock, n.cycle, n.level) for n in wanted}
    written = Notice.objects.filter(
        incident_id__in={k[0] for k in keys}, created_at=now
    ).select_related("incident")
    return [n for n in written if (n.incident_id, n.clock, n.cycle, n.level) in keys]
