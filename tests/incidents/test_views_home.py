import io

import pytest
from django.core.management import call_command

from incidents.models import Incident


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())


def test_it_serves_the_login_page(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_sends_anonymous_users_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_signs_in_with_the_demo_password(client, demo, settings):
    response = client.post(
        "/accounts/login/", {"username": "lead", "password": settings.DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_it_lists_only_the_users_teams_incidents(client, demo):
    client.login(username="pay-engineer", password="responder-demo")
    body = client.get("/").content.decode()
    payments = Incident.objects.filter(team__slug="payments", state="in_progress").get()
    platform = Incident.objects.filter(team__slug="platform", state="new").first()
    assert payments.number in body
    assert platform.number not in body


def test_it_shows_the_manager_every_team(client, demo):
    client.login(username="manager", password="responder-demo")
    body = client.get("/").content.decode()
    for incident in Incident.objects.filter(state="new"):
        assert incident.number in body


def test_its_query_count_does_not_grow_with_incidents(client, demo):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.services import incident_create

    client.login(username="lead", password="responder-demo")
    with CaptureQueriesContext(connection) as before:
        assert client.get("/").status_code == 200
    lead = get_user_model().objects.get(username="lead")
    for n in range(10):
        incident_create(
            actor=lead,
            title=f"extra {n}",
            symptoms="s",
            severity="P2",
            source="phone",
            impact_scope="i",
        )
    with CaptureQueriesContext(connection) as after:
        body = client.get("/").content.decode()
    assert "extra 9" in body
    assert len(after.captured_queries) == len(before.captured_queries)
