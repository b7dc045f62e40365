"""With the database unreachable, people get a friendly 503 page and the API and
alert webhook answer 503 JSON with Retry-After (so senders retry); nothing is
half written, and everything works again once the database is back.

The database is made unreachable for real: the connection is closed and
pointed at a port where nothing listens (PostgreSQL) or a file in a folder that
does not exist (SQLite), so every query fails as it does with the server stopped.
"""

import json
import socket

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from incidents import alerts
from incidents.models import Incident, LogEntry
from tests.factories import in_progress_incident

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Database:
    """Stops and restarts reaching the test database for this process."""

    def __init__(self, tmp_path):
        self.saved = dict(connection.settings_dict)
        self.tmp_path = tmp_path

    def stop(self):
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = str(self.tmp_path / "gone" / "db.sqlite3")
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(unused_port()))

    def start(self):
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(self.saved)


@pytest.fixture
def database(tmp_path):
    database = Database(tmp_path)
    yield database
    database.start()


@pytest.fixture
def signed_in_client(engineer):
    client = Client(raise_request_exception=False)
    client.force_login(engineer)
    return client


def test_it_shows_a_friendly_503_page(clock, signed_in_client, database):
    database.stop()

    response = signed_in_client.get("/dashboard/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.content.decode()
    assert "Responder is briefly unavailable" in body
    assert "Nothing you sent was half saved" in body
    assert 'href="/dashboard/"' in body  # "Try again" returns to the same page


def test_it_answers_the_api_with_503_json(clock, engineer, database):
    key = Token.objects.create(user=engineer).key
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {key}")
    database.stop()

    response = api.get("/api/v1/incidents/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "unavailable"


def test_it_answers_a_session_api_call_with_503_json(clock, signed_in_client, database):
    database.stop()

    response = signed_in_client.get("/api/v1/incidents/")

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


def test_it_answers_the_alert_webhook_with_503_so_the_sender_retries(clock, platform, database):
    _integration, token = alerts.integration_create(name="prometheus", team=platform)
    database.stop()

    response = Client(raise_request_exception=False).post(
        f"/api/v1/alerts/{token}/",
        json.dumps({"alerts": [{"status": "firing", "labels": {"alertname": "Down"}}]}),
        content_type="application/json",
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "unavailable"


def test_it_writes_nothing_and_recovers_when_the_database_returns(clock, lead, owner, database):
    incident = in_progress_incident(lead=lead, owner=owner)
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    entries, incidents = LogEntry.objects.count(), Incident.objects.count()
    database.stop()

    log = client.post(
        f"/incidents/{incident.pk}/log/",
        {"kind": "progress", "text": "Restarted the pool", "version": incident.version},
    )
    intake = client.post("/incidents/new/", {"title": "Checkout down"})

    assert log.status_code == 503
    assert intake.status_code == 503
    database.start()
    assert (LogEntry.objects.count(), Incident.objects.count()) == (entries, incidents)
    page = client.get(f"/incidents/{incident.pk}/")
    assert page.status_code == 200
    again = client.post(
        f"/incidents/{incident.pk}/log/",
        {"kind": "progress", "text": "Restarted the pool", "version": incident.version},
    )
    assert again.status_code == 302
    assert LogEntry.objects.count() == entries + 1
