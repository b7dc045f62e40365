"""Request bodies over MAX_REQUEST_BYTES (1 MiB) get 413 before anything reads
them: the API, the alert webhook and every form; nothing is written."""

import json

from django.test import Client

from incidents import alerts
from incidents.models import Alert, Incident, LogEntry
from tests.factories import in_progress_incident

SIX_MB = 6 * 1024 * 1024


def intake_json(symptoms: str) -> str:
    return json.dumps(
        {
            "title": "Checkout down",
            "symptoms": symptoms,
            "severity": "P2",
            "impact_scope": "Checkout",
            "source": "monitoring",
        }
    )


def test_it_refuses_a_6_mb_api_body_with_413_json(clock, token_client, onduty):
    response = token_client(onduty).post(
        "/api/v1/incidents/", intake_json("x" * SIX_MB), content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert "1024 KiB" in response.json()["detail"]
    assert not Incident.objects.exists()


def test_it_refuses_a_6_mb_alert_with_413(clock, platform):
    _integration, token = alerts.integration_create(name="prometheus", team=platform)
    body = json.dumps({"alerts": [{"labels": {"x": "y" * SIX_MB}}]})

    response = Client().post(f"/api/v1/alerts/{token}/", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Alert.objects.exists()
    assert not Incident.objects.exists()


def test_it_refuses_a_6_mb_form_with_a_413_page(clock, onduty, platform):
    client = Client()
    client.force_login(onduty)

    response = client.post(
        "/incidents/new/",
        {"title": "Checkout down", "symptoms": "x" * SIX_MB, "team": platform.pk},
    )

    assert response.status_code == 413
    assert "Too much text" in response.content.decode()
    assert not Incident.objects.exists()


def test_it_refuses_a_6_mb_log_entry_and_keeps_the_incident_as_it_was(
    clock, token_client, lead, owner
):
    incident = in_progress_incident(lead=lead, owner=owner)
    before = LogEntry.objects.count()

    response = token_client(owner).post(
        f"/api/v1/incidents/{incident.pk}/log/",
        json.dumps({"kind": "progress", "text": "x" * SIX_MB}),
        content_type="application/json",
    )

    assert response.status_code == 413
    assert LogEntry.objects.count() == before


def test_it_trusts_the_declared_length_and_reads_nothing(clock, token_client, onduty):
    # A sender announcing 6 MB is refused before its body arrives.
    response = token_client(onduty).post(
        "/api/v1/incidents/",
        intake_json("short"),
        content_type="application/json",
        CONTENT_LENGTH=str(SIX_MB),
    )

    assert response.status_code == 413


def test_it_accepts_a_body_under_the_limit(clock, token_client, onduty):
    response = token_client(onduty).post(
        "/api/v1/incidents/",
        intake_json("一" * 2000),
        content_type="application/json",
    )

    assert response.status_code == 201
