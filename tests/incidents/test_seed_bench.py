import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from common import clock
from incidents import services
from incidents.models import Incident, Severity, State, TimelineEvent

pytestmark = pytest.mark.django_db


def load(n=400, open_=60):
    call_command(
        "seed_bench", "--incidents", n, "--open", open_, "--batch", 150, stdout=io.StringIO()
    )


def test_it_loads_every_state_and_level_for_both_teams():
    load()
    assert Incident.objects.count() >= 400
    assert set(Incident.objects.values_list("state", flat=True)) == set(State.values)
    assert set(Incident.objects.values_list("severity", flat=True)) == set(Severity.values)
    assert set(Incident.objects.values_list("team__slug", flat=True)) == {"platform", "payments"}


def test_it_keeps_each_history_in_order_and_consistent():
    load()
    now = clock.now()
    for incident in Incident.objects.exclude(reporter__username="onduty")[:400]:
        steps = [
            incident.received_at,
            incident.acknowledged_at,
            incident.assigned_at,
            incident.started_at,
            incident.resolved_at,
            incident.archived_at,
        ]
        present = [s for s in steps if s is not None]
        assert present == sorted(present), incident.number
        assert present[-1] <= now
        assert incident.respond_by > incident.received_at
        events = list(incident.events.values_list("created_at", flat=True))
        assert events == sorted(events)
        assert incident.events.filter(kind="created").count() == 1
        if incident.state in (State.RESOLVED, State.ARCHIVED):
            assert incident.restored_at is not None
            assert incident.verifications.filter(passed=True).count() == 1
        if incident.state == State.IN_PROGRESS:
            assert incident.owner_id is not None
            assert incident.next_update_by is not None


def test_it_leaves_the_number_sequence_ahead_of_the_loaded_incidents():
    load(n=200, open_=200)
    lead = get_user_model().objects.get(username="lead")
    incident = services.incident_create(
        actor=lead, title="t", symptoms="s", severity="P2", source="phone", impact_scope="i"
    )
    assert Incident.objects.filter(number=incident.number).count() == 1
    numbers = list(Incident.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
    assert TimelineEvent.objects.filter(incident=incident).count() == 1


def test_it_refuses_more_open_than_incidents():
    with pytest.raises(CommandError):
        call_command("seed_bench", "--incidents", 5, "--open", 6, stdout=io.StringIO())


def test_it_writes_the_running_clocks_of_open_incidents():
    from escalation.models import Deadline

    load(n=100, open_=40)
    open_ids = set(
        Incident.objects.filter(state__in=["new", "acknowledged"]).values_list("pk", flat=True)
    )
    with_respond = set(
        Deadline.objects.filter(clock="respond", incident__state="new").values_list(
            "incident_id", flat=True
        )
    )
    assert with_respond
    assert with_respond <= open_ids
    assert not Deadline.objects.filter(incident__state="archived", next_at__isnull=False).exists()


def test_it_indexes_every_archived_incident_for_search():
    from knowledge.models import PostMortem, SearchDocument
    from knowledge.search import search

    call_command("seed_demo", stdout=io.StringIO())
    demo = set(Incident.objects.values_list("pk", flat=True))
    call_command(
        "seed_bench", "--incidents", 200, "--open", 20, "--archived-only", stdout=io.StringIO()
    )
    bench = Incident.objects.exclude(pk__in=demo)
    archived = bench.filter(state=State.ARCHIVED)
    assert archived.count() == 180
    indexed = set(
        SearchDocument.objects.filter(kind="incident")
        .exclude(object_id__in=demo)
        .values_list("object_id", flat=True)
    )
    assert indexed == set(archived.values_list("pk", flat=True))
    bench_postmortems = PostMortem.objects.exclude(incident__in=demo).count()
    assert bench_postmortems == archived.filter(severity__in=["P0", "P1"]).count()
    admin = get_user_model().objects.get(username="admin")
    hits = [
        d
        for d in search(user=admin, q="连接池耗尽")
        if d.kind == "incident" and d.object_id not in demo
    ]
    expected = archived.filter(title__contains="连接池耗尽").count()
    assert expected > 0
    assert len(hits) == expected
