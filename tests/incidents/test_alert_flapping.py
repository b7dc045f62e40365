"""Flapping: 4 state changes within 60 minutes; quiet while it flaps; settled after 30."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import Notice
from incidents import alerts
from incidents.models import Alert, Incident
from tests.incidents.alert_helpers import am, firing, integration, notes, receive, resolved

pytestmark = pytest.mark.django_db

FLAPS = "Alert is flapping"
STABLE = "Alert stopped flapping"


def toggle(source, clock, times: int, minutes: int = 5, start_firing=False):
    """`times` state changes of alert "a", `minutes` apart (it starts firing)."""
    for i in range(times):
        clock.shift(timedelta(minutes=minutes))
        state = firing if (i % 2 == 1) != start_firing else resolved
        receive(source, am("Db", state("a")))


@pytest.fixture
def flapping(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a", "b")))
    toggle(source, clock, 4)
    return source


def test_it_starts_flapping_at_the_fourth_change_within_an_hour(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a", "b")))
    incident = Incident.objects.get()

    toggle(source, clock, 3)
    alert = Alert.objects.get(fingerprint="a")
    assert not alert.flapping
    assert len(notes(incident)) == 3 + 1  # "another" for b, then one per change

    toggle(source, clock, 1, start_firing=True)  # the 4th change (resolved)

    alert.refresh_from_db()
    assert alert.flapping
    assert alert.events == 5
    assert len(alert.changes) == 4
    assert notes(incident)[-1].startswith(FLAPS)
    assert "4 state changes within 60 minutes" in notes(incident)[-1]


def test_it_does_not_flap_when_the_changes_are_spread_over_more_than_the_window(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))

    toggle(source, clock, 6, minutes=25)

    alert = Alert.objects.get()
    assert not alert.flapping
    assert len(alert.changes) == 3  # 50 minutes of changes are kept: 60 would be 4


def test_it_notes_nothing_while_it_flaps(clock, flapping):
    incident = Incident.objects.get()
    entries, notices = incident.log_entries.count(), Notice.objects.count()

    toggle(flapping, clock, 7, minutes=2)

    assert incident.log_entries.count() == entries
    assert Notice.objects.count() == notices
    alert = Alert.objects.get(fingerprint="a")
    assert alert.flapping
    assert alert.events == 1 + 4 + 7


def test_it_settles_after_30_stable_minutes_with_one_entry(clock, flapping):
    incident = Incident.objects.get()
    clock.shift(timedelta(minutes=29))
    assert alerts.alerts_settle(now=clock_now()) == 0
    clock.shift(timedelta(minutes=1))

    assert alerts.alerts_settle(now=clock_now()) == 1
    assert alerts.alerts_settle(now=clock_now()) == 0

    alert = Alert.objects.get(fingerprint="a")
    assert not alert.flapping
    assert alert.changes == []
    settled = [n for n in notes(incident) if n.startswith(STABLE)]
    assert settled == [
        "Alert stopped flapping (stable for 30 minutes): Db — Db fires",
    ]


def test_it_settles_at_the_next_delivery_of_its_integration(clock, flapping):
    incident = Incident.objects.get()
    clock.shift(timedelta(minutes=45))

    receive(flapping, am("Db", firing("b")))  # b unchanged: only the settling runs

    assert not Alert.objects.get(fingerprint="a").flapping
    assert notes(incident)[-1].startswith(STABLE)


def test_its_changes_are_noted_again_once_settled(clock, flapping):
    incident = Incident.objects.get()
    clock.shift(timedelta(minutes=31))
    alerts.alerts_settle(now=clock_now())

    clock.shift(timedelta(minutes=1))
    receive(flapping, am("Db", resolved("a")))  # it was firing after its 4 changes

    assert notes(incident)[-1].startswith("Alert resolved at the source: Db — Db fires")


def test_it_settles_in_one_query_when_nothing_flaps(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))

    with CaptureQueriesContext(connection) as queries:
        assert alerts.alerts_settle(now=clock_now()) == 0

    assert len([q for q in queries.captured_queries if q["sql"].startswith("SELECT")]) == 1


def clock_now():
    return timezone.now()
