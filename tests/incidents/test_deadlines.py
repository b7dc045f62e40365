"""The three clocks of DESIGN.md as the services set them: respond, resolve, update."""

from datetime import timedelta

import pytest

from escalation.models import SlaPolicy
from incidents import services
from incidents.models import Grading, Incident, LogEntry, Severity, State, TimelineEvent
from tests.conftest import NOW
from tests.factories import (
    IncidentFactory,
    acknowledged_incident,
    assigned_incident,
    in_progress_incident,
    new_incident,
    resolved_incident,
    verifying_incident,
)

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

# PROCESS.md's table, in minutes: respond, resolve, update.
LEVELS = {
    Severity.P0: (5, 120, 30),
    Severity.P1: (15, 240, 30),
    Severity.P2: (30, 480, 60),
    Severity.P3: (120, 1440, 60),
}


def reload(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def passing_verification(incident, actor):
    return services.incident_verify(
        incident=incident, actor=actor, functional_ok=True, regression_ok=True, monitoring_ok=True
    )


# ---------------------------------------------------------------- respond and resolve deadlines


@pytest.mark.parametrize("severity", list(LEVELS))
def test_it_sets_deadlines_from_now_for_each_level(clock, onduty, severity):
    respond, resolve, _ = LEVELS[severity]

    incident = reload(IncidentFactory(actor=onduty, severity=severity))

    assert incident.received_at == NOW
    assert incident.respond_by == NOW + respond * MINUTE
    assert incident.resolve_by == NOW + resolve * MINUTE
    assert incident.next_update_by is None


@pytest.mark.parametrize("severity", list(LEVELS))
def test_it_sets_deadlines_from_a_past_received_at(clock, onduty, severity):
    respond, resolve, _ = LEVELS[severity]
    received = NOW - 3 * HOUR

    incident = reload(IncidentFactory(actor=onduty, severity=severity, received_at=received))

    assert incident.respond_by == received + respond * MINUTE
    assert incident.resolve_by == received + resolve * MINUTE


def test_it_files_a_three_hour_old_p0_already_past_both_deadlines(clock, onduty):
    incident = reload(
        IncidentFactory(actor=onduty, severity=Severity.P0, received_at=NOW - 3 * HOUR)
    )

    assert incident.respond_by == NOW - 3 * HOUR + 5 * MINUTE
    assert incident.resolve_by == NOW - HOUR
    assert incident.respond_by < NOW
    assert incident.resolve_by < NOW
    assert incident.respond_clock_running
    assert incident.resolve_clock_running


def test_it_moves_the_deadlines_when_received_at_is_corrected(clock, onduty, lead):
    incident = IncidentFactory(actor=onduty, severity=Severity.P1)

    services.incident_update(incident=incident, actor=lead, received_at=NOW - 2 * HOUR)

    row = reload(incident)
    assert row.respond_by == NOW - 2 * HOUR + 15 * MINUTE
    assert row.resolve_by == NOW + 2 * HOUR


# ---------------------------------------------------------------- regrading


def test_it_recomputes_deadlines_from_received_at_on_regrade(clock, onduty, lead):
    received = NOW - 30 * MINUTE
    incident = IncidentFactory(actor=onduty, severity=Severity.P3, received_at=received)
    clock.shift(40 * MINUTE)

    services.incident_grade(
        incident=incident, actor=lead, severity=Severity.P0, diagnosis="Whole site down"
    )

    row = reload(incident)
    assert row.severity == Severity.P0
    assert row.respond_by == received + 5 * MINUTE
    assert row.resolve_by == received + 120 * MINUTE
    event = row.events.get(kind=TimelineEvent.Kind.GRADED)
    assert event.changes["resolve_by"] == [
        (received + 1440 * MINUTE).isoformat(),
        (received + 120 * MINUTE).isoformat(),
    ]

    clock.shift(10 * MINUTE)
    services.incident_grade(
        incident=incident, actor=lead, severity=Severity.P2, diagnosis="Only one region"
    )

    row = reload(incident)
    assert row.severity == Severity.P2
    assert row.initial_severity == Severity.P3
    # The first grading acknowledged it: how the response went is kept.
    assert row.respond_by == received + 5 * MINUTE
    assert row.resolve_by == received + 480 * MINUTE
    gradings = list(Grading.objects.filter(incident=row))
    assert [(g.previous_severity, g.severity) for g in gradings] == [
        (Severity.P3, Severity.P0),
        (Severity.P0, Severity.P2),
    ]
    assert [g.graded_at for g in gradings] == [NOW + 40 * MINUTE, NOW + 50 * MINUTE]
    assert [g.diagnosis for g in gradings] == ["Whole site down", "Only one region"]


def test_it_keeps_a_grading_row_when_the_level_is_confirmed(clock, lead):
    incident = new_incident(reporter=lead, severity=Severity.P2)
    before = reload(incident)

    services.incident_grade(
        incident=incident, actor=lead, severity=Severity.P2, diagnosis="As reported"
    )

    row = reload(incident)
    assert (row.respond_by, row.resolve_by) == (before.respond_by, before.resolve_by)
    grading = row.gradings.get()
    assert (grading.previous_severity, grading.severity) == (Severity.P2, Severity.P2)


def test_it_moves_the_update_deadline_to_the_new_cadence_on_regrade(clock, lead):
    incident = acknowledged_incident(lead=lead, severity=Severity.P3)
    assert incident.next_update_by == NOW + 60 * MINUTE
    clock.shift(10 * MINUTE)

    services.incident_grade(
        incident=incident, actor=lead, severity=Severity.P0, diagnosis="Escalating"
    )

    # The update clock still runs from acknowledge, now on P0's 30 minutes.
    assert reload(incident).next_update_by == NOW + 30 * MINUTE


def test_it_uses_the_edited_sla_policy_for_new_deadlines(clock, onduty):
    earlier = IncidentFactory(actor=onduty, severity=Severity.P2)
    SlaPolicy.objects.filter(severity=Severity.P2).update(
        respond_minutes=10, resolve_minutes=100, update_minutes=20
    )

    later = reload(IncidentFactory(actor=onduty, severity=Severity.P2))

    assert later.respond_by == NOW + 10 * MINUTE
    assert later.resolve_by == NOW + 100 * MINUTE
    # Deadlines are stored: the incident filed before the edit keeps its own.
    assert reload(earlier).resolve_by == NOW + 480 * MINUTE


# ---------------------------------------------------------------- the update clock


def test_it_runs_no_update_clock_while_new(clock, lead):
    incident = new_incident(reporter=lead, severity=Severity.P0)
    clock.shift(MINUTE)

    services.incident_log(incident=incident, actor=lead, kind=LogEntry.Kind.PROGRESS, text="x")

    row = reload(incident)
    assert row.state == State.NEW
    assert row.next_update_by is None
    assert row.update_clock_from is None
    assert not row.update_clock_running


@pytest.mark.parametrize("severity", list(LEVELS))
def test_it_starts_the_update_clock_on_acknowledge(clock, lead, severity):
    incident = new_incident(reporter=lead, severity=severity)
    clock.shift(4 * MINUTE)

    services.incident_acknowledge(incident=incident, actor=lead)

    row = reload(incident)
    assert row.update_clock_from == NOW + 4 * MINUTE
    assert row.next_update_by == NOW + (4 + LEVELS[severity][2]) * MINUTE
    assert row.update_clock_running


@pytest.mark.parametrize("severity", [Severity.P1, Severity.P3])
def test_it_restarts_the_update_clock_on_a_progress_entry(clock, lead, owner, severity):
    incident = in_progress_incident(lead=lead, owner=owner, severity=severity)
    cadence = LEVELS[severity][2] * MINUTE
    assert incident.next_update_by == NOW + cadence
    clock.shift(25 * MINUTE)

    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.PROGRESS, text="Half the pods back"
    )

    row = reload(incident)
    assert row.update_clock_from == NOW + 25 * MINUTE
    assert row.next_update_by == NOW + 25 * MINUTE + cadence
    event = row.events.order_by("-id").first()
    assert event.changes["next_update_by"] == [
        (NOW + cadence).isoformat(),
        (NOW + 25 * MINUTE + cadence).isoformat(),
    ]


def test_it_takes_the_entry_time_not_happened_at_for_the_update_clock(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity=Severity.P0)
    clock.shift(20 * MINUTE)

    services.incident_log(
        incident=incident,
        actor=owner,
        kind=LogEntry.Kind.PROGRESS,
        text="Logged late",
        happened_at=NOW + 5 * MINUTE,
    )

    assert reload(incident).next_update_by == NOW + 50 * MINUTE


@pytest.mark.parametrize("kind", [k for k in LogEntry.Kind.values if k != LogEntry.Kind.PROGRESS])
def test_it_leaves_the_update_clock_alone_on_other_entries(clock, lead, owner, kind):
    incident = in_progress_incident(lead=lead, owner=owner, severity=Severity.P0)
    clock.shift(25 * MINUTE)

    services.incident_log(incident=incident, actor=owner, kind=kind, text="Something")

    row = reload(incident)
    assert row.update_clock_from == NOW
    assert row.next_update_by == NOW + 30 * MINUTE


def test_it_keeps_the_update_clock_running_through_verifying(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity=Severity.P2)
    clock.shift(10 * MINUTE)

    services.incident_resolve(incident=incident, actor=owner, fix="Patched")

    row = reload(incident)
    assert row.state == State.VERIFYING
    assert row.next_update_by == NOW + 60 * MINUTE
    assert row.update_clock_running

    clock.shift(40 * MINUTE)
    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.PROGRESS, text="Testers on it"
    )

    assert reload(incident).next_update_by == NOW + 110 * MINUTE


def test_it_keeps_the_update_clock_after_a_failed_verification(clock, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner, severity=Severity.P1)
    clock.shift(15 * MINUTE)

    services.incident_verify(
        incident=incident,
        actor=tester,
        functional_ok=True,
        regression_ok=False,
        monitoring_ok=True,
    )

    row = reload(incident)
    assert row.state == State.IN_PROGRESS
    assert row.next_update_by == NOW + 30 * MINUTE
    assert row.update_clock_running


def test_it_clears_the_update_clock_on_resolved(clock, lead, owner, tester):
    incident = verifying_incident(lead=lead, owner=owner)

    passing_verification(incident, tester)

    row = reload(incident)
    assert row.state == State.RESOLVED
    assert row.next_update_by is None
    assert row.update_clock_from is None
    assert not row.update_clock_running


@pytest.mark.parametrize("make", [acknowledged_incident, assigned_incident, verifying_incident])
def test_it_clears_the_update_clock_on_cancel(clock, lead, owner, make):
    kwargs = {"lead": lead} if make is acknowledged_incident else {"lead": lead, "owner": owner}
    incident = make(**kwargs)
    assert incident.next_update_by is not None

    services.incident_cancel(incident=incident, actor=lead, reason="False alarm")

    row = reload(incident)
    assert row.next_update_by is None
    assert row.update_clock_from is None
    assert not row.update_clock_running
    assert not row.respond_clock_running
    assert not row.resolve_clock_running


@pytest.mark.parametrize("severity", [Severity.P0, Severity.P2])
def test_it_restarts_the_update_clock_on_reopen(clock, lead, owner, severity):
    incident = resolved_incident(lead=lead, owner=owner, severity=severity)
    clock.shift(3 * HOUR)

    services.incident_reopen(incident=incident, actor=lead, reason="Back again")

    row = reload(incident)
    assert row.update_clock_from == NOW + 3 * HOUR
    assert row.next_update_by == NOW + 3 * HOUR + LEVELS[severity][2] * MINUTE
    assert row.update_clock_running


# ---------------------------------------------------------------- respond clock


def test_it_stops_the_respond_clock_on_acknowledge(clock, lead):
    incident = new_incident(reporter=lead, severity=Severity.P1)
    assert incident.respond_clock_running
    clock.shift(12 * MINUTE)

    services.incident_acknowledge(incident=incident, actor=lead)

    row = reload(incident)
    assert not row.respond_clock_running
    assert row.acknowledged_at == NOW + 12 * MINUTE
    assert row.respond_by == NOW + 15 * MINUTE  # the deadline itself stays for the record
    assert row.resolve_clock_running


# ---------------------------------------------------------------- resolve clock


def test_it_keeps_the_resolve_clock_running_while_verifying(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    clock.shift(30 * MINUTE)

    services.incident_resolve(incident=incident, actor=owner, workaround="Failover")

    row = reload(incident)
    assert row.restored_at is None
    assert row.resolve_clock_running


def test_it_stops_the_resolve_clock_at_the_submission_that_passes(clock, lead, owner, tester):
    incident = in_progress_incident(lead=lead, owner=owner)
    clock.shift(30 * MINUTE)
    services.incident_resolve(incident=incident, actor=owner, fix="Patched")
    clock.shift(45 * MINUTE)

    passing_verification(incident, tester)

    row = reload(incident)
    assert row.restored_at == NOW + 30 * MINUTE
    assert row.resolved_at == NOW + 75 * MINUTE
    assert not row.resolve_clock_running


def test_it_never_stopped_the_resolve_clock_on_a_failed_verification(clock, lead, owner, tester):
    incident = in_progress_incident(lead=lead, owner=owner)
    clock.shift(30 * MINUTE)
    services.incident_resolve(incident=incident, actor=owner, fix="First try")
    clock.shift(10 * MINUTE)

    services.incident_verify(
        incident=incident,
        actor=tester,
        functional_ok=False,
        regression_ok=True,
        monitoring_ok=True,
    )

    row = reload(incident)
    assert row.restored_at is None
    assert row.resolve_clock_running

    clock.shift(20 * MINUTE)
    services.incident_resolve(incident=incident, actor=owner, fix="Second try")
    clock.shift(15 * MINUTE)
    passing_verification(incident, tester)

    row = reload(incident)
    assert row.restored_at == NOW + 60 * MINUTE
    assert row.resolved_at == NOW + 75 * MINUTE
    assert not row.resolve_clock_running


def test_it_runs_the_resolve_clock_again_on_reopen(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity=Severity.P1)
    assert incident.restored_at == NOW
    clock.shift(5 * HOUR)

    services.incident_reopen(incident=incident, actor=lead, reason="Back again")

    row = reload(incident)
    assert row.restored_at is None
    assert row.resolve_clock_running
    # Service was never really restored: the deadline still counts from received_at.
    assert row.resolve_by == NOW + 240 * MINUTE
