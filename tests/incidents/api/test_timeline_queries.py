"""The timeline endpoint's query count does not grow with the number of events."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from tests.factories import in_progress_incident


def timeline_queries(client, incident) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/api/v1/incidents/{incident.pk}/timeline/")
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json())


def test_its_query_count_is_fixed(clock, token_client_for, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    client = token_client_for(lead)
    few_queries, few_events = timeline_queries(client, incident)
    for n in range(20):
        author = owner if n % 2 else lead  # several actors to look up
        services.incident_log(incident=incident, actor=author, kind="note", text=f"n{n}")
    many_queries, many_events = timeline_queries(client, incident)

    assert many_events == few_events + 20
    assert many_queries == few_queries
