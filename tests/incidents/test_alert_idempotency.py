"""A duplicate delivery (an Alertmanager retry resends the same payload) changes nothing."""

import json
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from escalation.models import Notice
from incidents.models import Alert, Incident, LogEntry, TimelineEvent
from tests.incidents.alert_helpers import am, firing, integration, receive, resolved

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        list(Incident.objects.order_by("pk").values()),
        list(Alert.objects.order_by("pk").values()),
        list(LogEntry.objects.order_by("pk").values()),
        list(TimelineEvent.objects.order_by("pk").values()),
        list(Notice.objects.order_by("pk").values()),
    )


def post(token, body):
    return APIClient().post(
        f"/api/v1/alerts/{token}/", json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize(
    "delivery",
    [
        am("Db", firing(*(f"n{i}" for i in range(12)))),  # files, crosses a storm threshold
        am("Db", resolved("a") + firing("b", "c")),  # resolves, adds
    ],
)
def test_it_leaves_every_row_and_count_identical_on_a_retry(clock, platform, lead, delivery):
    source = integration(platform)
    receive(source, am("Db", firing("a")))
    clock.shift(timedelta(minutes=3))
    first = post(source.token, delivery)
    before = snapshot()
    clock.shift(timedelta(seconds=30))

    retry = post(source.token, delivery)

    assert first.status_code == retry.status_code == 200
    assert snapshot() == before
    assert retry.json()["incidents"][0]["created"] is False


def test_a_retry_does_not_count_as_a_flapping_change(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))
    for body in [resolved("a"), firing("a"), resolved("a")]:
        clock.shift(timedelta(minutes=1))
        receive(source, am("Db", body))
        receive(source, am("Db", body))

    alert = Alert.objects.get()
    assert (alert.events, len(alert.changes), alert.flapping) == (4, 3, False)


def test_a_new_starts_at_is_an_event_without_a_state_change(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))

    receive(source, am("Db", firing("a"), starts="2026-11-26T01:55:00Z"))

    alert = Alert.objects.get()
    assert (alert.events, alert.changes) == (2, [])
    assert Incident.objects.get().event_count == 2
