"""A team's roster page reads in a fixed number of queries, writes its grid rows
escaped, and loads the "Add an override" form when it is opened."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.people import display_name
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from escalation.roster.models import RosterEvent
from tests.conftest import NOW
from tests.factories import make_rotation

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
D = timedelta(days=1)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rostered(clock, platform, lead, engineer, onduty):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty], name="Weekly primary")
    return platform


def grow(team, lead, people, n: int) -> None:
    """n more rotations (both layers) and overrides, each a roster event too."""
    for i in range(n):
        layer = ("primary", "secondary")[i % 2]
        make_rotation(actor=lead, team=team, people=people, layer=layer, name=f"Extra {i}")
        roster_services.override_create(
            actor=lead,
            team=team,
            layer=layer,
            user=people[i % len(people)],
            start=NOW + (i + 1) * D,
            end=NOW + (i + 1) * D + 2 * H,
        )


def test_the_team_page_reads_in_a_fixed_number_of_queries(
    client, rostered, lead, engineer, onduty, tester
):
    client.force_login(lead)
    client.get("/oncall/platform/")  # warm the caches

    with CaptureQueriesContext(connection) as few:
        assert client.get("/oncall/platform/").status_code == 200
    grow(rostered, lead, [engineer, onduty, tester], 6)
    with CaptureQueriesContext(connection) as many:
        body = client.get("/oncall/platform/").content.decode()

    assert body.count("Extra ") >= 6  # the rows really grew
    assert len(many.captured_queries) == len(few.captured_queries), "\n".join(
        q["sql"][:200] for q in many.captured_queries
    )


def test_it_names_the_people_of_the_roster_log_without_asking_again(
    rostered, lead, engineer, onduty, django_assert_num_queries
):
    events = list(RosterEvent.objects.filter(team=rostered))
    known = [engineer, onduty]

    with django_assert_num_queries(0):
        names = roster_selectors.people_names(events, known=known)
    with django_assert_num_queries(1):  # someone the roster did not load
        assert roster_selectors.people_names(events, known=[engineer]) == names
    assert names == {"engineer": display_name(engineer), "onduty": display_name(onduty)}


def test_the_grid_escapes_what_people_typed(client, clock, platform, lead, engineer):
    engineer.first_name, engineer.last_name = "<b>Eng", "</td>"
    engineer.save()
    make_rotation(actor=lead, team=platform, people=[engineer])
    client.force_login(lead)

    body = client.get("/oncall/platform/").content.decode()

    assert "&lt;b&gt;Eng &lt;/td&gt;" in body
    assert "<b>Eng" not in body


def test_the_override_form_loads_when_opened(client, rostered, lead):
    client.force_login(lead)

    page = client.get("/oncall/platform/").content.decode()
    form = client.get("/oncall/platform/overrides/", **HTMX)

    assert 'id="form-override"' not in page
    assert 'hx-get="/oncall/platform/overrides/" hx-trigger="toggle once"' in page
    assert form.status_code == 200
    body = form.content.decode()
    assert body.lstrip().startswith("<form")  # the form alone, not a page
    assert 'id="form-override"' in body
    assert '<option value="lead" selected>' in body
    # From the next full hour, in the team's time zone (Shanghai), for twelve hours.
    start = timezone.localtime(NOW).replace(minute=0, second=0) + H
    assert f'name="start" value="{start:%Y-%m-%dT%H:%M}"' in body
    assert f'name="end" value="{start + 12 * H:%Y-%m-%dT%H:%M}"' in body


def test_without_htmx_the_override_form_opens_on_the_team_page(client, rostered, lead):
    client.force_login(lead)

    body = client.get("/oncall/platform/overrides/").content.decode()

    assert '<details open id="override-add">' in body
    assert 'id="form-override"' in body
    assert "Weekly primary" in body  # the whole team page


def test_another_teams_override_form_is_not_found(client, rostered, pay_engineer):
    client.force_login(pay_engineer)

    assert client.get("/oncall/platform/overrides/", **HTMX).status_code == 404
