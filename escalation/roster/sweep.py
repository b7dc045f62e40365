"""The roster's own sweep: a handover notice to whoever comes on call, a coverage-gap
notice to the tech leads, each exactly once; and rotations following team changes."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from common import clock as wall
from escalation import jobs
from escalation.engine import late_grace
from escalation.models import Clock, HandoverNote, Layer, Notice
from escalation.notices import write_deliveries
from escalation.roster.arithmetic import REACH, Roster
from escalation.roster.models import LAYER_ORDER
from escalation.roster.selectors import rosters_for
from escalation.roster.services import follow_team_changes
from incidents.models import OPEN_STATES, Incident, LogEntry, Team

# A handover is sent up to this long after the handoff (after an outage of the
# worker); a gap is looked for this far ahead.
HANDOVER_WINDOW = timedelta(hours=24)
GAP_HORIZON = timedelta(hours=24)
MAX_LISTED = 50


@dataclass
class RosterSweep:
    handovers: list[int] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)


def sweep_rosters(*, now: datetime | None = None) -> RosterSweep:
    """Handover notices (one per handoff, to whoever comes on call) and coverage-gap
    notices (one per gap, to the tech leads), exactly once each: their unique key
    is (team, clock, handoff or gap start, layer). After an outage only each
    layer's current handoff is sent, marked late, never the ones in between."""
    now = now or wall.now()
    result = RosterSweep()
    teams = list(
        Team.objects.filter(Q(rotations__isnull=False) | Q(overrides__end__gt=now))
        .distinct()
        .select_related("manager")
    )
    if not teams:
        return result
    rosters = rosters_for(teams, since=now - REACH)
    wanted: list[Notice] = []
    for team in teams:
        roster = rosters[team.pk]
        with transaction.atomic():
            follow_team_changes(roster, now)
        wanted += _handovers(roster, now)
        gap = _gap(roster, now)
        if gap is not None:
            wanted.append(gap)
    if not wanted:
        return result
    with transaction.atomic():
        Notice.objects.bulk_create(wanted, ignore_conflicts=True)
        keys = {(n.team_id, n.clock, n.cycle, n.level) for n in wanted}
        written = [
            n
            for n in Notice.objects.filter(
                incident__isnull=True, team__in=teams, created_at=now
            ).select_related("team")
            if (n.team_id, n.clock, n.cycle, n.level) in keys
        ]
        for notice in written:
            if notice.clock == Clock.HANDOVER:
                result.handovers.append(notice.pk)
                HandoverNote.objects.filter(
                    pk__in=[n["id"] for n in notice.details.get("notes", [])]
                ).update(notice=notice)
            else:
                result.gaps.append(notice.pk)
        result.deliveries = write_deliveries(written, now)
        if result.deliveries:
            pending = list(result.deliveries)
            transaction.on_commit(lambda: jobs.deliver(pending))
    return result


def _handovers(roster: Roster, now: datetime) -> list[Notice]:
    wanted = []
    for layer, on_call in roster.on_call(now).items():
        current = on_call.now
        if current is None or current.start < now - HANDOVER_WINDOW:
            continue
        # A rotation set up after this stretch began is not a handoff: nobody
        # handed anything over. An override is one from its first minute.
        source = current.override or current.rotation
        if current.override is None and source.created_at > current.start:
            continue
        late_by = now - current.start
        late = late_by > late_grace()
        wanted.append(
            Notice(
                team=roster.team,
                clock=Clock.HANDOVER,
                cycle=int(current.start.timestamp()),
                level=LAYER_ORDER[layer],
                deadline=current.start,
                due_at=current.end,
                created_at=now,
                late=late,
                late_seconds=int(late_by.total_seconds()) if late else 0,
                recipients=[current.user.username],
                details=handover_details(roster, layer, current, now),
            )
        )
    return wanted


def handover_details(roster: Roster, layer: str, shift, now: datetime) -> dict:
    """What the incoming person needs: the team's open incidents, the deadlines that
    fall in their shift, open blockers, and the notes the outgoing person left."""
    team = roster.team
    incidents = list(
        Incident.objects.filter(team=team, state__in=OPEN_STATES).order_by(
            "severity", "received_at"
        )[: MAX_LISTED * 4]
    )
    listed = [
        {"id": i.pk, "number": i.number, "severity": i.severity, "state": i.state, "title": i.title}
        for i in incidents[:MAX_LISTED]
    ]
    deadlines = []
    for i in incidents:
        for what, at, running in (
            ("respond", i.respond_by, i.respond_clock_running),
            ("resolve", i.resolve_by, i.resolve_clock_running and i.paused_at is None),
            ("update", i.next_update_by, i.update_clock_running and i.paused_at is None),
        ):
            if running and at is not None and at < shift.end:
                deadlines.append({"number": i.number, "clock": what, "at": at.isoformat()})
    deadlines.sort(key=lambda d: d["at"])
    blockers = []
    entries = LogEntry.objects.filter(incident__in=incidents).order_by("incident_id", "created_at")
    last_blocker: dict[int, LogEntry] = {}
    for entry in entries.only("id", "incident_id", "kind", "text", "created_at"):
        if entry.kind == LogEntry.Kind.BLOCKER:
            last_blocker[entry.incident_id] = entry
        elif entry.kind in (LogEntry.Kind.PROGRESS, LogEntry.Kind.WORKAROUND, LogEntry.Kind.FIX):
            last_blocker.pop(entry.incident_id, None)  # handled since
    numbers = {i.pk: i.number for i in incidents}
    for incident_id, entry in sorted(last_blocker.items(), key=lambda kv: kv[1].created_at):
        blockers.append({"number": numbers[incident_id], "text": entry.text[:300]})
    notes = HandoverNote.objects.filter(
        team=team, layer=layer, notice__isnull=True, created_at__lte=now
    ).select_related("author")
    return {
        "layer": layer,
        "from": shift.start.isoformat(),
        "until": shift.end.isoformat(),
        "incidents": listed,
        "open_incidents": len(incidents),
        "deadlines": deadlines[:MAX_LISTED],
        "blockers": blockers[:MAX_LISTED],
        "notes": [
            {"id": n.pk, "author": n.author.username if n.author else "", "text": n.text}
            for n in notes
        ],
    }


def _gap(roster: Roster, now: datetime) -> Notice | None:
    """A notice to the tech leads if nobody is on call in the primary layer at some
    moment of the next 24 hours, once per gap (keyed by when the gap begins)."""
    primary = [r for r in roster.rotations if r.layer == Layer.PRIMARY]
    if not primary:
        return None  # the team keeps no primary roster: nothing can lapse
    gap = roster.first_gap(now, now + GAP_HORIZON)
    if gap is None:
        return None
    start, end = gap
    if start <= now:
        start = roster.gap_began(now, anchor=min(r.created_at for r in primary))
    leads = [u for u in roster.team.tech_leads.all() if u.is_active]
    if not leads and roster.team.manager is not None:
        leads = [roster.team.manager]
    return Notice(
        team=roster.team,
        clock=Clock.GAP,
        cycle=int(start.timestamp()),
        level=1,
        deadline=start,
        due_at=end,
        created_at=now,
        recipients=[u.username for u in leads],
        details={"layer": Layer.PRIMARY, "from": start.isoformat(), "until": end.isoformat()},
    )
