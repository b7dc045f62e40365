"""POST /api/v1/incidents/{id}/pause/ {reason} and …/resume/ {} (DESIGN.md)."""

from datetime import timedelta

import pytest

from incidents.models import Pause
from tests.conftest import NOW
from tests.factories import in_progress_incident, incident_snapshot, resolved_incident

from .helpers import LIST_URL, action_url, detail_url, reload, when

pytestmark = pytest.mark.django_db


def test_it_pauses_and_resumes_and_shows_it_on_the_incident(clock, client_for, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner, severity="P1")
    api = client_for(owner)

    paused = api.post(
        action_url(incident, "pause"),
        {"reason": "Waiting for the replacement disk", "waiting_on": "Dell support"},
        format="json",
    )

    assert paused.status_code == 200, paused.data
    assert paused.data["paused"] is True
    assert when(paused.data["paused_since"]) == NOW
    assert paused.data["waiting_on"] == "Dell support"
    assert paused.data["pause_reason"] == "Waiting for the replacement disk"
    assert "resume" in paused.data["allowed_actions"]
    assert "pause" not in paused.data["allowed_actions"]
    listed = api.get(LIST_URL).data["results"][0]
    assert (listed["paused"], when(listed["paused_since"])) == (True, NOW)
    assert listed["overdue"] == []

    clock.shift(timedelta(hours=2))
    resumed = api.post(action_url(incident, "resume"), {}, format="json")

    assert resumed.status_code == 200, resumed.data
    assert (resumed.data["paused"], resumed.data["paused_since"]) == (False, None)
    assert when(resumed.data["resolve_by"]) == NOW + timedelta(hours=6)  # 4 h + 2 h paused
    assert when(resumed.data["next_update_by"]) == NOW + timedelta(hours=2, minutes=30)
    assert api.get(detail_url(incident)).data["paused"] is False


def test_it_answers_400_for_a_missing_reason_and_writes_nothing(clock, client_for, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    before = incident_snapshot(incident)

    response = client_for(owner).post(action_url(incident, "pause"), {}, format="json")

    assert response.status_code == 400
    assert "reason" in response.data
    assert incident_snapshot(incident) == before
    assert not Pause.objects.exists()


def test_it_answers_409_for_pausing_a_resolved_incident(clock, client_for, lead, owner, tester):
    incident = resolved_incident(lead=lead, owner=owner, tester=tester)

    response = client_for(lead).post(
        action_url(incident, "pause"), {"reason": "Vendor"}, format="json"
    )

    assert response.status_code == 409
    assert response.data["state"] == "resolved"
    assert "pause" not in response.data["allowed"]
    assert reload(incident).paused_at is None


def test_it_answers_409_for_a_second_pause_and_for_resuming_what_runs(
    clock, client_for, lead, owner
):
    incident = in_progress_incident(lead=lead, owner=owner)
    api = client_for(lead)
    assert api.post(action_url(incident, "resume"), {}, format="json").status_code == 409
    assert (
        api.post(action_url(incident, "pause"), {"reason": "A"}, format="json").status_code == 200
    )

    again = api.post(action_url(incident, "pause"), {"reason": "B"}, format="json")

    assert again.status_code == 409
    assert "already paused" in again.data["detail"]
    assert again.data["allowed"].count("resume") == 1
    assert Pause.objects.filter(incident=incident).count() == 1


def test_it_answers_403_for_a_helper(clock, client_for, lead, owner, helper):
    incident = in_progress_incident(lead=lead, owner=owner, helpers=[helper])

    response = client_for(helper).post(
        action_url(incident, "pause"), {"reason": "Vendor"}, format="json"
    )

    assert response.status_code == 403
    assert reload(incident).paused_at is None
