"""GET /api/v1/teams/{slug}/oncall/: who is on call now and next, by layer."""

from datetime import timedelta

import pytest

from escalation.roster import services as roster_services
from tests.conftest import NOW
from tests.factories import make_rotation, make_user

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def rostered(clock, platform, lead, engineer, onduty, tester):
    make_rotation(actor=lead, team=platform, people=[engineer, onduty])
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary")
    return platform


def test_it_answers_who_is_on_call_now_and_next(token_client, rostered, engineer):
    response = token_client(engineer).get("/api/v1/teams/platform/oncall/")

    assert response.status_code == 200
    assert response.json() == {
        "team": "platform",
        "now": [
            {
                "layer": "primary",
                "user": "engineer",
                "from": "2026-11-23T09:00:00+08:00",
                "until": "2026-11-30T09:00:00+08:00",
                "override": False,
            },
            {
                "layer": "secondary",
                "user": "tester",
                "from": "2026-11-23T09:00:00+08:00",
                # tester is the only secondary: on call for as far as the answer looks
                # (29 days from now)
                "until": "2026-12-25T10:00:00+08:00",
                "override": False,
            },
        ],
        "next": [
            {
                "layer": "primary",
                "user": "onduty",
                "from": "2026-11-30T09:00:00+08:00",
                "until": "2026-12-07T09:00:00+08:00",
                "override": False,
            }
        ],
        "warnings": [],
    }


def test_an_override_shows_in_now_and_next(token_client, rostered, lead, manager, onduty):
    roster_services.override_create(
        actor=lead, team=rostered, layer="primary", user=manager, start=NOW + H, end=NOW + 3 * H
    )

    body = token_client(onduty).get("/api/v1/teams/platform/oncall/").json()

    primary_next = [s for s in body["next"] if s["layer"] == "primary"]
    assert primary_next == [
        {
            "layer": "primary",
            "user": "manager",
            "from": "2026-11-26T11:00:00+08:00",
            "until": "2026-11-26T13:00:00+08:00",
            "override": True,
        }
    ]
    assert body["now"][0]["until"] == "2026-11-26T11:00:00+08:00"  # engineer, until covered


def test_it_warns_of_a_participant_who_left(token_client, rostered, lead, onduty):
    rostered.members.remove(onduty)

    body = token_client(lead).get("/api/v1/teams/platform/oncall/").json()

    # onduty's weeks are engineer's too: engineer stays on call, nobody comes next.
    assert [(s["layer"], s["user"]) for s in body["now"]] == [
        ("primary", "engineer"),
        ("secondary", "tester"),
    ]
    assert body["next"] == []
    assert len(body["warnings"]) == 1
    assert "onduty" in body["warnings"][0]


def test_a_team_without_a_roster_has_nobody(token_client, platform, lead):
    body = token_client(lead).get("/api/v1/teams/platform/oncall/").json()
    assert body == {"team": "platform", "now": [], "next": [], "warnings": []}


def test_another_teams_roster_is_not_found(token_client, rostered, pay_engineer, client):
    response = token_client(pay_engineer).get("/api/v1/teams/platform/oncall/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such team."}
    unknown = token_client(pay_engineer).get("/api/v1/teams/nowhere/oncall/")
    assert unknown.json() == response.json()
    assert client.get("/api/v1/teams/platform/oncall/").status_code in (401, 403)


def test_managers_see_every_teams_roster(token_client, rostered, payments):
    boss = make_user("manager", payments, username="boss")
    assert token_client(boss).get("/api/v1/teams/platform/oncall/").status_code == 200


def test_it_reads_the_roster_in_a_constant_number_of_queries(
    token_client, rostered, lead, django_assert_max_num_queries
):
    api = token_client(lead)
    api.get("/api/v1/teams/platform/oncall/")  # warm the token and user caches
    with django_assert_max_num_queries(12):
        assert api.get("/api/v1/teams/platform/oncall/").status_code == 200
