"""An incident opened under a maintenance window in mode "mark" is held: none of its
clocks runs, nobody is paged, until the window releases it; then the held time is
added to its respond and resolve windows."""

from datetime import timedelta

import pytest

from escalation.engine import sweep_due_deadlines
from escalation.models import Notice
from incidents import services
from incidents.models import Incident, MaintenanceWindow, Pause, TimelineEvent
from incidents.selectors import overdue_q
from tests.conftest import NOW
from tests.factories import IncidentFactory, make_user

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def window(platform):
    return MaintenanceWindow.objects.create(
        team=platform,
        title="Database upgrade",
        starts_at=NOW - HOUR,
        ends_at=NOW + 2 * HOUR,
        mode=MaintenanceWindow.Mode.MARK,
    )


@pytest.fixture
def held(clock, platform, lead, onduty, window):
    incident = IncidentFactory(actor=None, team=platform, severity="P1")  # 15 min / 4 h
    return services.incident_hold_for_window(incident=incident, window=window, now=NOW)


def test_it_opens_marked_and_paused_from_the_moment_received(held, window):
    assert held.maintenance_window == window
    assert held.paused_at == held.received_at
    assert held.held_by_window
    pause = Pause.objects.get(incident=held)
    assert pause.paused_by is None
    assert "Database upgrade" in pause.reason
    assert TimelineEvent.objects.filter(incident=held, kind=TimelineEvent.Kind.PAUSED).exists()


def test_it_pages_nobody_and_shows_nothing_late_while_held(clock, held):
    clock.move_to(NOW + 90 * MIN)  # past the respond deadline (15 min) and its ladder
    sweep_due_deadlines()

    assert not Notice.objects.filter(incident=held).exists()
    held.refresh_from_db()
    assert held.overdue_clocks(NOW + 90 * MIN) == []
    assert not Incident.objects.filter(overdue_q(NOW + 90 * MIN), pk=held.pk).exists()


def test_it_runs_the_clocks_from_the_release_with_the_held_time_added(clock, held):
    received = held.received_at
    clock.move_to(NOW + 2 * HOUR)

    released = services.incident_release_from_window(incident=held, now=NOW + 2 * HOUR)

    assert not released.held_by_window
    assert released.paused_at is None
    assert released.respond_by == received + 2 * HOUR + 15 * MIN
    assert released.resolve_by == received + 2 * HOUR + 4 * HOUR
    assert TimelineEvent.objects.filter(incident=held, kind=TimelineEvent.Kind.RESUMED).exists()
    clock.move_to(NOW + 2 * HOUR + 14 * MIN)
    sweep_due_deadlines()
    assert not Notice.objects.filter(incident=held).exists()
    clock.move_to(NOW + 2 * HOUR + 16 * MIN)
    sweep_due_deadlines()
    assert list(Notice.objects.filter(incident=held).values_list("clock", flat=True)) == ["respond"]


def test_it_counts_an_acknowledgement_during_the_hold_as_in_time(clock, held, lead):
    clock.move_to(NOW + HOUR)  # 45 minutes past the respond deadline it would have had

    acked = services.incident_acknowledge(incident=held, actor=lead)

    assert acked.respond_by >= acked.acknowledged_at
    assert acked.held_by_window  # resolve and update still wait for the window


def test_it_releases_once(clock, held):
    services.incident_release_from_window(incident=held, now=NOW + HOUR)
    again = services.incident_release_from_window(incident=held, now=NOW + 2 * HOUR)

    assert again.paused_at is None
    assert Pause.objects.filter(incident=held).count() == 1
    assert TimelineEvent.objects.filter(incident=held, kind=TimelineEvent.Kind.RESUMED).count() == 1


def test_it_leaves_a_person_s_later_pause_alone(clock, held, lead, platform):
    owner = make_user("engineer", platform)
    services.incident_release_from_window(incident=held, now=NOW + 10 * MIN)
    services.incident_acknowledge(incident=held, actor=lead)
    services.incident_assign(incident=held, actor=lead, owner=owner)
    clock.move_to(NOW + 30 * MIN)
    services.incident_pause(incident=held, actor=lead, reason="Waiting for the vendor")

    kept = services.incident_release_from_window(incident=held, now=NOW + HOUR)

    assert kept.paused_at == NOW + 30 * MIN


def test_it_does_not_hold_the_respond_clock_of_a_person_s_pause(clock, lead, platform):
    """Unchanged rule: a pause (after the acknowledgement) holds resolve and update only."""
    owner = make_user("engineer", platform)
    incident = IncidentFactory(actor=lead, team=platform, severity="P1")
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    before = Incident.objects.get(pk=incident.pk).respond_by
    clock.move_to(NOW + HOUR)
    services.incident_pause(incident=incident, actor=lead, reason="Vendor")
    clock.move_to(NOW + 2 * HOUR)
    services.incident_resume(incident=incident, actor=lead)

    assert Incident.objects.get(pk=incident.pk).respond_by == before
