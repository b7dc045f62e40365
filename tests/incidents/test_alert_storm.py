"""Alert storms: each threshold crossed tells the tech leads once and writes one entry."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation.models import Clock, Notice
from incidents import alerts
from incidents.models import Incident
from tests.incidents.alert_helpers import am, firing, integration, notes, parsed, receive

pytestmark = pytest.mark.django_db

STORM = "Alert storm:"


def storms(incident) -> list[tuple[int, dict]]:
    return list(
        Notice.objects.filter(incident=incident, clock=Clock.STORM)
        .order_by("level")
        .values_list("level", "details")
    )


def fingerprints(prefix, start, stop):
    return firing(*(f"{prefix}{i:04d}" for i in range(start, stop)))


def test_it_tells_the_tech_leads_once_per_threshold_across_batches(clock, platform, lead):
    source = integration(platform)
    receive(source, am("NodeDown", fingerprints("n", 0, 5)))
    incident = Incident.objects.get()
    for start in range(5, 150, 5):  # 29 more batches: 150 alerts in all
        receive(source, am("NodeDown", fingerprints("n", start, start + 5)))
        receive(source, am("NodeDown", fingerprints("n", start, start + 5)))  # retried

    assert storms(incident) == [
        (1, {"threshold": 10, "alerts": 10}),
        (2, {"threshold": 100, "alerts": 100}),
    ]
    notice = Notice.objects.get(incident=incident, level=1)
    assert notice.recipients == [lead.username]
    entries = [n for n in notes(incident) if n.startswith(STORM)]
    assert len(entries) == 2
    assert "10 alerts" in entries[0]
    assert "100 alerts" in entries[1]


def test_it_stops_noting_each_new_alert_after_the_first_threshold(clock, platform, lead):
    source = integration(platform)
    receive(source, am("NodeDown", fingerprints("n", 0, 1)))
    incident = Incident.objects.get()
    for i in range(1, 15):
        receive(source, am("NodeDown", fingerprints("n", i, i + 1)))

    written = notes(incident)
    fired = [n for n in written if n.startswith("Another alert of this group fired")]
    assert len(fired) == 8  # alerts 2 to 9; the 10th crosses the threshold
    assert [n.startswith(STORM) for n in written].count(True) == 1
    assert written.index(next(n for n in written if n.startswith(STORM))) == 8


def test_it_sends_one_notice_per_threshold_in_a_1200_alert_storm(clock, platform, lead):
    source = integration(platform)
    storm = parsed(am("NodeDown", fingerprints("n", 0, 400)))
    storm += parsed(am("NodeDown", fingerprints("n", 400, 800)))
    storm += parsed(am("NodeDown", fingerprints("n", 800, 1200)))

    with CaptureQueriesContext(connection) as queries:
        [result] = alerts.alerts_receive(integration=source, alerts=storm)

    incident = result.incident
    assert result.alerts == 1200
    assert Incident.objects.get().alert_count == 1200
    assert [level for level, _details in storms(incident)] == [1, 2, 3]
    assert {d["alerts"] for _level, d in storms(incident)} == {1200}
    assert Notice.objects.filter(clock=Clock.STORM).count() == 3
    written = notes(incident)
    # As if posted one by one: alerts 2 to 9 are noted (in one entry), then the storms.
    assert written[0] == "Another alert of this group fired: NodeDown — NodeDown fires (×8)"
    assert len(written) == 4
    assert all(n.startswith(STORM) for n in written[1:])
    # Bounded by the thresholds, not the alerts (SQLite splits the 1,200-row insert).
    assert len(queries) < 140, "\n".join(q["sql"][:200] for q in queries.captured_queries)


def test_it_sends_nothing_without_thresholds(clock, platform, lead):
    source = integration(platform, storm_thresholds=[])

    receive(source, am("NodeDown", fingerprints("n", 0, 200)))

    assert not Notice.objects.filter(clock=Clock.STORM).exists()


def test_it_uses_the_integrations_own_thresholds(clock, platform, lead):
    source = integration(platform, storm_thresholds=[3])

    receive(source, am("NodeDown", fingerprints("n", 0, 2)))
    receive(source, am("NodeDown", fingerprints("n", 2, 4)))

    assert storms(Incident.objects.get()) == [(1, {"threshold": 3, "alerts": 4})]
