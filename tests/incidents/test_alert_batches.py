"""Alert intake in batches: an Alertmanager delivery carries up to 500 alerts.

A delivery costs a fixed number of queries per group and per incident it
touches, never per alert (the query counts are printed on failure); a batch
leaves what the same alerts posted one by one leave, except that its notes on
one incident share one log entry; a retried delivery adds nothing; a delivery
that fails midway leaves nothing.
"""

import json
import re
import threading
from collections import Counter
from math import ceil
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import localtime
from rest_framework.test import APIClient

from incidents import alerts, services
from incidents.api.alerts import AlertmanagerPayload
from incidents.models import Alert, AlertIntegration, Incident, LogEntry, TimelineEvent

pytestmark = pytest.mark.django_db

ENDED = "2026-11-26T01:58:00Z"


def payload(group: str, batch: list[tuple[str, str]]) -> dict:
    """An Alertmanager v4 delivery of one group; `batch` holds (fingerprint, status)."""
    return {
        "version": "4",
        "groupKey": f'{{}}/{{severity="critical"}}:{{alertname="{group}"}}',
        "status": "firing",
        "receiver": "responder",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group, "severity": "critical", "env": "prod"},
        "commonAnnotations": {"summary": f"{group} on several nodes"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": group,
                    "severity": "critical",
                    "env": "prod",
                    "instance": f"{fingerprint}.node.internal:9100",
                    "job": "node",
                },
                "annotations": {
                    "summary": f"{group} on several nodes",
                    "description": f"{fingerprint} reports {group}",
                },
                "startsAt": "2026-11-26T01:50:00Z",
                "endsAt": ENDED if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fingerprint,
            }
            for fingerprint, status in batch
        ],
    }


def parsed(group: str, batch: list[tuple[str, str]]) -> list[alerts.ParsedAlert]:
    serializer = AlertmanagerPayload(data=payload(group, batch))
    serializer.is_valid(raise_exception=True)
    return alerts.from_alertmanager(serializer.validated_data)


def firing(prefix: str, start: int, stop: int) -> list[tuple[str, str]]:
    return [(f"{prefix}{i:04d}", "firing") for i in range(start, stop)]


def resolved(prefix: str, start: int, stop: int) -> list[tuple[str, str]]:
    return [(f"{prefix}{i:04d}", "resolved") for i in range(start, stop)]


def interleave(*sequences: list) -> list:
    """Round robin over the sequences, each kept in its own order."""
    merged, longest = [], max(len(s) for s in sequences)
    for i in range(longest):
        merged += [s[i] for s in sequences if i < len(s)]
    return merged


def without_storms(integration):
    """These tests compare batches with alerts posted one by one, and pin query
    counts per group: storm thresholds (a notice and an entry when an incident
    reaches 10, 100, 1000 alerts; tests/incidents/test_alert_storm.py) are off."""
    AlertIntegration.objects.filter(pk=integration.pk).update(storm_thresholds=[])
    integration.storm_thresholds = []
    return integration


@pytest.fixture
def integration(platform):
    integration, token = alerts.integration_create(
        name="prometheus", team=platform, rate_limit_per_minute=10_000
    )
    integration.token = token
    return without_storms(integration)


def post(token: str, body: dict):
    return APIClient().post(
        f"/api/v1/alerts/{token}/", json.dumps(body), content_type="application/json"
    )


def monitoring_notes(incident: Incident) -> list[str]:
    return list(
        incident.log_entries.filter(author=None, kind=LogEntry.Kind.NOTE)
        .order_by("pk")
        .values_list("text", flat=True)
    )


COUNTED = re.compile(r"^(?P<note>.*) \(×(?P<count>\d+)\)$")


def expanded(texts: list[str]) -> Counter:
    """The notes of log entries, one per alert again: 'note (×3)' counts three."""
    notes = Counter()
    for text in texts:
        for line in text.splitlines():
            match = COUNTED.match(line)
            notes[match["note"] if match else line] += int(match["count"]) if match else 1
    return notes


def left_by(integration) -> dict:
    """What intake left for one integration, by group, comparable with another's."""
    state = {}
    incidents = Incident.objects.filter(alerts__integration=integration).distinct()
    for incident in incidents.order_by("pk"):
        rows = incident.alerts.order_by("fingerprint")
        state.setdefault(rows[0].group_key, []).append(
            {
                "title": incident.title,
                "symptoms": incident.symptoms,
                "severity": incident.severity,
                "state": incident.state,
                "source": incident.source,
                "alerts": list(
                    rows.values_list(
                        "fingerprint",
                        "status",
                        "summary",
                        "labels",
                        "annotations",
                        "starts_at",
                        "ends_at",
                        "events",
                    )
                ),
                "notes": expanded(monitoring_notes(incident)),
            }
        )
    return state


# ---------------------------------------------------------------- queries

# Intake writes alert rows in one upsert: new rows without their id, stored ones with it.
INSERTED = len([f for f in Alert._meta.concrete_fields if not f.primary_key])
UPDATED = INSERTED + 1


def statements(rows: int, fields: int) -> int:
    """Statements Django splits a bulk write of `rows` rows into on this database:
    one on PostgreSQL; SQLite caps the parameters of one statement at 999."""
    if not rows:
        return 0
    return ceil(rows / connection.ops.bulk_batch_size([None] * fields, [None] * rows))


def bulk(inserted: int, updated: int) -> int:
    return statements(inserted, INSERTED) + statements(updated, UPDATED)


def captured(token: str, body: dict) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = post(token, body)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize(
    "step", ["files", "adds to the open incident", "is retried", "resolves", "fires again"]
)
def test_it_costs_the_same_queries_for_10_and_200_alerts(clock, platform, step):
    def run(size: int) -> tuple[list[str], int]:
        integration, token = alerts.integration_create(name=f"n{size}", team=platform)
        without_storms(integration)
        group = "NodeDown"
        steps = [
            ("files", payload(group, firing("a", 0, size)), size, 0),
            ("adds to the open incident", payload(group, firing("b", 0, size)), size, 0),
            ("is retried", payload(group, firing("b", 0, size)), 0, 0),  # writes no row
            ("resolves", payload(group, resolved("b", 0, size)), 0, size),
            ("fires again", payload(group, firing("b", 0, size)), 0, size),
        ]
        for name, body, inserted, updated in steps:
            if name == step:
                return captured(token, body), bulk(inserted, updated)
            assert post(token, body).status_code == 200
        raise AssertionError(step)

    small, small_bulk = run(10)
    big, big_bulk = run(200)

    # Equal on PostgreSQL; on SQLite the bulk writes of 200 rows take a few statements.
    assert len(big) - big_bulk == len(small) - small_bulk, "\n".join(big)
    # 44: a delivery also asks for flapping alerts to settle and for the team's active
    # maintenance windows, and keeps the incident's alert and event counts (one each).
    assert len(big) <= 44, "\n".join(big)


def test_it_costs_queries_per_group_not_per_alert_in_a_batch_of_several_groups(
    clock, integration, lead
):
    def batch(size: int, tag: str) -> list[alerts.ParsedAlert]:
        return interleave(
            parsed(f"New{tag}", firing("n", 0, size)),
            parsed(f"Open{tag}", firing("o", 0, size) + resolved("x", 0, size)),
            parsed(f"Closed{tag}", resolved("c", 0, size)),
        )

    def prepare(tag: str) -> None:
        alerts.alerts_receive(
            integration=integration, alerts=parsed(f"Open{tag}", firing("x", 0, 1))
        )
        alerts.alerts_receive(
            integration=integration, alerts=parsed(f"Closed{tag}", firing("c", 0, 1))
        )
        closed = Incident.objects.get(title__startswith=f"Closed{tag}")
        services.incident_cancel(incident=closed, actor=lead, reason="maintenance")

    def queries(size: int, tag: str) -> list[str]:
        prepare(tag)
        with CaptureQueriesContext(connection) as captured:
            alerts.alerts_receive(integration=integration, alerts=batch(size, tag))
        return [q["sql"] for q in captured.captured_queries]

    small, big = queries(10, "S"), queries(100, "B")

    # New rows: n*, o*, x0001..; changed rows: x0000 and c0000 (the closed incident's
    # other resolutions were never seen firing: nothing to update, nothing written).
    assert len(big) - bulk(3 * 100 - 1, 2) == len(small) - bulk(3 * 10 - 1, 2), "\n".join(big)
    assert len(big) <= 3 * 25, "\n".join(big)


# ---------------------------------------------------------------- the same state


def test_it_folds_500_alerts_of_a_few_groups_as_posting_them_one_by_one(clock, platform, lead):
    one_by_one, _ = alerts.integration_create(name="one-by-one", team=platform)
    batched, _ = alerts.integration_create(name="batched", team=platform)
    for integration in (one_by_one, batched):
        without_storms(integration)
        # DiskFull has an open incident with 50 alerts; MemoryHigh a cancelled one.
        alerts.alerts_receive(
            integration=integration, alerts=parsed("DiskFull", firing("d", 0, 50))
        )
        alerts.alerts_receive(
            integration=integration, alerts=parsed("MemoryHigh", firing("m", 0, 30))
        )
        memory = (
            Incident.objects.filter(alerts__integration=integration, title__startswith="Memory")
            .distinct()
            .get()
        )
        services.incident_cancel(incident=memory, actor=lead, reason="false alarm")
    batch = interleave(
        # A new group: 295 fire, 20 of them resolve later in the same delivery.
        parsed("NodeDown", firing("h", 0, 200) + resolved("h", 0, 20) + firing("h", 200, 295)),
        # The open incident: 25 of its alerts resolve, 100 new ones fire.
        parsed("DiskFull", resolved("d", 0, 25) + firing("d", 50, 150)),
        # The cancelled incident: resolutions are noted there until an alert fires and
        # files a new incident, which takes the resolutions after it.
        parsed("MemoryHigh", resolved("m", 0, 15) + firing("m", 100, 120) + resolved("m", 15, 30)),
        # Never seen firing: nothing is filed.
        parsed("CpuSteal", resolved("s", 0, 10)),
    )
    assert len(batch) == 500

    for alert in batch:
        alerts.alerts_receive(integration=one_by_one, alerts=[alert])
    entries, events = LogEntry.objects.count(), TimelineEvent.objects.count()
    results = alerts.alerts_receive(integration=batched, alerts=batch)

    assert left_by(batched) == left_by(one_by_one)
    groups = left_by(batched)
    assert set(groups) == {a.group_key for a in batch} - {payload("CpuSteal", [])["groupKey"]}
    assert [(len(g), sum(len(i["alerts"]) for i in g)) for g in groups.values()] == [
        (1, 150),  # DiskFull
        (2, 65),  # MemoryHigh: the cancelled incident (30) and the new one (35)
        (1, 295),  # NodeDown
    ]
    # The batch wrote one note, and its audit event, on each of the 3 open incidents it
    # reached (and a "created" event for each of the 2 it filed); the cancelled one only
    # had its alert rows updated.
    reached = sorted(r.incident.pk for r in results if r.incident.state != "cancelled")
    assert len(reached) == 3
    written = LogEntry.objects.order_by("pk")[entries:]
    assert sorted(e.incident_id for e in written) == reached
    logged = TimelineEvent.objects.order_by("pk")[events:]
    assert sorted(e.incident_id for e in logged if e.kind == TimelineEvent.Kind.LOGGED) == reached
    assert len(logged) == 3 + 2
    # The answer names each incident once, in the order the batch reached them.
    assert [(r.incident.title.split(" ")[0], r.created, r.alerts) for r in results] == [
        ("NodeDown", True, 315),
        ("DiskFull", False, 125),
        ("MemoryHigh", False, 15),
        ("MemoryHigh", True, 35),
    ]


def test_it_changes_nothing_when_the_same_delivery_is_retried(clock, integration, lead):
    alerts.alerts_receive(integration=integration, alerts=parsed("DiskFull", firing("d", 0, 60)))
    body = payload("DiskFull", resolved("d", 0, 40) + firing("d", 60, 300) + firing("d", 40, 60))

    def state():
        return (
            list(Incident.objects.order_by("pk").values("pk", "state", "severity", "title")),
            list(
                Alert.objects.order_by("pk").values_list(
                    "pk", "incident", "fingerprint", "status", "labels", "ends_at", "last_seen"
                )
            ),
            list(LogEntry.objects.order_by("pk").values_list("pk", "text")),
            TimelineEvent.objects.count(),
        )

    first = post(integration.token, body)
    after_first = state()
    seen = dict(Alert.objects.values_list("fingerprint", "events"))
    retry = post(integration.token, body)

    assert retry.status_code == first.status_code == 200
    assert state() == after_first
    # A retry is no event: the counts stay as they were.
    assert dict(Alert.objects.values_list("fingerprint", "events")) == seen
    assert Incident.objects.values_list("alert_count", "event_count").get() == (
        300,
        sum(seen.values()),
    )
    assert first.json() == {
        "incidents": [
            {
                "id": Incident.objects.get().pk,
                "number": Incident.objects.get().number,
                "state": "new",
                "severity": "P1",
                "created": False,
                "alerts": 300,
            }
        ]
    }
    assert retry.json() == first.json()


def test_it_leaves_nothing_of_a_delivery_that_fails_midway_and_loses_nothing_on_retry(
    clock, integration
):
    batch = interleave(
        parsed("NodeDown", firing("h", 0, 200)), parsed("DiskFull", firing("d", 0, 200))
    )
    note = services.incident_note_from_monitoring
    calls = []

    def note_then_fail(**kwargs):
        calls.append(kwargs["incident"].pk)
        if len(calls) == 2:  # the first group's rows and note are written by now
            raise ConnectionError("the database went away")
        return note(**kwargs)

    with (
        mock.patch.object(services, "incident_note_from_monitoring", side_effect=note_then_fail),
        pytest.raises(ConnectionError),
    ):
        alerts.alerts_receive(integration=integration, alerts=batch)

    assert len(calls) == 2
    assert Incident.objects.count() == Alert.objects.count() == LogEntry.objects.count() == 0
    assert TimelineEvent.objects.count() == 0

    results = alerts.alerts_receive(integration=integration, alerts=batch)

    assert [(r.created, r.alerts) for r in results] == [(True, 200), (True, 200)]
    assert Alert.objects.filter(events=1).count() == 400
    assert LogEntry.objects.count() == 2


def test_it_folds_firing_and_resolved_alerts_of_one_delivery(clock, integration):
    post(integration.token, payload("DiskFull", firing("d", 0, 30)))
    post(integration.token, payload("DiskFull", resolved("d", 20, 30)))
    incident = Incident.objects.get()
    entries = LogEntry.objects.count()

    response = post(
        integration.token,
        payload(
            "DiskFull",
            resolved("d", 0, 10)  # firing → resolved
            + firing("d", 20, 25)  # resolved → firing again
            + firing("d", 10, 20)  # still firing: no note
            + firing("n", 0, 40)  # new alerts of the group
            + resolved("r", 0, 3),  # new, already resolved
        ),
    )

    assert response.status_code == 200
    assert response.json()["incidents"][0] | {"id": 0, "number": ""} == {
        "id": 0,
        "number": "",
        "state": "new",
        "severity": "P1",
        "created": False,
        "alerts": 68,
    }
    statuses = dict(Alert.objects.values_list("fingerprint", "status"))
    assert Counter(statuses.values()) == {"firing": 20 - 10 + 5 + 40, "resolved": 10 + 10 - 5 + 3}
    assert statuses["d0000"] == "resolved"
    assert statuses["d0020"] == "firing"
    assert statuses["d0025"] == "resolved"
    assert Alert.objects.get(fingerprint="d0010").events == 1  # a repeat is no event
    assert Alert.objects.get(fingerprint="d0020").events == 3
    assert Alert.objects.get(fingerprint="n0000").events == 1
    [entry] = LogEntry.objects.order_by("pk")[entries:]
    title = incident.title
    ended = localtime(Alert.objects.get(fingerprint="d0000").ends_at).isoformat(timespec="seconds")
    assert entry.text.splitlines() == [
        f"Alert resolved at the source: {title} (ended {ended}) (×10)",
        f"Alert fired again: {title} (×5)",
        f"Another alert of this group fired: {title} (×40)",
        f"Alert resolved at the source: {title} (×3)",
    ]
    assert incident.events.filter(kind="logged").last().message == f"Monitoring: {entry.text}"


def test_it_counts_the_notes_beyond_twenty_kinds(clock, integration):
    post(integration.token, payload("DiskFull", firing("d", 0, 1)))
    body = payload("DiskFull", firing("d", 1, 31))
    for i, alert in enumerate(body["alerts"]):
        alert["annotations"]["summary"] = f"disk {i} full"

    post(integration.token, body)

    [entry] = Incident.objects.get().log_entries.all()
    lines = entry.text.splitlines()
    assert len(lines) == 21
    assert lines[0] == "Another alert of this group fired: DiskFull — disk 0 full"
    assert lines[-1] == "…and 10 more alerts."


def test_it_sends_a_delivery_to_the_open_incident_and_resolutions_to_a_closed_one(
    clock, integration, lead, owner, tester
):
    post(integration.token, payload("DiskFull", firing("d", 0, 20)))
    solved = Incident.objects.get()
    services.incident_acknowledge(incident=solved, actor=lead)
    services.incident_assign(incident=solved, actor=lead, owner=owner)
    services.incident_resolve(incident=solved, actor=owner, fix="cleaned up /var")
    services.incident_verify(
        incident=solved, actor=tester, functional_ok=True, regression_ok=True, monitoring_ok=True
    )

    # Resolutions of a group whose incident people resolved: its rows updated, no note.
    answer = post(integration.token, payload("DiskFull", resolved("d", 0, 20))).json()

    assert [(i["id"], i["state"], i["created"], i["alerts"]) for i in answer["incidents"]] == [
        (solved.pk, "resolved", False, 20)
    ]
    solved.refresh_from_db()
    assert solved.state == "resolved"
    assert monitoring_notes(solved) == [
        "Another alert of this group fired: DiskFull — DiskFull on several nodes (×19)"
    ]
    assert solved.alerts.filter(status="resolved").count() == 20

    # The group fires again: a new incident takes these alerts, and the next delivery too.
    answer = post(integration.token, payload("DiskFull", firing("d", 0, 20))).json()
    [(again, created, count)] = [(i["id"], i["created"], i["alerts"]) for i in answer["incidents"]]
    assert (created, count) == (True, 20)
    answer = post(integration.token, payload("DiskFull", resolved("d", 0, 20))).json()
    assert [(i["id"], i["created"], i["alerts"]) for i in answer["incidents"]] == [
        (again, False, 20)
    ]
    assert Incident.objects.count() == 2
    assert solved.alerts.filter(status="resolved").count() == 20
    assert Incident.objects.get(pk=again).alerts.filter(status="resolved").count() == 20
    assert len(monitoring_notes(solved)) == 1  # its other alerts; no resolution notes


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_files_one_incident_for_simultaneous_batches_of_a_group(platform):
    integration, token = alerts.integration_create(name="ha", team=platform)
    body = payload("NodeDown", firing("h", 0, 200))
    barrier = threading.Barrier(3)
    codes = []

    def deliver():
        try:
            barrier.wait()
            codes.append(post(token, body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert codes == [200, 200, 200]
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 200
    # The two later deliveries repeat the first: no events.
    assert set(Alert.objects.values_list("events", flat=True)) == {1}
