"""Every JSON body is read the same way: malformed, or nested deeper than anything the
API takes, is a 400 that says why — never a 500 (a RecursionError before)."""

import pytest
from rest_framework.test import APIClient

from common.parsers import MAX_JSON_DEPTH
from incidents import alerts
from incidents.models import Incident
from tests.factories import in_progress_incident

pytestmark = pytest.mark.django_db


def nested(levels: int, *, inner: str = "1", wrap=('{"a":', "}")) -> str:
    return wrap[0] * levels + inner + wrap[1] * levels


@pytest.fixture
def working(clock, lead, owner):
    return in_progress_incident(lead=lead, owner=owner)


@pytest.fixture
def bodies(platform, token_client, lead, working):
    """(client, url) of each JSON endpoint the audit tried."""
    _integration, token = alerts.integration_create(name="prometheus", team=platform)
    return [
        (APIClient(), f"/api/v1/alerts/{token}/"),
        (token_client(lead), "/api/v1/incidents/"),
        (token_client(lead), f"/api/v1/incidents/{working.pk}/log/"),
    ]


@pytest.mark.parametrize("levels", [1000, 100_000])
@pytest.mark.parametrize("wrap", [('{"a":', "}"), ("[", "]")])
def test_it_answers_400_to_json_nested_too_deep(bodies, levels, wrap):
    before = Incident.objects.count()
    for client, url in bodies:
        response = client.post(url, nested(levels, wrap=wrap), content_type="application/json")

        assert response.status_code == 400, (url, response.status_code)
        assert f"at most {MAX_JSON_DEPTH} levels" in response.json()["detail"], url
    assert Incident.objects.count() == before


def test_it_answers_400_just_past_the_limit_and_reads_within_it(bodies):
    client, url = bodies[2]  # the log endpoint: text must be a string
    too_deep = client.post(
        url,
        '{"kind": "note", "text": ' + nested(MAX_JSON_DEPTH) + "}",
        content_type="application/json",
    )
    within = client.post(
        url,
        '{"kind": "note", "text": ' + nested(MAX_JSON_DEPTH - 2) + "}",
        content_type="application/json",
    )

    assert too_deep.status_code == 400
    assert "nested too deeply" in too_deep.json()["detail"]
    # Parsed, then refused for what it is (not a string), not for its depth.
    assert within.status_code == 400
    assert "nested too deeply" not in str(within.json())
    assert "text" in within.json()


def test_it_still_explains_malformed_json(bodies):
    for client, url in bodies:
        response = client.post(url, '{"title": ', content_type="application/json")

        assert response.status_code == 400, url
        assert "JSON parse error" in response.json()["detail"], url
