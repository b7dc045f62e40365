"""POST /api/v1/incidents/{id}/publish/ and …/public-updates/: an incident on the
status page, in public words only."""

from datetime import timedelta

import pytest

from escalation.status.models import Publication, PublicUpdate, StatusPage
from incidents.models import TimelineEvent
from tests.conftest import NOW
from tests.factories import cancelled_incident, in_progress_incident, resolved_incident
from tests.incidents.api.helpers import when


def publish_url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/publish/"


def update_url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/public-updates/"


def publish_body(**fields) -> dict:
    data = {
        "components": ["website"],
        "impact": "partial_outage",
        "public_title": "Checkout is slow",
        "message": "Some payments take longer than usual.",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not ...}


def version() -> int:
    page = StatusPage.objects.filter(pk=1).first()
    return page.version if page else 0


@pytest.fixture
def incident(clock, lead, owner):
    return in_progress_incident(lead=lead, owner=owner, title="INTERNAL db pool exhausted")


# ---------------------------------------------------------------- publish


def test_it_publishes_an_incident_in_public_words(
    clock, token_client, lead, incident, website, api_component
):
    before = version()

    response = token_client(lead).post(
        publish_url(incident), publish_body(components=["api", "website"]), format="json"
    )

    assert response.status_code == 201, response.data
    data = response.data
    assert data == {
        "incident": incident.pk,
        "public_title": "Checkout is slow",
        "impact": "partial_outage",
        "status": "investigating",
        "components": ["website", "api"],
        "published_at": data["published_at"],
        "resolved_at": None,
        "updates": [
            {
                "status": "investigating",
                "impact": "partial_outage",
                "message": "Some payments take longer than usual.",
                "posted_at": data["updates"][0]["posted_at"],
            }
        ],
    }
    assert when(data["published_at"]) == NOW
    assert when(data["updates"][0]["posted_at"]) == NOW
    assert "INTERNAL" not in str(data)
    assert incident.number not in str(data)
    publication = Publication.objects.get(incident=incident)
    assert publication.published_by == lead
    assert incident.events.filter(kind=TimelineEvent.Kind.PUBLISHED).count() == 1
    assert version() == before + 1


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("lead", 201),
        ("onduty", 201),
        ("admin", 201),
        ("engineer", 403),
        ("owner", 403),
        ("manager", 403),
        ("pay_lead", 404),
        ("pay_engineer", 404),
    ],
)
def test_it_lets_on_duty_staff_and_tech_leads_publish(
    request, clock, token_client, incident, website, who, code
):
    response = token_client(request.getfixturevalue(who)).post(
        publish_url(incident), publish_body(), format="json"
    )

    assert response.status_code == code, response.data
    assert Publication.objects.exists() == (code == 201)
    if code == 403:
        assert "status page" in response.data["detail"]


def test_it_refuses_others_before_reading_their_input(clock, token_client, engineer, incident):
    response = token_client(engineer).post(
        publish_url(incident), {"components": ["nope"]}, format="json"
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"components": ["nope"]}, "components"),
        ({"components": []}, "components"),
        ({"components": "website"}, "components"),
        ({"components": ...}, "components"),
        ({"impact": "catastrophic"}, "impact"),
        ({"impact": ...}, "impact"),
        ({"public_title": "   "}, "public_title"),
        ({"public_title": "x" * 201}, "public_title"),
        ({"public_title": 7}, "public_title"),
        ({"message": ""}, "message"),
        ({"message": ...}, "message"),
    ],
)
def test_it_refuses_bad_input_with_field_errors(
    clock, token_client, lead, incident, website, fields, field
):
    response = token_client(lead).post(publish_url(incident), publish_body(**fields), format="json")

    assert response.status_code == 400
    assert field in response.data, response.data
    assert not Publication.objects.exists()


def test_it_refuses_to_publish_twice(clock, token_client, lead, published, website):
    response = token_client(lead).post(publish_url(published), publish_body(), format="json")

    assert response.status_code == 409
    assert response.data["code"] == "published_already"
    assert published.number in response.data["detail"]
    assert PublicUpdate.objects.count() == 1


def test_it_refuses_to_publish_a_cancelled_incident(clock, token_client, lead, website):
    cancelled = cancelled_incident(lead=lead)

    response = token_client(lead).post(publish_url(cancelled), publish_body(), format="json")

    assert response.status_code == 409
    assert response.data["code"] == "transition_not_allowed"
    assert response.data["state"] == "cancelled"
    assert not Publication.objects.exists()


def test_it_publishes_a_resolved_incident(clock, token_client, lead, owner, tester, website):
    resolved = resolved_incident(lead=lead, owner=owner, tester=tester)

    response = token_client(lead).post(publish_url(resolved), publish_body(), format="json")

    assert response.status_code == 201, response.data


def test_it_answers_404_for_an_unknown_incident(clock, token_client, lead, website):
    response = token_client(lead).post(
        "/api/v1/incidents/999999/publish/", publish_body(), format="json"
    )

    assert response.status_code == 404


def test_it_refuses_anonymous_callers(client, clock, incident, website):
    response = client.post(publish_url(incident), publish_body(), content_type="application/json")

    assert response.status_code == 401
    assert not Publication.objects.exists()


# ---------------------------------------------------------------- public updates


def test_it_posts_public_updates_newest_first(clock, token_client, onduty, published):
    client = token_client(onduty)
    clock.shift(timedelta(minutes=10))

    response = client.post(
        update_url(published), {"status": "identified", "message": "Found it."}, format="json"
    )

    assert response.status_code == 201, response.data
    assert response.data["status"] == "identified"
    assert response.data["impact"] == "partial_outage"
    assert [(u["status"], u["message"]) for u in response.data["updates"]] == [
        ("identified", "Found it."),
        ("investigating", "We are looking into slow checkouts."),
    ]
    assert when(response.data["updates"][0]["posted_at"]) == NOW + timedelta(minutes=10)
    assert published.events.filter(kind=TimelineEvent.Kind.PUBLIC_UPDATE).count() == 1


def test_it_resolves_and_reopens_a_publication(clock, token_client, lead, published):
    client = token_client(lead)
    clock.shift(timedelta(hours=1))

    resolved = client.post(
        update_url(published), {"status": "resolved", "message": "Fixed."}, format="json"
    )

    assert resolved.status_code == 201, resolved.data
    assert resolved.data["status"] == "resolved"
    assert when(resolved.data["resolved_at"]) == NOW + timedelta(hours=1)

    clock.shift(timedelta(minutes=30))
    reopened = client.post(
        update_url(published),
        {"status": "investigating", "message": "The errors are back."},
        format="json",
    )

    assert reopened.status_code == 201, reopened.data
    assert reopened.data["status"] == "investigating"
    assert reopened.data["resolved_at"] is None
    assert [u["status"] for u in reopened.data["updates"]] == [
        "investigating",
        "resolved",
        "investigating",
    ]
    assert Publication.objects.get().is_open


def test_it_changes_impact_components_and_title_with_an_update(
    clock, token_client, lead, published, api_component
):
    before = version()

    response = token_client(lead).post(
        update_url(published),
        {
            "status": "monitoring",
            "message": "A fix is out.",
            "impact": "degraded",
            "components": ["api"],
            "public_title": "The API is slow",
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["impact"] == "degraded"
    assert response.data["components"] == ["api"]
    assert response.data["public_title"] == "The API is slow"
    assert response.data["updates"][0]["impact"] == "degraded"
    assert version() == before + 1


def test_it_refuses_an_update_before_publishing(clock, token_client, lead, incident, website):
    response = token_client(lead).post(
        update_url(incident), {"status": "identified", "message": "Found it."}, format="json"
    )

    assert response.status_code == 409
    assert response.data["code"] == "not_published"
    assert not PublicUpdate.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "fixed"}, "status"),
        ({"status": None}, "status"),
        ({"message": "  "}, "message"),
        ({"impact": "bad"}, "impact"),
        ({"components": []}, "components"),
        ({"components": ["nope"]}, "components"),
        ({"public_title": ""}, "public_title"),
    ],
)
def test_it_refuses_bad_updates_with_field_errors(
    clock, token_client, lead, published, fields, field
):
    response = token_client(lead).post(
        update_url(published),
        {"status": "identified", "message": "Found.", **fields},
        format="json",
    )

    assert response.status_code == 400
    assert field in response.data, response.data
    assert PublicUpdate.objects.count() == 1


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("lead", 201),
        ("onduty", 201),
        ("admin", 201),
        ("engineer", 403),
        ("manager", 403),
        ("pay_lead", 404),
    ],
)
def test_it_lets_on_duty_staff_and_tech_leads_post_updates(
    request, clock, token_client, published, who, code
):
    response = token_client(request.getfixturevalue(who)).post(
        update_url(published), {"status": "identified", "message": "Found it."}, format="json"
    )

    assert response.status_code == code, response.data
    assert PublicUpdate.objects.count() == (2 if code == 201 else 1)
