"""Maintenance windows at intake: `suppress` holds alerts, `mark` marks what they file."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.models import Clock, Deadline, Notice
from incidents import alerts
from incidents.models import Alert, Incident, MaintenanceWindow
from tests.incidents.alert_helpers import am, firing, integration, receive, resolved

pytestmark = pytest.mark.django_db


def window(team, mode=MaintenanceWindow.Mode.SUPPRESS, matchers=(), hours=2):
    now = timezone.now()
    return MaintenanceWindow.objects.create(
        team=team,
        title="DB upgrade",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=hours),
        mode=mode,
        matchers=list(matchers),
    )


def test_it_holds_alerts_under_a_suppress_window_and_counts_each_once(clock, platform):
    source = integration(platform)
    held_by = window(platform, matchers=[{"name": "alertname", "value": "Db"}])

    assert receive(source, am("Db", firing("a", "b"))) == []
    clock.shift(timedelta(minutes=1))
    assert receive(source, am("Db", resolved("a") + firing("b"))) == []

    assert Incident.objects.count() == 0
    assert not Notice.objects.exists()
    rows = {a.fingerprint: a for a in Alert.objects.all()}
    assert {(f, r.status, r.held_by_id, r.incident_id) for f, r in rows.items()} == {
        ("a", "resolved", held_by.pk, None),
        ("b", "firing", held_by.pk, None),
    }
    held_by.refresh_from_db()
    assert held_by.suppressed_alerts == 2


def test_it_files_alerts_the_window_does_not_match(clock, platform):
    source = integration(platform)
    window(platform, matchers=[{"name": "alertname", "value": "Db"}])

    [result] = receive(source, am("Web", firing("w")))

    assert result.created


def test_release_takes_in_the_held_alerts_still_firing_once(clock, platform, lead):
    source = integration(platform)
    held_by = window(platform)
    receive(source, am("Db", firing("a", "b", "c")))
    receive(source, am("Web", firing("w")))
    receive(source, am("Db", resolved("c")))
    clock.shift(timedelta(hours=3))

    results = alerts.alerts_release(window=held_by, now=timezone.now())

    assert sorted((r.incident.title.split(" ")[0], r.created, r.alerts) for r in results) == [
        ("Db", True, 2),
        ("Web", True, 1),
    ]
    db = Incident.objects.get(title__startswith="Db")
    assert set(db.alerts.values_list("fingerprint", flat=True)) == {"a", "b"}
    assert (db.alert_count, db.event_count) == (2, 2)
    assert Deadline.objects.filter(incident=db, clock=Clock.RESPOND).exists()
    assert not Alert.objects.filter(held_by=held_by, status="firing").exists()
    # The resolved one keeps its record.
    assert Alert.objects.get(fingerprint="c").held_by == held_by
    assert alerts.alerts_release(window=held_by, now=timezone.now()) == []
    assert Incident.objects.count() == 2


def test_release_joins_a_group_that_opened_meanwhile(clock, platform):
    source = integration(platform)
    held_by = window(platform, hours=1)
    receive(source, am("Db", firing("a")))
    clock.shift(timedelta(hours=2))
    [opened] = receive(source, am("Db", firing("b")))

    [result] = alerts.alerts_release(window=held_by, now=timezone.now())

    assert (result.incident.pk, result.created) == (opened.incident.pk, False)
    assert Incident.objects.get().alert_count == 2


def test_a_mark_window_marks_the_incident_and_pages_nobody(clock, platform, lead):
    source = integration(
        platform, severity_rules=[{"label": "severity", "equals": ["critical"], "severity": "P0"}]
    )
    marked = window(platform, mode=MaintenanceWindow.Mode.MARK)

    [result] = receive(source, am("Db", firing("a")))

    incident = Incident.objects.get()
    assert result.created
    assert incident.maintenance_window == marked
    assert incident.severity == "P0"
    assert not incident.urgent
    assert not Deadline.objects.filter(incident=incident, clock=Clock.PAGE).exists()
    assert incident.paused_at == incident.received_at  # held until the window ends
    assert not Notice.objects.exists()


def test_a_mark_window_leaves_an_incident_opened_before_it_unmarked(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))
    window(platform, mode=MaintenanceWindow.Mode.MARK)

    receive(source, am("Db", firing("b")))

    assert Incident.objects.get().maintenance_window is None
