"""GET /api/v1/incidents/{id}/alerts/ and the incident's alert fields."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.factories import TeamFactory, UserFactory
from tests.incidents.alert_helpers import am, close, firing, integration, receive

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_it_lists_an_incidents_alerts_paginated(clock, platform, engineer):
    source = integration(platform)
    receive(source, am("Db", firing(*(f"n{i:02d}" for i in range(30)))))
    incident = Incident.objects.get()

    answer = client_for(engineer).get(f"/api/v1/incidents/{incident.pk}/alerts/?page_size=10")

    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 30
    assert len(body["results"]) == 10
    assert body["next"]
    first = body["results"][0]
    assert first["fingerprint"] == "n00"
    assert set(first) == {
        "fingerprint",
        "status",
        "labels",
        "annotations",
        "starts_at",
        "ends_at",
        "events",
        "flapping",
        "first_seen",
        "last_seen",
    }
    assert first["labels"]["instance"] == "n00"
    assert first["events"] == 1


def test_its_query_count_does_not_grow_with_the_alerts(clock, platform, engineer):
    source = integration(platform, storm_thresholds=[])
    receive(source, am("Db", firing("a")))
    incident = Incident.objects.get()
    api = client_for(engineer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/api/v1/incidents/{incident.pk}/alerts/").status_code == 200
        return len(queries)

    count()  # the first request also reads what is cached per process
    one = count()
    receive(source, am("Db", firing(*(f"n{i}" for i in range(24)))))
    assert count() == one


def test_it_answers_404_for_an_incident_the_user_cannot_see(clock, engineer):
    other = integration(TeamFactory(slug="other"), name="other")
    receive(other, am("Db", firing("a")))
    incident = Incident.objects.get()

    answer = client_for(engineer).get(f"/api/v1/incidents/{incident.pk}/alerts/")

    assert answer.status_code == 404
    assert client_for(UserFactory()).get("/api/v1/incidents/999999/alerts/").status_code == 404


def test_the_incident_answers_its_counts_and_recurrence(
    clock, platform, engineer, lead, owner, tester
):
    source = integration(platform)
    receive(source, am("Db", firing("a", "b")))
    first = close(Incident.objects.get(), lead=lead, owner=owner, tester=tester)
    receive(source, am("Db", firing("a")))
    again = Incident.objects.exclude(pk=first.pk).get()
    api = client_for(engineer)

    one = api.get(f"/api/v1/incidents/{first.pk}/").json()
    two = api.get(f"/api/v1/incidents/{again.pk}/").json()

    assert (one["alert_count"], one["event_count"], one["recurrence_of"]) == (2, 2, None)
    assert (two["alert_count"], two["event_count"], two["recurrence_of"]) == (1, 1, first.pk)
    listed = {row["id"]: row for row in api.get("/api/v1/incidents/").json()["results"]}
    assert (listed[first.pk]["alert_count"], listed[first.pk]["recurrence_of"]) == (2, None)
    assert (listed[again.pk]["event_count"], listed[again.pk]["recurrence_of"]) == (1, first.pk)
