"""The list's fast path renders exactly what IncidentSummarySerializer renders."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from incidents.api.rows import incident_rows, incident_values
from incidents.api.serializers import IncidentSummarySerializer
from incidents.models import Incident, Service, State
from tests.factories import IncidentFactory, incident_in_state


def as_json(data):
    return json.loads(json.dumps(data, cls=JSONEncoder))


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_it_matches_the_serializer_for_every_state(clock, lead, owner, helper, tester, zone):
    for state in State.values:
        incident_in_state(state, lead=lead, owner=owner, tester=tester, helpers=[helper])
    service = Service.objects.create(team=lead.teams.get(), slug="db", name="db")
    IncidentFactory(actor=lead, service=service, received_at=timezone.now() - timedelta(hours=9))
    clock.shift(timedelta(hours=5))  # some clocks overdue now
    now = timezone.now()
    queryset = Incident.objects.order_by("-received_at", "-id")

    with timezone.override(zone):
        expected = as_json(
            IncidentSummarySerializer(queryset, many=True, context={"now": now}).data
        )
        actual = as_json(incident_rows(list(incident_values(queryset)), now=now))

    assert len(actual) == len(State.values) + 1
    assert actual == expected
    assert any(row["overdue"] for row in actual)
    assert any(row["helpers"] == ["helper"] for row in actual)
    assert any(row["service"] == "db" for row in actual)
