"""The one seam (escalation.deadlines.sync): the deadline columns on Incident are
the truth and the Deadline rows the sweep reads follow them, whatever the order of
the steps. Random but repeatable walks through the process check it after every
step."""

import random
from datetime import timedelta

import pytest

from escalation import deadlines
from escalation.models import ONE_SHOT_CLOCKS, Deadline
from escalation.sla import compute_deadlines
from incidents import services
from incidents.models import UPDATE_CLOCK_STATES, Incident, LogEntry, Severity
from incidents.rules import Role
from incidents.workflow import Action
from knowledge import services as knowledge_services
from tests.factories import IncidentFactory, make_user

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def check_agreement(incident: Incident) -> None:
    """Rows follow the columns; the columns follow the arithmetic; the update clock
    runs exactly in the states that owe progress updates."""
    incident = Incident.objects.select_related("team").get(pk=incident.pk)
    rows = {row.clock: row for row in Deadline.objects.filter(incident=incident)}
    want = deadlines.desired(incident)
    for clock, (due_at, cycle) in want.items():
        assert (rows[clock].due_at, rows[clock].cycle) == (due_at, cycle), clock
    for clock, row in rows.items():
        if clock not in want and clock not in ONE_SHOT_CLOCKS:
            assert row.next_at is None, f"{clock} stopped but still scheduled"
    ended = list(
        incident.pauses.filter(ended_at__isnull=False).values_list("started_at", "ended_at")
    )
    expected = compute_deadlines(
        severity=incident.severity,
        received_at=incident.received_at,
        update_clock_from=incident.update_clock_from,
        team=incident.team,
        paused=ended,
    )
    assert incident.resolve_by == expected.resolve_by
    assert incident.resolve_warn_by == expected.resolve_warn_by
    assert incident.next_update_by == expected.next_update_by
    if incident.acknowledged_at is None:
        assert incident.respond_by == expected.respond_by
    running = incident.update_clock_from is not None
    assert running == (incident.state in UPDATE_CLOCK_STATES), incident.state


def step(rng: random.Random, incident: Incident, lead, owner) -> Incident | None:
    """One allowed action with valid input, chosen at random; None if none fits."""
    choices = [a for a in services.available_actions(lead, incident) if a != Action.POSTMORTEM]
    choices += ["edit"] if incident.is_open else []
    if not choices:
        return None
    action = rng.choice(choices)
    common = {"incident": incident, "actor": lead}
    if action == "edit":
        received = incident.received_at - rng.randint(0, 30) * MINUTE
        return services.incident_update(**common, received_at=received)
    calls = {
        Action.ACKNOWLEDGE: lambda: services.incident_acknowledge(**common),
        Action.GRADE: lambda: services.incident_grade(
            **common, severity=rng.choice([Severity.P2, Severity.P3]), diagnosis="Looked."
        ),
        Action.ASSIGN: lambda: services.incident_assign(**common, owner=owner),
        Action.LOG: lambda: (
            services.incident_log(
                **common, kind=rng.choice(LogEntry.Kind.values), text="Worked on it."
            ).incident
        ),
        Action.RESOLVE: lambda: services.incident_resolve(**common, fix="Fixed."),
        Action.VERIFY: lambda: services.incident_verify(
            **common,
            functional_ok=rng.random() < 0.6,
            regression_ok=True,
            monitoring_ok=True,
        ),
        Action.NOTIFY_USERS: lambda: services.incident_notify_users(**common, message="Fixed."),
        Action.FEEDBACK: lambda: services.incident_record_feedback(**common, text="Fine."),
        Action.ARCHIVE: lambda: knowledge_services.incident_archive(**common, summary="Done."),
        Action.REOPEN: lambda: services.incident_reopen(**common, reason="Back."),
        Action.CANCEL: lambda: services.incident_cancel(**common, reason="Duplicate."),
        Action.PAUSE: lambda: services.incident_pause(**common, reason="Vendor."),
        Action.RESUME: lambda: services.incident_resume(**common),
    }
    return calls[action]()


@pytest.mark.parametrize("seed", range(6))
def test_it_keeps_the_rows_in_line_with_the_columns_at_every_step(clock, platform, seed):
    rng = random.Random(seed)
    lead = make_user(Role.TECH_LEAD, platform, lead=True)
    owner = make_user(Role.ENGINEER, platform)
    incident = IncidentFactory(actor=lead, severity=rng.choice([Severity.P2, Severity.P3]))
    check_agreement(incident)
    for _ in range(30):
        clock.shift(rng.randint(1, 90) * MINUTE)
        after = step(rng, incident, lead, owner)
        if after is None:
            break
        incident = after
        check_agreement(incident)


def test_it_restarts_the_update_clock_on_progress_and_resume_stops_it_on_cancel(clock, platform):
    lead = make_user(Role.TECH_LEAD, platform, lead=True)
    incident = services.incident_acknowledge(
        incident=IncidentFactory(actor=lead, severity=Severity.P2), actor=lead
    )
    started = incident.update_clock_from
    clock.shift(10 * MINUTE)
    services.incident_log(incident=incident, actor=lead, kind=LogEntry.Kind.NOTE, text="n")
    assert Incident.objects.get(pk=incident.pk).update_clock_from == started  # a note: no
    entry = services.incident_log(
        incident=incident, actor=lead, kind=LogEntry.Kind.PROGRESS, text="p"
    )
    assert entry.incident.update_clock_from == started + 10 * MINUTE
    services.incident_pause(incident=incident, actor=lead, reason="Vendor.")
    clock.shift(10 * MINUTE)
    resumed = services.incident_resume(incident=incident, actor=lead)
    assert resumed.update_clock_from == started + 20 * MINUTE
    cancelled = services.incident_cancel(incident=incident, actor=lead, reason="Dup.")
    assert (cancelled.update_clock_from, cancelled.next_update_by) == (None, None)
    check_agreement(cancelled)
