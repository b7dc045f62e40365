"""The roster over HTTP: /api/v1/teams/{slug}/rotations/, overrides/, shifts/,
feeds/ and oncall/?at=. Every write goes through escalation.roster.services (and so
lands on the roster's timeline); a team the caller does not see is 404."""

from datetime import date, time, timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied

from escalation.models import CalendarFeed, Override, RosterEvent, Rotation
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from escalation.roster.models import LAYER_ORDER
from tests.conftest import NOW
from tests.factories import make_rotation

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
D = timedelta(days=1)
API = "/api/v1/teams/platform"


def iso(moment) -> str:
    return moment.isoformat()


def timeline(team) -> list[tuple[str, str]]:
    """(kind, actor) of the team's roster events, oldest first."""
    events = RosterEvent.objects.filter(team=team).order_by("at", "id")
    return [(e.kind, e.actor.username) for e in events]


@pytest.fixture
def rostered(clock, platform, lead, engineer, onduty, tester):
    """Weekly primary engineer → onduty from Monday 9 Nov (engineer on call on
    NOW's week), and tester alone in the secondary layer."""
    make_rotation(
        actor=lead,
        team=platform,
        people=[engineer, onduty],
        name="Weekly primary",
        start_date=date(2026, 11, 9),
    )
    make_rotation(actor=lead, team=platform, people=[tester], layer="secondary")
    return platform


NIGHTS = {
    "name": "Weeknights",
    "layer": "secondary",
    "participants": ["onduty", "engineer"],
    "shift_days": 1,
    "handoff_time": "18:00",
    "start_date": "2026-11-23",
    "weekdays": "01234",
    "day_start": "18:00",
    "day_end": "09:00",
}


# ---------------------------------------------------------------- rotations


def test_it_creates_a_rotation_as_a_lead(token_client, clock, platform, lead, onduty, engineer):
    response = token_client(lead).post(f"{API}/rotations/", NIGHTS, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    rotation = Rotation.objects.get()
    assert body == {"id": rotation.pk, **NIGHTS}
    assert response["Location"].endswith(f"{API}/rotations/{rotation.pk}/")
    assert [m.user.username for m in rotation.members.order_by("position")] == [
        "onduty",
        "engineer",
    ]
    assert (rotation.handoff_time, rotation.day_start, rotation.day_end) == (
        time(18),
        time(18),
        time(9),
    )
    assert timeline(platform) == [(RosterEvent.Kind.ROTATION_CREATED, "lead")]


def test_it_fills_in_the_defaults(token_client, clock, platform, lead, onduty):
    body = {"name": "Weekly", "layer": "primary", "participants": ["onduty"]}
    response = token_client(lead).post(
        f"{API}/rotations/", {**body, "start_date": "2026-11-23"}, format="json"
    )

    assert response.status_code == 201
    assert response.json() | {"id": 0} == {
        "id": 0,
        **body,
        "shift_days": 7,
        "handoff_time": "09:00",
        "start_date": "2026-11-23",
        "weekdays": "0123456",
        "day_start": None,
        "day_end": None,
    }


def test_it_lists_and_reads_rotations(token_client, rostered, engineer):
    api = token_client(engineer)  # any member reads the roster

    listed = api.get(f"{API}/rotations/")
    first = Rotation.objects.order_by("id").first()
    one = api.get(f"{API}/rotations/{first.pk}/")

    assert listed.status_code == 200
    assert listed.json()["count"] == 2
    assert [(r["name"], r["participants"]) for r in listed.json()["results"]] == [
        ("Weekly primary", ["engineer", "onduty"]),
        ("secondary rotation", ["tester"]),
    ]
    assert one.status_code == 200
    assert one.json() == listed.json()["results"][0]
    assert one.json()["start_date"] == "2026-11-09"


def test_a_patch_changes_only_what_it_names(token_client, rostered, lead):
    rotation = Rotation.objects.get(name="Weekly primary")
    api = token_client(lead)
    before = api.get(f"{API}/rotations/{rotation.pk}/").json()

    response = api.patch(
        f"{API}/rotations/{rotation.pk}/",
        {"handoff_time": "10:30", "participants": ["onduty", "engineer"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        **before,
        "handoff_time": "10:30",
        "participants": ["onduty", "engineer"],
    }
    assert api.get(f"{API}/rotations/{rotation.pk}/").json() == response.json()
    assert timeline(rostered)[-1] == (RosterEvent.Kind.ROTATION_CHANGED, "lead")
    event = RosterEvent.objects.filter(kind=RosterEvent.Kind.ROTATION_CHANGED).get()
    assert event.data["before"]["at"] == "09:00"
    assert event.data["after"]["at"] == "10:30"


def test_a_patch_clears_the_daily_window_with_nulls(token_client, clock, platform, lead, onduty):
    api = token_client(lead)
    made = api.post(
        f"{API}/rotations/", {**NIGHTS, "participants": ["onduty"]}, format="json"
    ).json()

    response = api.patch(
        f"{API}/rotations/{made['id']}/", {"day_start": None, "day_end": None}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["day_start"], response.json()["day_end"]) == (None, None)
    assert response.json()["weekdays"] == "01234"


@pytest.mark.parametrize("field", ["id", "team", "created_at", "colour"])
def test_a_patch_naming_a_read_only_or_unknown_field_is_refused(
    token_client, rostered, lead, field
):
    rotation = Rotation.objects.get(name="Weekly primary")

    response = token_client(lead).patch(
        f"{API}/rotations/{rotation.pk}/", {field: 5, "name": "Renamed"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {field: ["This field is read-only or unknown."]}
    assert Rotation.objects.get(pk=rotation.pk).name == "Weekly primary"


def test_it_deletes_a_rotation(token_client, rostered, lead):
    rotation = Rotation.objects.get(name="Weekly primary")

    response = token_client(lead).delete(f"{API}/rotations/{rotation.pk}/")

    assert response.status_code == 204
    # It had begun: it is gone from the roster, and its past stays in the schedule.
    assert Rotation.objects.get(pk=rotation.pk).ends_at is not None
    assert timeline(rostered)[-1] == (RosterEvent.Kind.ROTATION_DELETED, "lead")
    assert token_client(lead).get(f"{API}/rotations/{rotation.pk}/").status_code == 404
    listed = token_client(lead).get(f"{API}/rotations/").json()["results"]
    assert rotation.pk not in [r["id"] for r in listed]


def test_it_lets_an_admin_write_too(token_client, rostered, admin):
    response = token_client(admin).post(f"{API}/rotations/", NIGHTS, format="json")
    assert response.status_code == 201
    assert timeline(rostered)[-1] == (RosterEvent.Kind.ROTATION_CREATED, "admin")


@pytest.mark.parametrize("who", ["engineer", "manager"])
def test_it_refuses_a_member_who_is_not_a_lead(request, token_client, rostered, who):
    api = token_client(request.getfixturevalue(who))
    rotation = Rotation.objects.get(name="Weekly primary")
    events = RosterEvent.objects.count()
    reason = {"detail": "Only a tech lead of Platform may change its rotations."}

    created = api.post(f"{API}/rotations/", NIGHTS, format="json")
    changed = api.patch(f"{API}/rotations/{rotation.pk}/", {"name": "Mine"}, format="json")
    # Refused before the input is read: no field errors for someone who may not.
    bad = api.post(f"{API}/rotations/", {"shift_days": 0}, format="json")
    deleted = api.delete(f"{API}/rotations/{rotation.pk}/")

    for response in (created, changed, bad, deleted):
        assert response.status_code == 403
        assert response.json() == reason
    assert Rotation.objects.count() == 2
    assert Rotation.objects.get(pk=rotation.pk).name == "Weekly primary"
    assert RosterEvent.objects.count() == events


def test_another_teams_member_and_an_unknown_slug_get_the_same_404(
    token_client, rostered, pay_lead
):
    api = token_client(pay_lead)  # a tech lead, of payments
    rotation = Rotation.objects.get(name="Weekly primary")
    nowhere = api.get("/api/v1/teams/nowhere/rotations/")

    answers = [
        api.get(f"{API}/rotations/"),
        api.post(f"{API}/rotations/", NIGHTS, format="json"),
        api.get(f"{API}/rotations/{rotation.pk}/"),
        api.patch(f"{API}/rotations/{rotation.pk}/", {"name": "Mine"}, format="json"),
        api.delete(f"{API}/rotations/{rotation.pk}/"),
        api.get(f"{API}/overrides/"),
        api.get(f"{API}/shifts/", {"from": iso(NOW), "until": iso(NOW + D)}),
        api.post(f"{API}/feeds/"),
    ]

    assert nowhere.status_code == 404
    assert nowhere.json() == {"detail": "No such team."}
    for response in answers:
        assert (response.status_code, response.json()) == (404, nowhere.json())
    assert Rotation.objects.count() == 2
    assert not CalendarFeed.objects.exists()


def test_a_rotation_of_another_team_is_not_found_under_this_one(
    token_client, rostered, payments, pay_lead, pay_engineer, lead
):
    theirs = make_rotation(actor=pay_lead, team=payments, people=[pay_engineer])

    response = token_client(lead).get(f"{API}/rotations/{theirs.pk}/")
    deleted = token_client(lead).delete(f"{API}/rotations/{theirs.pk}/")

    assert response.status_code == deleted.status_code == 404
    assert response.json() == {"detail": "No such rotation."}
    assert Rotation.objects.filter(pk=theirs.pk).exists()


def test_it_needs_credentials(client, rostered):
    assert client.get(f"{API}/rotations/").status_code == 401
    assert client.post(
        f"{API}/rotations/", NIGHTS, content_type="application/json"
    ).status_code == (401)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"handoff_time": "9am"}, "handoff_time", "A time of day as HH:MM, e.g. 09:00."),
        ({"handoff_time": "24:00"}, "handoff_time", "A time of day as HH:MM, e.g. 09:00."),
        ({"handoff_time": "9:00"}, "handoff_time", "A time of day as HH:MM, e.g. 09:00."),
        ({"day_end": 900}, "day_end", "A time of day as HH:MM, e.g. 09:00."),
        ({"participants": ["onduty", "nobody"]}, "participants", "No such user: nobody."),
        (
            {"participants": ["onduty", "pay-engineer"]},
            "participants",
            "Not active members of Platform: pay-engineer.",
        ),
        ({"participants": []}, "participants", None),
        ({"weekdays": "78"}, "weekdays", "Weekdays are digits 0 (Monday) to 6."),
        ({"weekdays": " 012"}, "weekdays", "Weekdays are digits 0 (Monday) to 6."),
        ({"shift_days": 0}, "shift_days", None),
        ({"shift_days": 29}, "shift_days", None),
        ({"shift_days": "7"}, "shift_days", None),
        ({"start_date": "2026/11/23"}, "start_date", "A date as YYYY-MM-DD, e.g. 2026-11-23."),
        ({"start_date": "9999-12-31"}, "start_date", "Give a date within ten years of today."),
        ({"layer": "tertiary"}, "layer", None),
        ({"name": "   "}, "name", None),
        ({"day_start": "18:00", "day_end": None}, "day_end", None),
    ],
)
def test_it_answers_bad_input_with_field_errors(
    token_client, rostered, lead, pay_engineer, change, field, message
):
    events = RosterEvent.objects.count()

    response = token_client(lead).post(f"{API}/rotations/", {**NIGHTS, **change}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    if message:
        assert response.json()[field] == [message]
    assert Rotation.objects.count() == 2
    assert RosterEvent.objects.count() == events


def test_a_patch_with_bad_input_changes_nothing(token_client, rostered, lead):
    rotation = Rotation.objects.get(name="Weekly primary")

    response = token_client(lead).patch(
        f"{API}/rotations/{rotation.pk}/", {"name": "Renamed", "weekdays": "78"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["weekdays"]
    assert Rotation.objects.get(pk=rotation.pk).name == "Weekly primary"


# ---------------------------------------------------------------- overrides


def test_it_adds_an_override_with_offsets(token_client, rostered, lead, manager):
    body = {
        "layer": "primary",
        "user": "manager",
        "start": "2026-11-27T09:00:00+08:00",
        "end": "2026-11-27T01:00:00-08:00",  # 17:00 in Shanghai: any offset will do
        "note": "Covering the release",
    }

    response = token_client(lead).post(f"{API}/overrides/", body, format="json")

    assert response.status_code == 201, response.json()
    override = Override.objects.get()
    assert response.json() == {
        "id": override.pk,
        **body,
        "end": "2026-11-27T17:00:00+08:00",
        "created_by": "lead",
    }
    assert (override.start, override.end) == (NOW + 23 * H, NOW + 31 * H)
    assert timeline(rostered)[-1] == (RosterEvent.Kind.OVERRIDE_CREATED, "lead")
    assert RosterEvent.objects.first().data["covers"] == ["engineer"]


def test_a_member_covers_for_themselves_but_not_for_someone_else(
    token_client, rostered, tester, onduty
):
    api = token_client(tester)
    mine = {"layer": "primary", "user": "tester", "start": iso(NOW + H), "end": iso(NOW + 2 * H)}

    covering = api.post(f"{API}/overrides/", mine, format="json")
    later = {"start": iso(NOW + 3 * H), "end": iso(NOW + 4 * H)}  # engineer's, not tester's
    for_onduty = api.post(f"{API}/overrides/", {**mine, **later, "user": "onduty"}, format="json")

    assert covering.status_code == 201
    assert for_onduty.status_code == 403
    assert "person covering, the person covered" in for_onduty.json()["detail"]
    assert Override.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"start": "2026-11-27T09:00:00"},
            "start",
            "Give the time with its offset from UTC, e.g. 2026-11-26T09:00:00+08:00.",
        ),
        (
            {"end": "2026-11-27T18:00"},
            "end",
            "Give the time with its offset from UTC, e.g. 2026-11-26T09:00:00+08:00.",
        ),
        ({"end": "2026-11-27T08:00:00+08:00"}, "end", "The override must end after it starts."),
        ({"end": "2026-11-27T09:00:00+08:00"}, "end", "The override must end after it starts."),
        ({"start": "tomorrow"}, "start", None),
        ({"start": "1545-12-15T17:11:37Z"}, "start", "Give a moment within ten years of now."),
        ({"user": "nobody"}, "user", None),
        ({"user": "pay-engineer"}, "user", "Choose an active member of Platform."),
        ({"layer": "tertiary"}, "layer", None),
        ({"note": "x" * 201}, "note", None),
    ],
)
def test_it_refuses_a_bad_override(
    token_client, rostered, lead, pay_engineer, change, field, message
):
    body = {
        "layer": "primary",
        "user": "lead",
        "start": "2026-11-27T09:00:00+08:00",
        "end": "2026-11-27T18:00:00+08:00",
    }

    response = token_client(lead).post(f"{API}/overrides/", {**body, **change}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    if message:
        assert response.json()[field] == [message]
    assert not Override.objects.exists()


def _override(team, lead, user, start, hours=2):
    return roster_services.override_create(
        actor=lead, team=team, layer="primary", user=user, start=start, end=start + hours * H
    )


def test_it_lists_the_overrides_not_yet_ended(token_client, clock, rostered, lead, manager, tester):
    past = _override(rostered, lead, manager, NOW + H)
    clock.shift(D)
    later = _override(rostered, lead, tester, NOW + 5 * D)
    sooner = _override(rostered, lead, manager, NOW + 2 * D)
    api = token_client(tester)

    current = api.get(f"{API}/overrides/").json()
    everything = api.get(f"{API}/overrides/", {"all": "1"}).json()

    assert [o["id"] for o in current["results"]] == [sooner.pk, later.pk]
    assert [o["id"] for o in everything["results"]] == [later.pk, sooner.pk, past.pk]
    assert everything["results"][2] == {
        "id": past.pk,
        "layer": "primary",
        "user": "manager",
        "start": "2026-11-26T11:00:00+08:00",
        "end": "2026-11-26T13:00:00+08:00",
        "note": "",
        "created_by": "lead",
    }
    assert api.get(f"{API}/overrides/", {"all": "true"}).json() == everything
    assert api.get(f"{API}/overrides/", {"all": "0"}).json() == current


def test_it_refuses_a_bad_all(token_client, rostered, lead):
    api = token_client(lead)
    response = api.get(f"{API}/overrides/", {"all": "yes"})
    blank = api.get(f"{API}/overrides/", {"all": ""})

    assert response.status_code == blank.status_code == 400
    assert response.json() == {"all": ["Give 1 (true) or 0 (false)."]}
    assert blank.json() == {"all": ["Give a value or leave the parameter out."]}


def test_it_removes_an_override(token_client, rostered, lead, manager):
    override = _override(rostered, lead, manager, NOW + H)

    response = token_client(lead).delete(f"{API}/overrides/{override.pk}/")

    assert response.status_code == 204
    assert not Override.objects.exists()
    assert timeline(rostered)[-1] == (RosterEvent.Kind.OVERRIDE_DELETED, "lead")
    again = token_client(lead).delete(f"{API}/overrides/{override.pk}/")
    assert (again.status_code, again.json()) == (404, {"detail": "No such override."})


def test_only_its_people_or_a_lead_remove_an_override(
    token_client, rostered, lead, manager, tester
):
    override = _override(rostered, lead, manager, NOW + H)

    response = token_client(tester).delete(f"{API}/overrides/{override.pk}/")

    assert response.status_code == 403
    assert "Only who made it, who covers" in response.json()["detail"]
    assert Override.objects.filter(pk=override.pk).exists()


# ---------------------------------------------------------------- oncall?at=


def on_call(api, at=None) -> list[tuple[str, str, str]]:
    params = {"at": iso(at)} if at else {}
    response = api.get(f"{API}/oncall/", params)
    assert response.status_code == 200, response.json()
    body = response.json()
    return [("now", s["layer"], s["user"]) for s in body["now"]] + [
        ("next", s["layer"], s["user"]) for s in body["next"]
    ]


def test_it_answers_who_was_on_call_at_a_past_instant(token_client, rostered, engineer):
    api = token_client(engineer)

    assert on_call(api) == [
        ("now", "primary", "engineer"),
        ("now", "secondary", "tester"),
        ("next", "primary", "onduty"),
    ]
    # Thursday 19 Nov: onduty's week (16–23 Nov); the secondary had not begun.
    assert on_call(api, NOW - 7 * D) == [
        ("now", "primary", "onduty"),
        ("next", "primary", "engineer"),
        ("next", "secondary", "tester"),
    ]
    body = api.get(f"{API}/oncall/", {"at": iso(NOW - 7 * D)}).json()
    assert body["now"][0]["from"] == "2026-11-16T09:00:00+08:00"


def test_it_answers_who_will_be_on_call(token_client, rostered, engineer):
    api = token_client(engineer)

    assert on_call(api, NOW + 7 * D)[0] == ("now", "primary", "onduty")
    assert on_call(api, NOW + 14 * D)[0] == ("now", "primary", "engineer")


def test_it_remembers_an_override_long_over(token_client, clock, rostered, lead, manager):
    _override(rostered, lead, manager, NOW + H)
    clock.shift(60 * D)  # far beyond the 29 days a roster looks back by default

    assert on_call(token_client(lead), NOW + 2 * H)[0] == ("now", "primary", "manager")


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("yesterday", None),
        ("", "Give a value or leave the parameter out."),
        ("2026-11-26T10:00:00", "Give the time with its offset from UTC"),
        ("2099-01-01T00:00:00Z", "Give a moment within ten years of now."),
        ("0001-01-01T00:00:00Z", "Give a moment within ten years of now."),
    ],
)
def test_it_refuses_a_bad_at(token_client, rostered, lead, at, message):
    response = token_client(lead).get(f"{API}/oncall/", {"at": at})

    assert response.status_code == 400
    assert list(response.json()) == ["at"]
    if message:
        assert response.json()["at"][0].startswith(message)


# ---------------------------------------------------------------- shifts


def test_it_answers_the_final_schedule_cut_at_from_and_until(token_client, rostered, lead, manager):
    _override(rostered, lead, manager, NOW + 2 * D, hours=6)
    start, end = NOW - 3 * D + timedelta(minutes=30), NOW + 10 * D

    response = token_client(lead).get(f"{API}/shifts/", {"from": iso(start), "until": iso(end)})

    assert response.status_code == 200
    shifts = response.json()
    layers = roster_selectors.roster_for(rostered, since=start).shifts(start, end)
    expected = sorted(
        (s for items in layers.values() for s in items),
        key=lambda s: (s.start, LAYER_ORDER[s.layer]),
    )
    assert [(s["layer"], s["user"], s["override"]) for s in shifts] == [
        (s.layer, s.user.username, s.is_override) for s in expected
    ]
    assert shifts == [
        # Cut at `from` (Monday 23 Nov 10:30), where the secondary had just begun.
        {
            "layer": "primary",
            "user": "engineer",
            "start": "2026-11-23T10:30:00+08:00",
            "end": "2026-11-28T10:00:00+08:00",
            "override": False,
        },
        {
            "layer": "secondary",
            "user": "tester",
            "start": "2026-11-23T10:30:00+08:00",
            "end": "2026-12-06T10:00:00+08:00",
            "override": False,
        },
        {
            "layer": "primary",
            "user": "manager",
            "start": "2026-11-28T10:00:00+08:00",
            "end": "2026-11-28T16:00:00+08:00",
            "override": True,
        },
        {
            "layer": "primary",
            "user": "engineer",
            "start": "2026-11-28T16:00:00+08:00",
            "end": "2026-11-30T09:00:00+08:00",
            "override": False,
        },
        # … and at `until` (Sunday 6 Dec 10:00).
        {
            "layer": "primary",
            "user": "onduty",
            "start": "2026-11-30T09:00:00+08:00",
            "end": "2026-12-06T10:00:00+08:00",
            "override": False,
        },
    ]


def test_it_applies_weekdays_and_daily_windows(token_client, clock, platform, lead, onduty):
    token_client(lead).post(
        f"{API}/rotations/", {**NIGHTS, "participants": ["onduty"]}, format="json"
    )
    # Friday 27 Nov 00:00 to Monday 30 Nov 12:00, Shanghai.
    start, end = NOW + 14 * H, NOW + 4 * D + 2 * H

    shifts = (
        token_client(onduty).get(f"{API}/shifts/", {"from": iso(start), "until": iso(end)}).json()
    )

    # Thursday's night runs into Friday morning; Friday's night belongs to Friday;
    # no weekend nights; Monday's night begins after `until`.
    assert [(s["start"], s["end"]) for s in shifts] == [
        ("2026-11-27T00:00:00+08:00", "2026-11-27T09:00:00+08:00"),
        ("2026-11-27T18:00:00+08:00", "2026-11-28T09:00:00+08:00"),
    ]


def test_it_shows_an_override_that_ended_long_ago(token_client, clock, rostered, lead, manager):
    override = _override(rostered, lead, manager, NOW + H)
    clock.shift(60 * D)

    shifts = (
        token_client(lead)
        .get(f"{API}/shifts/", {"from": iso(override.start), "until": iso(override.end)})
        .json()
    )

    assert [(s["layer"], s["user"], s["override"]) for s in shifts] == [
        ("primary", "manager", True),
        ("secondary", "tester", False),
    ]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({}, "from", "This field is required."),
        ({"from": iso(NOW)}, "until", "This field is required."),
        ({"from": iso(NOW), "until": iso(NOW)}, "until", "Give an “until” after “from”."),
        ({"from": iso(NOW), "until": iso(NOW - H)}, "until", "Give an “until” after “from”."),
        (
            {"from": iso(NOW), "until": iso(NOW + 93 * D + timedelta(seconds=1))},
            "until",
            "Ask for at most 93 days at once.",
        ),
        (
            {"from": "2026-11-26T00:00:00", "until": iso(NOW + D)},
            "from",
            "Give the time with its offset from UTC, e.g. 2026-11-26T09:00:00+08:00.",
        ),
        ({"from": "now", "until": iso(NOW + D)}, "from", None),
    ],
)
def test_it_refuses_a_bad_window(token_client, rostered, lead, params, field, message):
    response = token_client(lead).get(f"{API}/shifts/", params)

    assert response.status_code == 400
    assert field in response.json()
    if message:
        assert response.json()[field] == [message]


def test_it_answers_93_days_at_once(token_client, rostered, lead):
    params = {"from": iso(NOW), "until": iso(NOW + 93 * D)}
    response = token_client(lead).get(f"{API}/shifts/", params)
    assert response.status_code == 200
    assert response.json()[-1]["end"] == "2027-02-27T10:00:00+08:00"


# ---------------------------------------------------------------- feeds


def test_it_makes_the_feed_once_and_answers_it_again(client, token_client, rostered, engineer):
    api = token_client(engineer)

    made = api.post(f"{API}/feeds/")
    again = api.post(f"{API}/feeds/")

    assert made.status_code == 201
    assert again.status_code == 200
    url = made.json()["url"]
    assert again.json() == {"url": url}
    assert url.startswith(f"{settings.SITE_URL}/oncall/feeds/")
    assert url.endswith(".ics")
    feed = CalendarFeed.objects.get()
    assert (feed.user, feed.team) == (engineer, rostered)
    calendar = client.get(urlsplit(url).path)  # no sign-in: the address is the secret
    assert calendar.status_code == 200
    assert calendar["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in calendar.content


def test_each_user_gets_their_own_feed_and_a_revoked_one_is_replaced(
    token_client, rostered, engineer, lead
):
    mine = token_client(engineer).post(f"{API}/feeds/").json()["url"]
    theirs = token_client(lead).post(f"{API}/feeds/").json()["url"]
    roster_services.feed_revoke(user=engineer, feed=CalendarFeed.objects.get(user=engineer))

    renewed = token_client(engineer).post(f"{API}/feeds/")

    assert mine != theirs
    assert renewed.status_code == 201
    assert renewed.json()["url"] not in (mine, theirs)


def test_feed_for_keeps_the_address_and_the_team_private(rostered, engineer, pay_engineer):
    first = roster_services.feed_for(user=engineer, team=rostered)
    assert roster_services.feed_for(user=engineer, team=rostered) == first
    with pytest.raises(PermissionDenied):
        roster_services.feed_for(user=pay_engineer, team=rostered)
    assert CalendarFeed.objects.count() == 1


# ---------------------------------------------------------------- query counts


def more_rows(team, lead, people, n: int) -> None:
    for i in range(n):
        make_rotation(actor=lead, team=team, people=people, name=f"Extra {i}")
        _override(team, lead, people[i % len(people)], NOW + (i + 1) * D)


@pytest.mark.parametrize(
    ("path", "params", "queries"),
    [
        ("rotations/", {}, 6),
        ("overrides/", {}, 5),
        ("overrides/", {"all": "1"}, 5),
        ("shifts/", {"from": iso(NOW), "until": iso(NOW + 30 * D)}, 7),
        ("oncall/", {"at": iso(NOW + 3 * D)}, 7),
    ],
)
def test_it_reads_in_a_constant_number_of_queries(
    token_client,
    rostered,
    lead,
    engineer,
    onduty,
    tester,
    django_assert_num_queries,
    path,
    params,
    queries,
):
    _override(rostered, lead, tester, NOW + H)
    api = token_client(lead)
    api.get(f"{API}/{path}", params)  # warm the caches

    with django_assert_num_queries(queries):
        assert api.get(f"{API}/{path}", params).status_code == 200
    more_rows(rostered, lead, [engineer, onduty, tester], 6)
    with django_assert_num_queries(queries):
        body = api.get(f"{API}/{path}", params).json()
    if "results" in body:
        assert len(body["results"]) > 5  # the rows really grew
