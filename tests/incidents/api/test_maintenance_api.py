"""/api/v1/maintenance/: plan, read, change, end and delete maintenance windows."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.maintenance import services
from incidents.models import MaintenanceWindow, Service
from tests.conftest import NOW
from tests.incidents.api.helpers import when

LIST_URL = "/api/v1/maintenance/"


def detail_url(pk) -> str:
    return f"{LIST_URL}{pk}/"


def end_url(pk) -> str:
    return f"{detail_url(pk)}end/"


def iso(value: datetime) -> str:
    return value.isoformat()


def body(**fields) -> dict:
    data = {
        "title": "DB upgrade",
        "team": "platform",
        "starts_at": iso(NOW + timedelta(hours=1)),
        "ends_at": iso(NOW + timedelta(hours=3)),
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not ...}


def planned(lead, team, **fields) -> MaintenanceWindow:
    fields.setdefault("title", "DB upgrade")
    fields.setdefault("starts_at", NOW - timedelta(hours=1))
    if not fields.get("recurrence"):
        fields.setdefault("ends_at", NOW + timedelta(hours=1))
    return services.window_create(actor=lead, team=team, **fields)


@pytest.fixture
def theirs(clock, payments, pay_lead):
    return planned(pay_lead, payments, title="Payments window")


# ---------------------------------------------------------------- create


def test_it_plans_a_one_off_window(clock, client_for, lead, platform):
    Service.objects.create(team=platform, slug="api", name="API")
    response = client_for(lead).post(
        LIST_URL,
        body(
            matchers=[{"name": "instance", "value": "db-[0-9]+", "is_regex": True}],
            services=["api"],
            mode="mark",
            public=True,
            description="Core switch",
        ),
        format="json",
    )
    assert response.status_code == 201, response.data
    data = response.data
    window = MaintenanceWindow.objects.get()
    assert response["Location"].endswith(detail_url(window.pk))
    assert data["id"] == window.pk
    assert data["team"] == "platform"
    assert data["services"] == ["api"]
    assert data["matchers"] == [{"name": "instance", "value": "db-[0-9]+", "is_regex": True}]
    assert (data["mode"], data["public"], data["description"]) == ("mark", True, "Core switch")
    assert data["active"] is False
    assert data["current_occurrence"] is None
    assert [when(v) for v in data["next_occurrences"]] == [NOW + timedelta(hours=1)]
    assert when(data["ends_at"]) == NOW + timedelta(hours=3)
    assert data["created_by"] == "lead"
    assert data["suppressed_alerts"] == 0
    assert (data["silence_id"], data["silence_error"], data["ended_at"]) == ("", "", None)


def test_it_plans_a_recurring_window_with_a_calendar(clock, client_for, lead):
    response = client_for(lead).post(
        LIST_URL,
        body(
            ends_at=None,
            starts_at="2026-11-24T22:00:00+08:00",
            recurrence="FREQ=WEEKLY;BYDAY=TU,SA",
            duration_minutes=90,
            calendar="workdays",
        ),
        format="json",
    )
    assert response.status_code == 201, response.data
    # Tuesdays only: no Saturday in December 2026 is a working day.
    assert [when(v).date().isoformat() for v in response.data["next_occurrences"]] == [
        "2026-12-01",
        "2026-12-08",
        "2026-12-15",
        "2026-12-22",
        "2026-12-29",
    ]
    assert response.data["ends_at"] is None
    assert response.data["duration_minutes"] == 90


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recurrence": "FREQ=FORTNIGHTLY", "duration_minutes": 60, "ends_at": None}, "recurrence"),
        (
            {
                "recurrence": "FREQ=DAILY;DTSTART=20261126T000000",
                "duration_minutes": 60,
                "ends_at": None,
            },
            "recurrence",
        ),
        ({"ends_at": iso(NOW)}, "ends_at"),
        ({"ends_at": None}, "ends_at"),
        ({"recurrence": "FREQ=DAILY", "duration_minutes": 60}, "recurrence"),
        ({"recurrence": "FREQ=DAILY", "ends_at": None}, "duration_minutes"),
        (
            {"recurrence": "FREQ=DAILY", "ends_at": None, "duration_minutes": 10081},
            "duration_minutes",
        ),
        ({"matchers": [{"name": "bad-name", "value": "x"}]}, "matchers"),
        ({"matchers": [{"name": "job", "value": "(", "is_regex": True}]}, "matchers"),
        ({"services": ["nope"]}, "services"),
        ({"team": "nope"}, "team"),
        ({"team": "payments"}, "team"),
        ({"starts_at": "2026-11-26T12:00:00"}, "starts_at"),
        ({"mode": "ignore"}, "mode"),
        ({"title": ...}, "title"),
        ({"id": 5}, "id"),
    ],
)
def test_it_refuses_bad_input_with_field_errors(clock, client_for, lead, payments, fields, field):
    response = client_for(lead).post(LIST_URL, body(**fields), format="json")
    assert response.status_code == 400
    assert field in response.data, response.data
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize("who", ["engineer", "onduty", "manager"])
def test_it_lets_only_tech_leads_plan(request, db, clock, client_for, who):
    response = client_for(request.getfixturevalue(who)).post(LIST_URL, body(), format="json")
    assert response.status_code == 403
    assert "tech lead" in response.data["detail"]
    assert not MaintenanceWindow.objects.exists()


def test_it_lets_an_admin_plan_for_any_team(clock, client_for, admin, payments):
    response = client_for(admin).post(LIST_URL, body(team="payments"), format="json")
    assert response.status_code == 201
    assert response.data["team"] == "payments"


def test_it_asks_for_credentials(api_client, db):
    assert api_client.get(LIST_URL).status_code == 401
    assert api_client.post(LIST_URL, body(), format="json").status_code == 401


# ---------------------------------------------------------------- read


def test_it_lists_only_the_windows_of_your_teams(
    clock, client_for, lead, engineer, platform, theirs, manager
):
    ours = planned(lead, platform)
    response = client_for(engineer).get(LIST_URL)
    assert response.status_code == 200
    assert [row["id"] for row in response.data["results"]] == [ours.pk]
    assert response.data["count"] == 1
    everything = client_for(manager).get(LIST_URL).data["results"]
    assert {row["id"] for row in everything} == {ours.pk, theirs.pk}


def test_it_filters_by_team_and_running(clock, client_for, lead, platform, admin, theirs):
    running = planned(lead, platform, title="running")
    later = planned(
        lead,
        platform,
        title="later",
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=2),
    )
    weekly = planned(
        lead,
        platform,
        title="weekly",
        starts_at=NOW - timedelta(days=7, minutes=5),
        recurrence="FREQ=WEEKLY",
        duration_minutes=10,
    )
    client = client_for(admin)
    ids = lambda params: [row["id"] for row in client.get(LIST_URL, params).data["results"]]  # noqa: E731
    assert ids({"team": "platform"}) == [weekly.pk, running.pk, later.pk]
    assert ids({"team": "payments"}) == [theirs.pk]
    assert set(ids({"active": "true"})) == {running.pk, weekly.pk, theirs.pk}
    assert ids({"active": "false"}) == [later.pk]
    assert ids({"team": "platform", "active": "true"}) == [weekly.pk, running.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"team": "nope"},
        {"team": "payments"},
        {"active": "maybe"},
        {"active": ""},
        {"team": ""},
        {"page_size": "x"},
    ],
)
def test_it_refuses_a_bad_filter(clock, client_for, engineer, payments, params):
    response = client_for(engineer).get(LIST_URL, params)
    assert response.status_code == 400
    assert set(params) & set(response.data)


def test_it_lists_in_a_fixed_number_of_queries(
    clock, token_client_for, lead, platform, django_assert_num_queries
):
    api = Service.objects.create(team=platform, slug="api", name="API")
    client = token_client_for(lead)
    planned(lead, platform, services=[api])
    with django_assert_num_queries(5):  # token, roles, count, page, services
        assert len(client.get(LIST_URL).data["results"]) == 1
    for n in range(10):
        planned(
            lead,
            platform,
            title=f"w{n}",
            services=[api],
            recurrence="FREQ=DAILY",
            duration_minutes=30,
            starts_at=NOW - timedelta(days=n),
        )
    with django_assert_num_queries(5):
        rows = client.get(LIST_URL).data["results"]
    assert len(rows) == 11
    assert all(row["services"] == ["api"] for row in rows)
    with django_assert_num_queries(6):  # + the running ones
        assert len(client.get(LIST_URL, {"active": "true"}).data["results"]) == 11


def test_it_shows_a_window(clock, client_for, lead, engineer, platform):
    window = planned(lead, platform)
    response = client_for(engineer).get(detail_url(window.pk))
    assert response.status_code == 200
    assert response.data["active"] is True
    assert [when(v) for v in response.data["current_occurrence"].values()] == [
        NOW - timedelta(hours=1),
        NOW + timedelta(hours=1),
    ]


def test_it_hides_another_teams_window(clock, client_for, lead, engineer, theirs):
    for client in (client_for(engineer), client_for(lead)):
        assert client.get(detail_url(theirs.pk)).status_code == 404
        assert client.patch(detail_url(theirs.pk), {"title": "x"}, format="json").status_code == 404
        assert client.delete(detail_url(theirs.pk)).status_code == 404
        assert client.post(end_url(theirs.pk)).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.title, theirs.ended_at) == ("Payments window", None)
    assert client_for(lead).get(detail_url(999999)).status_code == 404


# ---------------------------------------------------------------- change


def test_it_changes_a_window(clock, client_for, lead, platform):
    window = planned(lead, platform)
    response = client_for(lead).patch(
        detail_url(window.pk),
        {"title": "Longer", "ends_at": iso(NOW + timedelta(hours=4))},
        format="json",
    )
    assert response.status_code == 200, response.data
    assert response.data["title"] == "Longer"
    assert when(response.data["ends_at"]) == NOW + timedelta(hours=4)
    assert when(response.data["starts_at"]) == NOW - timedelta(hours=1)


def test_it_turns_a_window_recurring_by_patch(clock, client_for, lead, platform):
    window = planned(lead, platform)
    response = client_for(lead).patch(
        detail_url(window.pk),
        {"ends_at": None, "recurrence": "FREQ=DAILY", "duration_minutes": 30},
        format="json",
    )
    assert response.status_code == 200, response.data
    assert len(response.data["next_occurrences"]) == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": iso(NOW - timedelta(hours=2))}, "ends_at"),
        ({"recurrence": "FREQ=DAILY"}, "recurrence"),
        ({"team": "payments"}, "team"),
        ({"active": False}, "active"),
        ({"color": "red"}, "color"),
        ({"duration_minutes": "10"}, "duration_minutes"),
    ],
)
def test_it_refuses_a_bad_change(clock, client_for, lead, platform, payments, change, field):
    window = planned(lead, platform)
    response = client_for(lead).patch(detail_url(window.pk), change, format="json")
    assert response.status_code == 400
    assert field in response.data, response.data
    window.refresh_from_db()
    assert window.ends_at == NOW + timedelta(hours=1)


def test_it_refuses_a_change_by_a_member_who_does_not_lead(
    clock, client_for, lead, engineer, platform
):
    window = planned(lead, platform)
    response = client_for(engineer).patch(detail_url(window.pk), {"title": "Mine"}, format="json")
    assert response.status_code == 403
    assert "tech lead" in response.data["detail"]
    window.refresh_from_db()
    assert window.title == "DB upgrade"


# ---------------------------------------------------------------- end and delete


def test_it_ends_a_running_window(clock, client_for, lead, platform):
    window = planned(lead, platform)
    response = client_for(lead).post(end_url(window.pk))
    assert response.status_code == 200
    assert response.data["active"] is False
    assert when(response.data["ended_at"]) == NOW
    assert client_for(lead).post(end_url(window.pk)).status_code == 409


def test_it_ends_one_occurrence_of_a_recurring_window(clock, client_for, lead, platform):
    window = planned(
        lead,
        platform,
        starts_at=NOW - timedelta(days=2, minutes=10),
        recurrence="FREQ=DAILY",
        duration_minutes=60,
    )
    response = client_for(lead).post(end_url(window.pk))
    assert response.status_code == 200
    assert response.data["active"] is False
    assert when(response.data["next_occurrences"][0]) == NOW + timedelta(days=1, minutes=-10)


def test_it_refuses_to_end_a_window_not_running(clock, client_for, lead, platform):
    window = planned(
        lead, platform, starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=2)
    )
    response = client_for(lead).post(end_url(window.pk))
    assert response.status_code == 409
    assert response.data["code"] == "not_active"
    assert "not running" in response.data["detail"]
    window.refresh_from_db()
    assert window.ended_at is None


def test_it_lets_only_tech_leads_end_or_delete(clock, client_for, lead, engineer, platform):
    window = planned(lead, platform)
    assert client_for(engineer).post(end_url(window.pk)).status_code == 403
    assert client_for(engineer).delete(detail_url(window.pk)).status_code == 403
    window.refresh_from_db()
    assert window.ended_at is None


def test_it_deletes_a_window(clock, client_for, lead, platform):
    window = planned(lead, platform)
    assert client_for(lead).delete(detail_url(window.pk)).status_code == 204
    assert not MaintenanceWindow.objects.exists()
    assert client_for(lead).get(detail_url(window.pk)).status_code == 404


def test_it_answers_times_with_their_offset(clock, client_for, lead, platform):
    planned(lead, platform, starts_at=datetime(2026, 11, 26, 1, tzinfo=UTC))
    row = client_for(lead).get(LIST_URL).data["results"][0]
    assert row["starts_at"] == "2026-11-26T09:00:00+08:00"


def test_it_wants_every_matcher_whole_in_a_patch(clock, client_for, lead, platform):
    window = planned(lead, platform)
    response = client_for(lead).patch(
        detail_url(window.pk), {"matchers": [{"name": "job", "is_regex": False}]}, format="json"
    )
    assert response.status_code == 400
    assert "value" in response.data["matchers"][0]
    window.refresh_from_db()
    assert window.matchers == []
