"""The per-(team, state, severity) tallies stay exact through every write."""

import pytest
from django.db.models import Count

from common.errors import TransitionNotAllowed
from incidents import services, tallies
from incidents.models import Incident, IncidentTally, State
from tests.factories import incident_in_state


def actual() -> dict:
    rows = (
        Incident.objects.order_by().values("team_id", "state", "severity").annotate(n=Count("id"))
    )
    return {(r["team_id"], r["state"], r["severity"]): r["n"] for r in rows}


def tallied() -> dict:
    return {
        (t.team_id, t.state, t.severity): t.count for t in IncidentTally.objects.all() if t.count
    }


def test_it_follows_every_transition_and_regrade(clock, lead, owner, tester, pay_lead):
    for state in State.values:
        incident_in_state(state, lead=lead, owner=owner, tester=tester)
    incident = incident_in_state(State.IN_PROGRESS, lead=lead, owner=owner, tester=tester)
    services.incident_grade(incident=incident, actor=lead, severity="P0", diagnosis="worse")
    services.incident_cancel(incident=incident, actor=lead, reason="duplicate")
    incident_in_state(State.NEW, lead=pay_lead, owner=pay_lead, tester=pay_lead)

    assert tallied() == actual()
    assert sum(tallied().values()) == Incident.objects.count()


def test_it_is_untouched_by_a_refused_change(clock, lead, owner, tester):
    incident = incident_in_state(State.NEW, lead=lead, owner=owner, tester=tester)
    before = tallied()
    with pytest.raises(TransitionNotAllowed):
        services.incident_resolve(incident=incident, actor=lead, fix="x")
    assert tallied() == before == actual()


def test_it_rebuilds_from_the_incidents(clock, lead, owner, tester):
    incident_in_state(State.ARCHIVED, lead=lead, owner=owner, tester=tester)
    IncidentTally.objects.update(count=99)

    tallies.rebuild()

    assert tallied() == actual()


def test_it_answers_list_totals_like_a_count(clock, lead, owner, tester, pay_lead, token_client):
    for state in (State.NEW, State.IN_PROGRESS, State.ARCHIVED, State.CANCELLED):
        incident_in_state(state, lead=lead, owner=owner, tester=tester)
    foreign = incident_in_state(State.NEW, lead=pay_lead, owner=pay_lead, tester=pay_lead)
    services.incident_acknowledge(incident=foreign, actor=pay_lead)
    services.incident_assign(incident=foreign, actor=pay_lead, owner=pay_lead, helpers=[owner])

    client = token_client(owner)  # sees platform, plus the payments incident they help with
    for query, expected in [
        ("", 5),
        ("?state=new", 1),
        ("?state=assigned", 1),
        ("?team=payments", 1),
        ("?team=platform&state=archived&state=cancelled", 2),
        ("?severity=P0", 0),
        ("?q=zzz-nothing", 0),
    ]:
        body = client.get(f"/api/v1/incidents/{query}").json()
        assert body["count"] == expected, query
        assert len(body["results"]) == expected, query


def test_it_does_not_count_a_managers_cross_team_work_twice(
    clock, lead, owner, tester, manager, pay_lead, token_client
):
    incident_in_state(State.NEW, lead=lead, owner=owner, tester=tester)
    foreign = incident_in_state(State.NEW, lead=pay_lead, owner=pay_lead, tester=pay_lead)
    services.incident_acknowledge(incident=foreign, actor=pay_lead)
    services.incident_assign(incident=foreign, actor=pay_lead, owner=manager)

    client = token_client(manager)  # sees every team, and owns a payments incident
    for query in ("", "?team=payments", "?state=assigned", "?team=payments&state=assigned"):
        body = client.get(f"/api/v1/incidents/{query}").json()
        assert body["count"] == len(body["results"]), query
