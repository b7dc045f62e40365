"""Grouping alerts into incidents: group_by labels, group_window, the generic `group`."""

from datetime import timedelta

import pytest

from incidents.models import Alert, Incident
from tests.incidents.alert_helpers import am, firing, integration, notes, receive, resolved

pytestmark = pytest.mark.django_db


def test_it_groups_by_the_integrations_labels_across_group_keys(clock, platform):
    source = integration(platform, group_by=["cluster"])

    receive(source, am("DiskFull", firing("a"), labels={"cluster": "east"}))
    receive(source, am("NodeDown", firing("b"), labels={"cluster": "east"}))
    receive(source, am("NodeDown", firing("c"), labels={"cluster": "west"}))

    east, west = Incident.objects.order_by("pk")
    assert set(east.alerts.values_list("fingerprint", flat=True)) == {"a", "b"}
    assert set(west.alerts.values_list("fingerprint", flat=True)) == {"c"}
    assert Alert.objects.get(fingerprint="a").group_key == '{cluster="east"}'


def test_it_uses_alertmanagers_group_key_without_group_by(clock, platform):
    source = integration(platform)

    receive(source, am("DiskFull", firing("a"), labels={"cluster": "east"}))
    receive(source, am("NodeDown", firing("b"), labels={"cluster": "east"}))

    assert Incident.objects.count() == 2


def test_it_joins_the_open_incident_only_within_the_group_window(clock, platform):
    source = integration(platform, group_window_minutes=30)
    receive(source, am("DiskFull", firing("a")))
    first = Incident.objects.get()

    clock.shift(timedelta(minutes=29))
    [joined] = receive(source, am("DiskFull", firing("b")))
    clock.shift(timedelta(minutes=2))  # 31 minutes after the first was received
    [filed] = receive(source, am("DiskFull", firing("c")))

    assert (joined.incident.pk, joined.created) == (first.pk, False)
    assert filed.created
    assert filed.incident.pk != first.pk
    assert filed.incident.recurrence_of is None  # the first is still open: no recurrence
    assert set(first.alerts.values_list("fingerprint", flat=True)) == {"a", "b"}
    assert list(filed.incident.alerts.values_list("fingerprint", flat=True)) == ["c"]


def test_it_keeps_joining_an_open_incident_without_a_window(clock, platform):
    source = integration(platform)
    receive(source, am("DiskFull", firing("a")))
    clock.shift(timedelta(days=3))

    [result] = receive(source, am("DiskFull", firing("b")))

    assert result.created is False
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alert_count == 2


def test_it_groups_the_generic_json_by_its_group_field(clock, platform):
    source = integration(platform)
    body = {"title": "Pool exhausted", "dedup_key": "pool-a", "group": "database"}

    receive(source, body)
    receive(source, {**body, "dedup_key": "pool-b", "title": "Pool B exhausted"})
    receive(source, {"title": "Other", "dedup_key": "pool-c"})  # no group: its dedup_key

    database, other = Incident.objects.order_by("pk")
    assert set(database.alerts.values_list("fingerprint", flat=True)) == {"pool-a", "pool-b"}
    assert list(other.alerts.values_list("group_key", flat=True)) == ["pool-c"]
    assert notes(database) == ["Another alert of this group fired: Pool B exhausted"]


def test_it_keeps_alert_and_event_counts_on_the_incident(clock, platform):
    source = integration(platform)
    receive(source, am("DiskFull", firing("a", "b", "c")))
    receive(source, am("DiskFull", resolved("a") + firing("d")))
    clock.shift(timedelta(minutes=1))
    receive(source, am("DiskFull", firing("a")))

    incident = Incident.objects.get()
    assert incident.alert_count == 4 == incident.alerts.count()
    assert incident.event_count == 6 == sum(incident.alerts.values_list("events", flat=True))
