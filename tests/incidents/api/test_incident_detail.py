"""GET and PATCH /api/v1/incidents/{id}/: ETags, conditional requests and corrections."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, State, TimelineEvent
from tests.conftest import NOW
from tests.factories import archived_incident, incident_snapshot, new_incident

from .helpers import LIST_URL, detail_url, etag_of, reload, when

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
User = get_user_model()


@pytest.fixture
def incident(clock, onduty):
    return new_incident(reporter=onduty, title="Checkout returns 502")


def updated_events(incident) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.UPDATED))


# ---------------------------------------------------------------- GET


def test_it_shows_one_incident_with_its_etag(client_for, lead, incident):
    response = client_for(lead).get(detail_url(incident))

    assert response.status_code == 200
    assert response.data["id"] == incident.pk
    assert response.data["number"] == incident.number
    assert response.data["version"] == 1
    assert response["ETag"] == f'"{incident.pk}-1"'


def test_it_changes_the_etag_with_the_version(client_for, lead, incident):
    services.incident_acknowledge(incident=incident, actor=lead)

    response = client_for(lead).get(detail_url(incident))

    assert response.data["version"] == 2
    assert response["ETag"] == f'"{incident.pk}-2"'


def test_it_answers_304_to_a_current_if_none_match(client_for, lead, incident):
    tag = f'"{incident.pk}-1"'

    response = client_for(lead).get(detail_url(incident), HTTP_IF_NONE_MATCH=tag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == tag


@pytest.mark.parametrize(
    "header",
    ['W/"{pk}-1"', '"{pk}-0", "{pk}-1"', "*"],
    ids=["weak", "list", "star"],
)
def test_it_answers_304_to_any_matching_form_of_if_none_match(client_for, lead, incident, header):
    """RFC 9110 13.1.2: weak comparison, a list of tags, or `*` (proxies weaken ETags)."""
    response = client_for(lead).get(
        detail_url(incident), HTTP_IF_NONE_MATCH=header.format(pk=incident.pk)
    )

    assert response.status_code == 304
    assert response["ETag"] == f'"{incident.pk}-1"'


def test_it_answers_200_to_a_stale_if_none_match(client_for, lead, incident):
    stale = f'"{incident.pk}-1"'
    services.incident_acknowledge(incident=incident, actor=lead)

    response = client_for(lead).get(detail_url(incident), HTTP_IF_NONE_MATCH=stale)

    assert response.status_code == 200
    assert response.data["state"] == State.ACKNOWLEDGED
    assert response["ETag"] == f'"{incident.pk}-2"'


@pytest.mark.parametrize("username", ["pay_engineer", "pay_lead"])
def test_it_hides_another_teams_incident(request, client_for, incident, username):
    user = request.getfixturevalue(username)

    response = client_for(user).get(detail_url(incident))

    assert response.status_code == 404
    assert incident.number not in response.content.decode()


@pytest.mark.parametrize("pk", [999999, "abc"])
def test_it_answers_404_for_a_missing_incident(client_for, lead, incident, pk):
    response = client_for(lead).get(f"{LIST_URL}{pk}/")

    assert response.status_code == 404


def test_it_shows_what_the_user_may_do_now(client_for, lead, engineer, incident):
    as_lead = client_for(lead).get(detail_url(incident))
    as_engineer = client_for(engineer).get(detail_url(incident))

    assert set(as_lead.data["allowed_actions"]) == {"acknowledge", "grade", "log", "cancel"}
    assert as_engineer.data["allowed_actions"] == []


# ---------------------------------------------------------------- PATCH


def test_it_corrects_a_detail_and_writes_one_updated_event(client_for, onduty, incident):
    response = client_for(onduty).patch(
        detail_url(incident), {"title": "Checkout returns 503"}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["title"] == "Checkout returns 503"
    assert response.data["version"] == 2
    assert response["ETag"] == f'"{incident.pk}-2"'
    row = reload(incident)
    assert row.title == "Checkout returns 503"
    assert row.version == 2
    (event,) = updated_events(incident)
    assert event.actor == onduty
    assert event.changes == {"title": ["Checkout returns 502", "Checkout returns 503"]}


def test_it_lets_a_lead_correct_details(client_for, lead, incident):
    response = client_for(lead).patch(
        detail_url(incident), {"affected_users": 5000, "impact_scope": "All regions"}, format="json"
    )

    assert response.status_code == 200, response.data
    row = reload(incident)
    assert (row.affected_users, row.impact_scope) == (5000, "All regions")
    assert len(updated_events(incident)) == 1


def test_it_moves_the_deadlines_with_a_corrected_received_at(client_for, lead, incident):
    response = client_for(lead).patch(
        detail_url(incident), {"received_at": (NOW - 20 * MINUTE).isoformat()}, format="json"
    )

    assert response.status_code == 200, response.data
    # P2: respond within 30 min of received_at.
    assert when(response.data["respond_by"]) == NOW + 10 * MINUTE
    assert reload(incident).respond_by == NOW + 10 * MINUTE


def test_it_does_not_bump_the_version_for_no_change(client_for, onduty, incident):
    response = client_for(onduty).patch(
        detail_url(incident), {"title": "Checkout returns 502"}, format="json"
    )

    assert response.status_code == 200
    assert reload(incident).version == 1
    assert updated_events(incident) == []


def test_it_refuses_a_stale_if_match(client_for, onduty, lead, incident):
    stale = etag_of(incident)
    services.incident_acknowledge(incident=incident, actor=lead)
    before = incident_snapshot(incident)

    response = client_for(onduty).patch(
        detail_url(incident), {"title": "Lost update"}, format="json", HTTP_IF_MATCH=stale
    )

    assert response.status_code == 412
    assert response.data["current_version"] == 2
    assert response.data["code"] == "stale_version"
    assert reload(incident).title == "Checkout returns 502"
    assert incident_snapshot(incident) == before


def test_it_accepts_a_current_if_match(client_for, onduty, incident):
    response = client_for(onduty).patch(
        detail_url(incident), {"title": "Fresh"}, format="json", HTTP_IF_MATCH=etag_of(incident)
    )

    assert response.status_code == 200, response.data
    assert reload(incident).title == "Fresh"
    assert response["ETag"] == f'"{incident.pk}-2"'


def test_it_refuses_the_etag_of_another_incident(client_for, onduty, incident):
    other = new_incident(reporter=onduty)

    response = client_for(onduty).patch(
        detail_url(incident), {"title": "Wrong tag"}, format="json", HTTP_IF_MATCH=etag_of(other)
    )

    assert response.status_code == 412
    assert reload(incident).title == "Checkout returns 502"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 999),
        ("number", "INC-20260101-0001"),
        ("state", "resolved"),
        ("reporter", "lead"),
        ("respond_by", "2026-12-01T00:00:00Z"),
        ("resolve_by", "2026-12-01T00:00:00Z"),
        ("next_update_by", "2026-12-01T00:00:00Z"),
        ("severity", "P0"),
        ("version", 99),
        ("team", "payments"),
        ("owner", "lead"),
    ],
)
def test_it_refuses_read_only_fields(client_for, onduty, incident, field, value):
    before = incident_snapshot(incident)

    response = client_for(onduty).patch(
        detail_url(incident), {"title": "Sneaky", field: value}, format="json"
    )

    assert response.status_code == 400
    assert set(response.data) == {field}
    row = reload(incident)
    assert row.title == "Checkout returns 502"
    assert row.reporter == onduty
    assert incident_snapshot(incident) == before


def test_it_treats_an_empty_patch_as_no_change(client_for, onduty, incident):
    response = client_for(onduty).patch(detail_url(incident), {}, format="json")

    assert response.status_code == 200
    assert response["ETag"] == f'"{incident.pk}-1"'
    assert reload(incident).version == 1
    assert updated_events(incident) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "x" * 201),
        ("affected_users", -1),
        ("source", "fax"),
        ("received_at", None),
        ("received_at", "yesterday"),
        ("affected_users", "12"),
        ("title", 12),
    ],
)
def test_it_refuses_bad_corrections(client_for, onduty, incident, field, value):
    before = incident_snapshot(incident)

    response = client_for(onduty).patch(detail_url(incident), {field: value}, format="json")

    assert response.status_code == 400
    assert field in response.data
    assert incident_snapshot(incident) == before


def test_it_refuses_a_future_received_at(client_for, lead, incident):
    before = incident_snapshot(incident)

    response = client_for(lead).patch(
        detail_url(incident), {"received_at": (NOW + 60 * MINUTE).isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert "received_at" in response.data
    assert incident_snapshot(incident) == before


def test_it_lets_only_a_lead_move_received_at(client_for, onduty, incident):
    """received_at drives every deadline: the reporter may not move it (erasing a breach)."""
    before = incident_snapshot(incident)

    response = client_for(onduty).patch(
        detail_url(incident), {"received_at": (NOW - 20 * MINUTE).isoformat()}, format="json"
    )

    assert response.status_code == 403
    assert incident_snapshot(incident) == before


def test_it_refuses_a_patch_by_someone_else(client_for, engineer, incident):
    before = incident_snapshot(incident)

    response = client_for(engineer).patch(detail_url(incident), {"title": "Mine"}, format="json")

    assert response.status_code == 403
    assert incident_snapshot(incident) == before


def test_it_hides_another_teams_incident_from_patch(client_for, pay_lead, incident):
    response = client_for(pay_lead).patch(detail_url(incident), {"title": "Mine"}, format="json")

    assert response.status_code == 404
    assert reload(incident).title == "Checkout returns 502"


def test_it_refuses_to_edit_an_archived_incident(client_for, clock, lead, owner):
    archived = archived_incident(lead=lead, owner=owner)
    before = incident_snapshot(archived)

    response = client_for(lead).patch(detail_url(archived), {"title": "Rewritten"}, format="json")

    assert response.status_code == 409
    assert response.data["state"] == State.ARCHIVED
    assert incident_snapshot(archived) == before


@pytest.mark.parametrize("method", ["put", "delete"])
def test_it_does_not_allow_put_or_delete(client_for, lead, incident, method):
    response = getattr(client_for(lead), method)(
        detail_url(incident), {"title": "Replaced"}, format="json"
    )

    assert response.status_code == 405
    assert Incident.objects.filter(pk=incident.pk, title="Checkout returns 502").exists()


# ---------------------------------------------------------------- concurrency


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_only_one_of_two_concurrent_patches_through(onduty):
    """Two clients PATCH with the same If-Match at once: one wins, the other gets 412."""
    incident = new_incident(reporter=onduty, title="Checkout returns 502")
    tag = etag_of(incident)
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}
    errors: list[BaseException] = []

    def patch(title: str) -> None:
        try:
            client = APIClient()
            client.force_authenticate(User.objects.get(pk=onduty.pk))
            barrier.wait(timeout=10)
            response = client.patch(
                detail_url(incident), {"title": title}, format="json", HTTP_IF_MATCH=tag
            )
            answers[title] = response.status_code
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=patch, args=(t,)) for t in ("From Ann", "From Bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert sorted(answers.values()) == [200, 412], answers
    winner = next(title for title, code in answers.items() if code == 200)
    row = reload(incident)
    assert row.title == winner
    assert row.version == 2
    (event,) = updated_events(incident)
    assert event.changes == {"title": ["Checkout returns 502", winner]}
