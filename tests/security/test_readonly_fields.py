"""PATCH /api/v1/incidents/{id}/ writes intake details only.

Every other field the API shows (state, number, team, owner, severity,
deadlines, step timestamps, version, id, …) and every other column of the
incident is refused with 400 naming the field, and nothing changes — not the
row, not its version, not its audit trail. The OpenAPI schema says so.
Intake (POST) ignores such fields, DRF's convention for unknown input: the
server still decides them.
"""

import json
from datetime import timedelta

import pytest

from incidents.api.serializers import IncidentDetailSerializer, IncidentUpdateSerializer
from incidents.models import Incident, State
from tests.factories import in_progress_incident

pytestmark = pytest.mark.django_db

WRITABLE = set(IncidentUpdateSerializer().fields)
SHOWN = set(IncidentDetailSerializer().fields)
# Columns of the incident the API does not show, by name and by column (team_id …).
COLUMNS = {
    name
    for f in Incident._meta.concrete_fields
    for name in {f.name, f.attname}
    if f.name not in WRITABLE
}
READ_ONLY = sorted((SHOWN | COLUMNS | {"pk"}) - WRITABLE)

FAR = "2031-01-01T00:00:00Z"
# A value of the right type for each read-only field, different from the stored one.
VALUES = {
    "id": 999_999,
    "pk": 999_999,
    "number": "INC-19990101-0001",
    "team": "payments",
    "team_id": 999_999,
    "reporter": "admin",
    "reporter_id": 999_999,
    "owner": "admin",
    "owner_id": 999_999,
    "helpers": ["admin"],
    "service_id": 999_999,
    "state": State.RESOLVED,
    "severity": "P0",
    "initial_severity": "P0",
    "urgent": True,
    "phone_call_made": True,
    "phone_call_to": "Mallory",
    "goal": "Nothing at all",
    "cancel_reason": "Because",
    "archive_summary": "Done",
    "reopen_count": 7,
    "version": 99,
    "overdue": [],
    "allowed_actions": ["archive"],
    # Paused and resumed through their actions only.
    "paused": True,
    "paused_since": FAR,
    "pause_reason": "Waiting",
    "waiting_on": "Mallory",
    "pause_waiting_on": "Mallory",
    "paused_for": "P3D",
    "respond_sla": "PT1M",
    "resolve_sla": "PT1M",
    # Set by the alert intake only.
    "recurrence_of": 999_999,
    "recurrence_of_id": 999_999,
    "maintenance_window": 999_999,
    "maintenance_window_id": 999_999,
    # Worked out by the database from the deadlines.
    "earliest_due": FAR,
    # Copied from the post-mortem (knowledge).
    "root_cause_category": "capacity",
}


def value_for(field: str):
    if field in VALUES:
        return VALUES[field]
    if field.endswith(("_at", "_by", "_from")) or field == "time_limit":
        return FAR  # deadlines, step and audit times
    if field.endswith("_count"):
        return 5  # tallies the services keep
    raise AssertionError(f"give VALUES a value for the read-only field {field!r}")


def row(incident) -> dict:
    stored = Incident.objects.filter(pk=incident.pk).values().get()
    return {**stored, "events": incident.events.count()}


@pytest.fixture
def incident(clock, lead, owner):
    return in_progress_incident(lead=lead, owner=owner, urgent=False)


def patch(client, incident, body, **headers):
    return client.patch(
        f"/api/v1/incidents/{incident.pk}/",
        json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def test_it_knows_the_fields():
    assert {
        "title",
        "symptoms",
        "impact_scope",
        "affected_users",
        "source",
        "category",
        "service",
        "received_at",
        "occurred_at",
    } == WRITABLE
    assert {"state", "number", "owner", "respond_by", "resolve_by", "version"} <= set(READ_ONLY)


@pytest.mark.parametrize("field", READ_ONLY)
def test_it_refuses_a_read_only_field_and_changes_nothing(client, lead, incident, field):
    client.force_login(lead)  # a tech lead may correct the details
    before = row(incident)

    response = patch(client, incident, {field: value_for(field)})

    assert response.status_code == 400
    assert response.json() == {field: ["This field is read-only or unknown."]}
    assert row(incident) == before


@pytest.mark.parametrize("field", ["state", "owner", "respond_by", "version", "team"])
def test_it_refuses_the_whole_patch_with_a_writable_field_beside(client, lead, incident, field):
    client.force_login(lead)
    before = row(incident)

    response = patch(
        client,
        incident,
        {"title": "Renamed", field: value_for(field)},
        If_Match=f'"{incident.pk}-{incident.version}"',
    )

    assert response.status_code == 400
    assert set(response.json()) == {field}
    assert row(incident) == before


def test_it_refuses_unknown_fields(client, lead, incident):
    client.force_login(lead)
    before = row(incident)

    response = patch(client, incident, {"is_superuser": True, "title": "Renamed"})

    assert response.status_code == 400
    assert "is_superuser" in response.json()
    assert row(incident) == before


def test_it_writes_a_writable_field(client, lead, incident):
    """The control: the same PATCH without the read-only field is applied."""
    client.force_login(lead)

    response = patch(client, incident, {"title": "Renamed"})

    assert response.status_code == 200
    stored = Incident.objects.get(pk=incident.pk)
    assert stored.title == "Renamed"
    assert stored.version == incident.version + 1


def test_its_schema_says_what_may_be_patched(client, lead):
    client.force_login(lead)
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    operation = schema["paths"]["/api/v1/incidents/{id}/"]["patch"]

    assert set(components["PatchedIncidentUpdateRequest"]["properties"]) == WRITABLE
    assert "400" in operation["responses"]
    assert "read-only" in operation["description"]
    shown = components["IncidentDetail"]["properties"]
    assert [f for f in sorted(SHOWN - WRITABLE) if not shown[f].get("readOnly")] == []


def test_it_lets_intake_decide_the_server_side_fields(client, onduty, clock):
    """POST ignores read-only fields (DRF's convention): the server sets them."""
    client.force_login(onduty)
    body = {
        "title": "Checkout down",
        "symptoms": "502",
        "severity": "P2",
        "source": "api",
        "impact_scope": "checkout",
        **{f: value_for(f) for f in ("id", "number", "state", "owner", "reporter", "version")},
        **dict.fromkeys(("respond_by", "resolve_by", "acknowledged_at", "created_at"), FAR),
    }

    response = client.post("/api/v1/incidents/", json.dumps(body), content_type="application/json")

    assert response.status_code == 201
    stored = Incident.objects.get(pk=response.json()["id"])
    assert stored.pk != VALUES["id"]
    assert stored.number != VALUES["number"]
    assert stored.state == State.NEW
    assert stored.owner is None
    assert stored.reporter == onduty
    assert stored.version == 1
    assert stored.acknowledged_at is None
    assert stored.respond_by < stored.received_at + timedelta(days=2)
    assert stored.created_at < stored.received_at + timedelta(minutes=1)
