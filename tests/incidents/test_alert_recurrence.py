"""A resolved incident absorbs nothing: a new firing files a recurrence of it."""

from datetime import timedelta

import pytest

from incidents import services
from incidents.models import Alert, Incident, TimelineEvent
from tests.incidents.alert_helpers import am, close, firing, integration, notes, receive, resolved

pytestmark = pytest.mark.django_db


def test_it_files_a_recurrence_when_the_group_fires_after_its_incident_was_resolved(
    clock, platform, lead, owner, tester
):
    source = integration(platform)
    receive(source, am("DiskFull", firing("a")))
    first = close(Incident.objects.get(), lead=lead, owner=owner, tester=tester)
    entries, events, version = first.log_entries.count(), first.events.count(), first.version

    clock.shift(timedelta(hours=2))
    [result] = receive(source, am("DiskFull", firing("a", "b")))

    assert result.created is True
    again = Incident.objects.get(pk=result.incident.pk)
    assert again.recurrence_of == first
    assert again.alert_count == 2
    first.refresh_from_db()
    # The earlier incident is untouched: no entry, no event, no state change.
    assert (first.log_entries.count(), first.events.count(), first.version) == (
        entries,
        events,
        version,
    )
    assert first.state == "resolved"
    assert list(first.alerts.values_list("fingerprint", "status")) == [("a", "firing")]


def test_it_writes_nothing_on_a_closed_incident_for_a_resolution(
    clock, platform, lead, owner, tester
):
    source = integration(platform)
    receive(source, am("DiskFull", firing("a", "b")))
    first = close(Incident.objects.get(), lead=lead, owner=owner, tester=tester)
    entries, events = first.log_entries.count(), TimelineEvent.objects.count()

    [result] = receive(source, am("DiskFull", resolved("a", "never-seen")))

    assert (result.incident.pk, result.created, result.alerts) == (first.pk, False, 1)
    assert first.log_entries.count() == entries
    assert TimelineEvent.objects.count() == events
    assert dict(first.alerts.values_list("fingerprint", "status")) == {
        "a": "resolved",
        "b": "firing",
    }
    assert not Alert.objects.filter(fingerprint="never-seen").exists()
    assert Incident.objects.count() == 1


def test_it_files_no_recurrence_after_a_cancelled_incident(clock, platform, lead):
    source = integration(platform)
    receive(source, am("DiskFull", firing("a")))
    first = Incident.objects.get()
    services.incident_cancel(incident=first, actor=lead, reason="false alarm")

    [result] = receive(source, am("DiskFull", firing("a")))

    assert result.created
    assert result.incident.recurrence_of is None


def test_its_later_alerts_join_the_recurrence_not_the_resolved_incident(
    clock, platform, lead, owner, tester
):
    source = integration(platform)
    receive(source, am("DiskFull", firing("a")))
    first = close(Incident.objects.get(), lead=lead, owner=owner, tester=tester)
    receive(source, am("DiskFull", firing("b")))
    again = Incident.objects.exclude(pk=first.pk).get()

    receive(source, am("DiskFull", firing("c")))
    receive(source, am("DiskFull", resolved("b")))

    assert set(again.alerts.values_list("fingerprint", flat=True)) == {"b", "c"}
    assert notes(again)[-1].startswith("Alert resolved at the source: DiskFull")
    assert first.alerts.count() == 1
