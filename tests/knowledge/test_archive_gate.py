"""P0/P1 are archived only after a complete post-mortem; P2/P3 with a summary."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents import services
from incidents.models import State
from knowledge import services as knowledge
from knowledge.models import SearchDocument
from tests.conftest import NOW
from tests.factories import complete_postmortem, incident_snapshot, resolved_incident

pytestmark = pytest.mark.django_db


def archive(incident, lead, summary="Pool exhausted; index added."):
    return knowledge.incident_archive(incident=incident, actor=lead, summary=summary)


@pytest.mark.parametrize("severity", ["P0", "P1"])
def test_it_refuses_to_archive_a_p0_or_p1_without_a_postmortem(clock, lead, owner, severity):
    incident = resolved_incident(lead=lead, owner=owner, severity=severity)
    before = incident_snapshot(incident)

    with pytest.raises(ValidationError) as refused:
        archive(incident, lead)

    message = refused.value.message_dict["postmortem"][0]
    assert f"A {severity} incident is archived after its post-mortem" in message
    assert "a post-mortem" in message
    assert incident_snapshot(incident) == before


def test_it_says_exactly_what_the_postmortem_lacks(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    knowledge.postmortem_save(incident=incident, actor=lead, root_cause="Unindexed query.")

    with pytest.raises(ValidationError) as refused:
        archive(incident, lead)

    message = refused.value.message_dict["postmortem"][0]
    for missing in (
        "the root-cause category",
        "the contributing factors",
        "the lessons learned",
        "the meeting date",
        "the attendees",
        "at least one improvement action",
    ):
        assert missing in message
    assert "the root cause;" not in message


def test_it_archives_a_p1_once_the_postmortem_is_complete(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    complete_postmortem(incident, lead=lead, owner=owner)

    archived = archive(incident, lead)

    assert archived.state == State.ARCHIVED
    assert SearchDocument.objects.filter(kind="incident", object_id=incident.pk).exists()


@pytest.mark.parametrize("severity", ["P2", "P3"])
def test_it_archives_a_p2_or_p3_with_a_summary_only(clock, lead, owner, severity):
    incident = resolved_incident(lead=lead, owner=owner, severity=severity)
    assert archive(incident, lead).state == State.ARCHIVED


def test_it_still_needs_a_summary(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P3")
    with pytest.raises(ValidationError) as refused:
        archive(incident, lead, summary="  ")
    assert "summary" in refused.value.message_dict


def test_it_answers_the_api_with_400_naming_what_is_missing(clock, lead, owner, token_client):
    incident = resolved_incident(lead=lead, owner=owner, severity="P0")
    response = token_client(lead).post(
        f"/api/v1/incidents/{incident.pk}/archive/", {"summary": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "post-mortem" in response.json()["postmortem"][0]


def test_it_shows_the_refusal_on_the_workspace(clock, client, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P1")
    client.force_login(lead)

    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="archive-missing"' in page
    response = client.post(
        f"/incidents/{incident.pk}/archive/",
        {"version": incident.version, "summary": "Done."},
        follow=True,
    )

    # Back on the workspace's archive section, the reason beside the button.
    assert response.redirect_chain == [(f"/incidents/{incident.pk}/#archive-summary", 303)]
    assert "archived after its post-mortem" in response.content.decode()


def test_it_takes_a_reopened_incident_out_of_the_search_index(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner, severity="P2")
    archive(incident, lead)
    clock.move_to(NOW + timedelta(days=1))
    services.incident_reopen(incident=incident, actor=lead, reason="It is back.")
    assert not SearchDocument.objects.filter(kind="incident", object_id=incident.pk).exists()
