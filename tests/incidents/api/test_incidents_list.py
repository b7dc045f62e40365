"""GET /api/v1/incidents/: authentication, visibility, pagination, filters, ordering, queries."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from incidents.models import Incident, Severity, State
from tests.conftest import NOW
from tests.factories import (
    acknowledged_incident,
    assigned_incident,
    cancelled_incident,
    new_incident,
)

from .helpers import LIST_URL

pytestmark = pytest.mark.django_db


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.data["results"]]


def number_set(response) -> set[str]:
    return set(numbers(response))


@pytest.fixture
def platform_incident(clock, onduty):
    return new_incident(reporter=onduty, title="Checkout returns 502")


@pytest.fixture
def payments_incident(clock, pay_engineer):
    return new_incident(reporter=pay_engineer, title="Refunds stuck in pending")


# ---------------------------------------------------------------- authentication


def test_it_refuses_anonymous_requests(api_client, platform_incident):
    response = api_client.get(LIST_URL)

    assert response.status_code in (401, 403)
    assert "results" not in response.data
    assert platform_incident.number not in response.content.decode()


def test_it_refuses_an_unknown_token(platform_incident):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = client.get(LIST_URL)

    assert response.status_code in (401, 403)
    assert "results" not in response.data


def test_it_accepts_a_token(token_client_for, lead, platform_incident):
    response = token_client_for(lead).get(LIST_URL)

    assert response.status_code == 200
    assert numbers(response) == [platform_incident.number]


def password_login():
    """The request a password check needs: login lockout counts per address."""
    return RequestFactory().post("/accounts/login/")


def test_it_accepts_a_session(lead, platform_incident):
    client = APIClient()
    assert client.login(request=password_login(), username="lead", password="responder-test")

    response = client.get(LIST_URL)

    assert numbers(response) == [platform_incident.number]


def test_it_requires_the_csrf_token_for_session_writes(clock, onduty):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(request=password_login(), username="onduty", password="responder-test")
    before = Incident.objects.count()

    response = client.post(
        LIST_URL,
        {
            "title": "Forged",
            "symptoms": "x",
            "severity": "P3",
            "source": "api",
            "impact_scope": "none",
        },
        format="json",
    )

    assert response.status_code == 403
    assert Incident.objects.count() == before


# ---------------------------------------------------------------- visibility


def test_it_shows_a_payments_engineer_only_payments_incidents(
    client_for, pay_engineer, platform_incident, payments_incident
):
    response = client_for(pay_engineer).get(LIST_URL)

    assert numbers(response) == [payments_incident.number]
    assert response.data["count"] == 1
    assert response.data["results"][0]["team"] == "payments"


@pytest.mark.parametrize("username", ["onduty", "engineer", "tester", "lead"])
def test_it_never_shows_platform_users_payments_incidents(
    request, client_for, username, platform_incident, payments_incident
):
    user = request.getfixturevalue(username)

    response = client_for(user).get(LIST_URL)

    assert numbers(response) == [platform_incident.number]


@pytest.mark.parametrize("username", ["manager", "admin"])
def test_it_shows_managers_and_admins_every_team(
    request, client_for, username, platform_incident, payments_incident
):
    user = request.getfixturevalue(username)

    response = client_for(user).get(LIST_URL)

    assert number_set(response) == {platform_incident.number, payments_incident.number}
    assert response.data["count"] == 2


# ---------------------------------------------------------------- pagination


def test_it_pages_with_page_size(client_for, clock, lead, onduty):
    filed = [new_incident(reporter=onduty) for _ in range(7)]
    client = client_for(lead)

    first = client.get(LIST_URL, {"page_size": 3})
    last = client.get(LIST_URL, {"page_size": 3, "page": 3})

    assert first.data["count"] == 7
    assert len(first.data["results"]) == 3
    assert "page=2" in first.data["next"]
    assert "page_size=3" in first.data["next"]
    assert first.data["previous"] is None
    assert len(last.data["results"]) == 1
    assert last.data["next"] is None
    seen = set(numbers(first)) | set(numbers(client.get(first.data["next"]))) | set(numbers(last))
    assert seen == {i.number for i in filed}


def test_it_answers_25_rows_by_default(client_for, clock, lead, onduty):
    for _ in range(26):
        new_incident(reporter=onduty)

    response = client_for(lead).get(LIST_URL)

    assert response.data["count"] == 26
    assert len(response.data["results"]) == 25
    assert response.data["next"] is not None


def test_it_caps_page_size_at_200(client_for, clock, manager, onduty):
    for _ in range(201):
        new_incident(reporter=onduty)

    response = client_for(manager).get(LIST_URL, {"page_size": 500})

    assert response.data["count"] == 201
    assert len(response.data["results"]) == 200
    assert response.data["next"] is not None


@pytest.mark.parametrize("page_size", ["0", "-1", "ten"])
def test_it_refuses_a_bad_page_size(client_for, lead, platform_incident, page_size):
    response = client_for(lead).get(LIST_URL, {"page_size": page_size})

    assert response.status_code == 400
    assert "page_size" in response.data


# ---------------------------------------------------------------- filters


@pytest.fixture
def mixed(clock, onduty, lead, owner, helper, pay_engineer):
    """Incidents in several states, levels, owners and teams, all filed at NOW."""
    return {
        "new_p2": new_incident(reporter=onduty, severity=Severity.P2),
        "new_p0": new_incident(reporter=onduty, severity=Severity.P0),
        "acked_p3": acknowledged_incident(lead=lead, reporter=onduty, severity=Severity.P3),
        "assigned_p1": assigned_incident(
            lead=lead, owner=owner, helpers=[helper], reporter=onduty, severity=Severity.P1
        ),
        "cancelled_p0": cancelled_incident(lead=lead, reporter=onduty, severity=Severity.P0),
        "payments_p2": new_incident(reporter=pay_engineer, severity=Severity.P2),
    }


def test_it_filters_by_repeated_states(client_for, manager, mixed):
    response = client_for(manager).get(LIST_URL, {"state": ["new", "cancelled"]})

    assert number_set(response) == {
        mixed["new_p2"].number,
        mixed["new_p0"].number,
        mixed["cancelled_p0"].number,
        mixed["payments_p2"].number,
    }


def test_it_filters_by_one_state(client_for, manager, mixed):
    response = client_for(manager).get(LIST_URL, {"state": "assigned"})

    assert numbers(response) == [mixed["assigned_p1"].number]


def test_it_filters_by_repeated_severities(client_for, lead, mixed):
    response = client_for(lead).get(LIST_URL, {"severity": ["P0", "P3"]})

    assert number_set(response) == {
        mixed["new_p0"].number,
        mixed["cancelled_p0"].number,
        mixed["acked_p3"].number,
    }


def test_it_filters_by_team_slug(client_for, manager, mixed):
    payments = client_for(manager).get(LIST_URL, {"team": "payments"})
    platform = client_for(manager).get(LIST_URL, {"team": "platform"})

    assert numbers(payments) == [mixed["payments_p2"].number]
    assert len(platform.data["results"]) == 5
    assert mixed["payments_p2"].number not in numbers(platform)


def test_it_filters_by_repeated_team_slugs(client_for, manager, mixed):
    response = client_for(manager).get(LIST_URL, {"team": ["payments", "platform"]})

    assert response.data["count"] == 6


def test_it_does_not_widen_visibility_with_the_team_filter(client_for, pay_engineer, mixed):
    response = client_for(pay_engineer).get(LIST_URL, {"team": "platform"})

    # Answered as for a team that does not exist: nothing listed, nothing revealed.
    assert response.status_code == 400
    assert response.json() == {"team": ["No team platform."]}


def test_it_knows_the_team_of_cross_team_work_whatever_the_other_filters(
    client_for, lead, owner, onduty, pay_engineer
):
    helped = assigned_incident(lead=lead, owner=owner, helpers=[pay_engineer], reporter=onduty)
    client = client_for(pay_engineer)

    assert numbers(client.get(LIST_URL, {"team": "platform"})) == [helped.number]
    # A team they see work of is known, even when the other filters leave none of it.
    assert numbers(client.get(LIST_URL, {"team": "platform", "state": "new"})) == []


def test_it_filters_by_owner_username(client_for, lead, mixed):
    response = client_for(lead).get(LIST_URL, {"owner": "owner"})

    assert numbers(response) == [mixed["assigned_p1"].number]
    assert response.data["results"][0]["owner"] == "owner"
    assert response.data["results"][0]["helpers"] == ["helper"]


def test_it_combines_filters(client_for, manager, mixed):
    response = client_for(manager).get(LIST_URL, {"state": "new", "severity": "P2"})

    assert number_set(response) == {mixed["new_p2"].number, mixed["payments_p2"].number}


def test_it_filters_overdue_incidents_as_the_clock_moves(client_for, clock, lead, mixed):
    """P0 responds in 5 min, P2 in 30 min; acknowledged P1 updates every 30 min, P3 every 60."""
    client = client_for(lead)
    platform = {k: v.number for k, v in mixed.items() if k != "payments_p2"}

    def overdue(value: str) -> set[str]:
        return number_set(client.get(LIST_URL, {"overdue": value}))

    assert overdue("true") == set()
    assert overdue("false") == set(platform.values())

    clock.shift(timedelta(minutes=10))
    assert overdue("true") == {platform["new_p0"]}
    assert overdue("false") == set(platform.values()) - {platform["new_p0"]}

    clock.shift(timedelta(minutes=25))  # NOW + 35 min
    assert overdue("true") == {platform["new_p0"], platform["new_p2"], platform["assigned_p1"]}

    clock.shift(timedelta(minutes=26))  # NOW + 61 min
    assert overdue("true") == {
        platform["new_p0"],
        platform["new_p2"],
        platform["acked_p3"],
        platform["assigned_p1"],
    }
    # A cancelled incident has no running clock: it is never overdue.
    assert overdue("false") == {platform["cancelled_p0"]}


def test_it_names_the_overdue_clocks_in_each_row(client_for, clock, lead, mixed):
    clock.shift(timedelta(minutes=10))

    response = client_for(lead).get(LIST_URL, {"overdue": "true"})

    assert numbers(response) == [mixed["new_p0"].number]
    assert response.data["results"][0]["overdue"] == ["respond"]


@pytest.fixture
def searchable(clock, onduty):
    return {
        "pool": new_incident(
            reporter=onduty,
            title="Orders API slow",
            symptoms="数据库连接池耗尽, every order request waits 30 s",
        ),
        "dns": new_incident(
            reporter=onduty, title="DNS resolution fails", symptoms="NXDOMAIN for intranet hosts"
        ),
        "cert": new_incident(
            reporter=onduty, title="Expired TLS certificate", symptoms="Browsers warn on login"
        ),
    }


def test_it_searches_by_number(client_for, lead, searchable):
    number = searchable["dns"].number

    response = client_for(lead).get(LIST_URL, {"q": number})

    assert numbers(response) == [number]


def test_it_searches_titles_without_regard_to_case(client_for, lead, searchable):
    response = client_for(lead).get(LIST_URL, {"q": "dns"})

    assert numbers(response) == [searchable["dns"].number]


def test_it_searches_chinese_text_in_symptoms(client_for, lead, searchable):
    response = client_for(lead).get(LIST_URL, {"q": "连接池"})

    assert numbers(response) == [searchable["pool"].number]


def test_it_requires_every_search_word(client_for, lead, searchable):
    both = client_for(lead).get(LIST_URL, {"q": "expired browsers"})
    mismatch = client_for(lead).get(LIST_URL, {"q": "expired NXDOMAIN"})

    assert numbers(both) == [searchable["cert"].number]
    assert numbers(mismatch) == []


def test_it_does_not_search_other_teams_incidents(client_for, pay_engineer, searchable):
    response = client_for(pay_engineer).get(LIST_URL, {"q": "连接池"})

    assert numbers(response) == []


# ---------------------------------------------------------------- ordering


def test_it_lists_the_latest_received_first_by_default(client_for, clock, lead, onduty):
    older = new_incident(reporter=onduty, received_at=NOW - timedelta(hours=2))
    newest = new_incident(reporter=onduty)
    middle = new_incident(reporter=onduty, received_at=NOW - timedelta(hours=1))

    response = client_for(lead).get(LIST_URL)

    assert numbers(response) == [newest.number, middle.number, older.number]


def test_it_orders_by_respond_by(client_for, lead, mixed):
    response = client_for(lead).get(
        LIST_URL, {"ordering": "respond_by", "state": ["new", "cancelled"]}
    )

    rows = response.data["results"]
    respond_by = [row["respond_by"] for row in rows]
    assert respond_by == sorted(respond_by)
    # P0 (5 min) before P2 (30 min), all filed at the same moment.
    assert [row["severity"] for row in rows] == ["P0", "P0", "P2"]


def test_it_orders_by_severity_descending(client_for, lead, mixed):
    ascending = client_for(lead).get(LIST_URL, {"ordering": "severity"})
    descending = client_for(lead).get(LIST_URL, {"ordering": "-severity"})

    assert [r["severity"] for r in ascending.data["results"]] == ["P0", "P0", "P1", "P2", "P3"]
    assert [r["severity"] for r in descending.data["results"]] == ["P3", "P2", "P1", "P0", "P0"]


# ---------------------------------------------------------------- bad filter values


@pytest.mark.parametrize(
    "params",
    [
        {"state": "bogus"},
        {"state": ["new", "bogus"]},
        {"severity": "P9"},
        {"team": "no-such-team"},
        {"overdue": "maybe"},
    ],
    ids=["state", "one-of-two-states", "severity", "team", "overdue"],
)
def test_it_refuses_unknown_filter_values(client_for, lead, platform_incident, params):
    response = client_for(lead).get(LIST_URL, params)

    assert response.status_code == 400, response.data
    assert set(params) <= set(response.data)


# ---------------------------------------------------------------- queries


# Per request with token auth: the token with its user (1), the user's roles,
# teams and other teams' work in one UNION (1), the page count (1), the page's
# values with team/service/reporter/owner joined (1) and its helpers (1).
LIST_QUERIES = 5


def file_with_some_helpers(count: int, *, lead, onduty, owner, helper) -> None:
    for i in range(count):
        if i % 5 == 0:
            assigned_incident(lead=lead, owner=owner, helpers=[helper], reporter=onduty)
        else:
            new_incident(reporter=onduty)


@pytest.mark.parametrize("rows", [5, 50])
def test_it_lists_a_page_in_a_fixed_number_of_queries(
    django_assert_num_queries, token_client_for, clock, lead, onduty, owner, helper, rows
):
    file_with_some_helpers(rows, lead=lead, onduty=onduty, owner=owner, helper=helper)
    client = token_client_for(lead)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST_URL, {"page_size": 50})

    assert len(response.data["results"]) == rows
    assert sum(1 for r in response.data["results"] if r["helpers"] == ["helper"]) == rows // 5
    assert {r["state"] for r in response.data["results"]} == {State.NEW, State.ASSIGNED}
