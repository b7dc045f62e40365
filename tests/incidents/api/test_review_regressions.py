"""Inputs that once answered 500, and refusal order (403 before 412)."""

import pytest

from incidents.models import Incident
from tests.factories import new_incident

from .helpers import LIST_URL


@pytest.mark.parametrize("query", ["?page_size=%C2%B2", "?team=%00&team=platform", "?team=a%20b"])
def test_it_answers_400_for_odd_list_parameters(clock, client_for, lead, query):
    new_incident(reporter=lead)

    assert client_for(lead).get(LIST_URL + query).status_code == 400


def test_it_refuses_a_received_at_in_year_one(clock, client_for, lead):
    response = client_for(lead).post(
        LIST_URL,
        {
            "title": "t",
            "symptoms": "s",
            "severity": "P2",
            "source": "api",
            "impact_scope": "i",
            "received_at": "0001-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "received_at" in response.data
    assert Incident.objects.count() == 0


def test_it_says_403_before_412_to_a_role_that_may_not_act(clock, client_for, engineer, onduty):
    incident = new_incident(reporter=onduty)

    response = client_for(engineer).post(
        f"/api/v1/incidents/{incident.pk}/acknowledge/",
        {},
        format="json",
        headers={"If-Match": f'"{incident.pk}-99"'},
    )

    assert response.status_code == 403
