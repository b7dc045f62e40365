"""The maintenance windows' lifecycle, as the periodic sweep runs it: each start and
end once on the team's timeline; at the end, the alerts a window held that still
fire are processed as if they had just arrived, and its marked incidents get their
clocks back — after a restart too, and without a burst."""

from datetime import timedelta

import pytest

from escalation.models import Notice
from incidents import alerts
from incidents.maintenance.lifecycle import sweep_windows
from incidents.models import Alert, Incident, MaintenanceWindow, TeamEvent
from tests.conftest import NOW
from tests.incidents import alert_helpers

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def am_payload(group, *fingerprints, status="firing", **labels):
    return {
        "version": "4",
        "groupKey": group,
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": group, "severity": "critical", **labels},
                "annotations": {"summary": f"{group} is failing"},
                "startsAt": "2026-11-26T01:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fp,
            }
            for fp in fingerprints
        ],
    }


def receive(integration, payload):
    return alert_helpers.receive(integration, payload)


@pytest.fixture
def integration(platform, lead):
    integration, _token = alerts.integration_create(name="prometheus", team=platform)
    return integration


@pytest.fixture
def window(platform):
    return MaintenanceWindow.objects.create(
        team=platform,
        title="Database upgrade",
        starts_at=NOW,
        ends_at=NOW + 2 * HOUR,
        matchers=[{"name": "cluster", "value": "db-.*", "is_regex": True}],
    )


def test_it_writes_each_start_and_end_once(clock, platform, window):
    assert sweep_windows(NOW + MIN) == {"started": 1, "ended": 0, "released": 0}
    assert sweep_windows(NOW + 2 * MIN)["started"] == 0
    clock.move_to(NOW + 2 * HOUR + MIN)
    assert sweep_windows(NOW + 2 * HOUR + MIN)["ended"] == 1
    assert sweep_windows(NOW + 2 * HOUR + 2 * MIN)["ended"] == 0

    events = list(TeamEvent.objects.filter(team=platform).order_by("at"))
    assert [e.at for e in events] == [NOW, NOW + 2 * HOUR]  # when it happened, not when seen
    assert [(e.kind, e.window_id, e.text) for e in events] == [
        ("maintenance_started", window.pk, "Database upgrade"),
        ("maintenance_ended", window.pk, "Database upgrade"),
    ]


def test_it_releases_the_alerts_still_firing_at_the_end(clock, integration, window):
    clock.move_to(NOW + MIN)
    sweep_windows(NOW + MIN)
    receive(integration, am_payload("DbDown", "a1", "a2", cluster="db-main"))
    receive(integration, am_payload("DbSlow", "b1", cluster="db-main"))
    receive(integration, am_payload("DbSlow", "b1", status="resolved", cluster="db-main"))
    assert not Incident.objects.exists()
    assert Alert.objects.filter(held_by=window).count() == 3

    clock.move_to(NOW + 2 * HOUR + MIN)
    counts = sweep_windows(NOW + 2 * HOUR + MIN)

    incident = Incident.objects.get()  # DbSlow resolved meanwhile: nothing to open
    assert counts["released"] == 2
    assert set(incident.alerts.values_list("fingerprint", flat=True)) == {"a1", "a2"}
    assert Notice.objects.filter(incident=incident).count() <= 1  # the usual page at most
    assert sweep_windows(NOW + 2 * HOUR + 2 * MIN)["released"] == 0
    assert Incident.objects.count() == 1


def test_it_releases_after_a_restart_during_the_window(clock, integration, window):
    """Nothing lives in memory: a sweep that never saw the start still ends it."""
    MaintenanceWindow.objects.filter(pk=window.pk).update(started_occurrence=NOW)
    clock.move_to(NOW + MIN)
    receive(integration, am_payload("DbDown", "a1", cluster="db-main"))

    clock.move_to(NOW + 3 * HOUR)
    counts = sweep_windows(NOW + 3 * HOUR)

    assert counts == {"started": 0, "ended": 1, "released": 1}
    assert Incident.objects.count() == 1


def test_it_releases_at_once_when_ended_early(clock, integration, window, lead):
    from incidents.maintenance.services import window_end

    clock.move_to(NOW + MIN)
    sweep_windows(NOW + MIN)
    receive(integration, am_payload("DbDown", "a1", cluster="db-main"))
    clock.move_to(NOW + 10 * MIN)
    window_end(window=window, actor=lead, now=NOW + 10 * MIN)

    counts = sweep_windows(NOW + 10 * MIN)

    assert counts["ended"] == 1
    assert Incident.objects.count() == 1
    assert TeamEvent.objects.get(kind="maintenance_ended").at == NOW + 10 * MIN


def test_it_gives_the_marked_incidents_their_clocks_back(clock, integration, window):
    MaintenanceWindow.objects.filter(pk=window.pk).update(mode=MaintenanceWindow.Mode.MARK)
    clock.move_to(NOW + MIN)
    sweep_windows(NOW + MIN)
    receive(integration, am_payload("DbDown", "a1", cluster="db-main"))
    incident = Incident.objects.get()
    assert incident.maintenance_window_id == window.pk
    assert incident.held_by_window

    clock.move_to(NOW + 2 * HOUR + MIN)
    sweep_windows(NOW + 2 * HOUR + MIN)

    incident.refresh_from_db()
    assert not incident.held_by_window
    assert incident.respond_clock_running


def test_it_leaves_alerts_outside_the_window_alone(clock, integration, window):
    clock.move_to(NOW + MIN)
    sweep_windows(NOW + MIN)

    receive(integration, am_payload("WebDown", "w1", cluster="web-1"))

    assert Incident.objects.count() == 1
    assert not Alert.objects.filter(held_by__isnull=False).exists()


def test_the_periodic_task_runs_the_whole_lifecycle(clock, integration, window, lead):
    from escalation.tasks import sweep_maintenance

    clock.move_to(NOW + MIN)
    assert sweep_maintenance()["started"] == 1
    receive(integration, am_payload("DbDown", "a1", cluster="db-main"))
    clock.move_to(NOW + 2 * HOUR + MIN)

    result = sweep_maintenance()

    assert result["ended"] == 1
    assert result["released"] == 1
    assert Incident.objects.count() == 1
