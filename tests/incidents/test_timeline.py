"""TimelineEvent is the append-only audit trail: never edited, never deleted."""

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client

from incidents.models import AppendOnlyError, Incident, TimelineEvent
from tests.conftest import NOW
from tests.factories import IncidentFactory, assigned_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(clock, onduty):
    return IncidentFactory(actor=onduty)


@pytest.fixture
def event(incident):
    return TimelineEvent.objects.get(incident=incident)


def test_it_refuses_to_save_an_existing_event(event):
    event.message = "rewritten history"

    with pytest.raises(AppendOnlyError):
        event.save()

    assert TimelineEvent.objects.get(pk=event.pk).message != "rewritten history"


def test_it_refuses_to_delete_an_event(event):
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert TimelineEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_queryset_update(event):
    with pytest.raises(AppendOnlyError):
        TimelineEvent.objects.filter(pk=event.pk).update(message="rewritten")

    assert TimelineEvent.objects.get(pk=event.pk).message == event.message


def test_it_refuses_queryset_delete(incident):
    with pytest.raises(AppendOnlyError):
        TimelineEvent.objects.all().delete()

    with pytest.raises(AppendOnlyError):
        incident.events.all().delete()

    assert TimelineEvent.objects.filter(incident=incident).count() == 1


def test_it_refuses_bulk_update(event):
    event.message = "rewritten"

    # bulk_update runs in atomic(savepoint=False); the savepoint here keeps the
    # test's transaction usable after the refusal.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        TimelineEvent.objects.bulk_update([event], ["message"])

    assert TimelineEvent.objects.get(pk=event.pk).message != "rewritten"


def test_it_still_appends_new_events(incident, onduty):
    TimelineEvent.objects.create(
        incident=incident, actor=onduty, kind=TimelineEvent.Kind.UPDATED, created_at=NOW
    )

    assert incident.events.count() == 2


def test_it_protects_an_incident_with_a_history_from_deletion(clock, lead, owner):
    incident = assigned_incident(lead=lead, owner=owner)
    events = incident.events.count()

    with pytest.raises(ProtectedError):
        incident.delete()

    with pytest.raises(ProtectedError):
        Incident.objects.filter(pk=incident.pk).delete()

    assert Incident.objects.filter(pk=incident.pk).exists()
    assert incident.events.count() == events
    assert incident.assignments.count() == 1


@pytest.fixture
def superuser_client(admin):
    admin.is_staff = admin.is_superuser = True  # even a superuser cannot rewrite history
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


def test_it_is_read_only_in_the_admin(superuser_client, event):
    base = f"/admin/incidents/timelineevent/{event.pk}"

    page = superuser_client.get(f"{base}/change/")
    edit = superuser_client.post(f"{base}/change/", {"message": "rewritten history"})
    delete = superuser_client.post(f"{base}/delete/", {"post": "yes"})
    bulk = superuser_client.post(
        "/admin/incidents/timelineevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert page.status_code == 200  # shown, read-only
    assert 'name="message"' not in page.content.decode()
    assert edit.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)  # the action does not exist: nothing happens
    assert TimelineEvent.objects.get(pk=event.pk).message == event.message
    assert superuser_client.get("/admin/incidents/timelineevent/add/").status_code == 403
