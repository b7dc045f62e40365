"""knowledge.metrics.affected_feedback and its tables on /metrics/: the affected
users' ratings (status page feedback links) per month and level."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import clock
from incidents import services
from incidents.models import UserFeedback
from incidents.services.verification import incident_affected_user_feedback
from knowledge import metrics
from tests.conftest import NOW
from tests.factories import IncidentFactory
from tests.knowledge.test_metrics import Tables

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
RANGE = "start=2026-10-01&end=2026-11-30"


def at(clock, stamp: str) -> None:
    clock.move_to(datetime.fromisoformat(stamp).replace(tzinfo=SHANGHAI))


def file(clock, when, reporter, **kwargs):
    at(clock, when)
    return IncidentFactory(actor=reporter, **kwargs)


def rate(incident, *ratings):
    for rating in ratings:
        incident_affected_user_feedback(incident=incident, rating=rating)


@pytest.fixture
def story(clock, onduty, lead, pay_engineer):
    """Ratings of incidents received in October and November (Shanghai):

    A  P2 10-31 23:30  5, 4
    B  P2 11-01 00:30  2            (November in Shanghai, 10-31 16:30 UTC)
    C  P1 11-10 09:00  1, 2, 4
    D  P2 11-12 09:00  none; staff feedback and a rating-less answer only
    G  P2 11-18 11:00  5 — cancelled: not counted
    P  P3 11-08 12:00  3 — payments
    """
    a = file(clock, "2026-10-31 23:30", onduty)
    b = file(clock, "2026-11-01 00:30", onduty)
    c = file(clock, "2026-11-10 09:00", onduty, severity="P1")
    d = file(clock, "2026-11-12 09:00", onduty)
    g = file(clock, "2026-11-18 11:00", onduty)
    p = file(clock, "2026-11-08 12:00", pay_engineer, severity="P3")
    at(clock, "2026-11-26 10:00")
    rate(a, 5, 4)
    rate(b, 2)
    rate(c, 1, 2, 4)
    rate(g, 5)
    rate(p, 3)
    services.incident_cancel(incident=g, actor=lead, reason="Duplicate of B.")
    UserFeedback.objects.create(incident=d, text="Users are fine.", satisfied=True, recorded_at=NOW)
    UserFeedback.objects.create(
        incident=d, text="No rating.", by_affected_user=True, recorded_at=NOW
    )
    return {"A": a, "B": b, "C": c, "D": d, "G": g, "P": p}


def test_it_averages_per_month_and_level(story, manager, platform):
    result = metrics.affected_feedback(
        user=manager, start=date(2026, 10, 1), end=date(2026, 11, 30), team=platform
    )

    assert result == {
        "total": {"count": 6, "average_rating": 3.0},  # 5 4 2 1 2 4
        "by_level": [
            {"severity": "P1", "count": 3, "average_rating": 2.33},
            {"severity": "P2", "count": 3, "average_rating": 3.67},
        ],
        "by_month": [
            {"month": "2026-11", "severity": "P1", "count": 3, "average_rating": 2.33},
            {"month": "2026-11", "severity": "P2", "count": 1, "average_rating": 2.0},  # B
            {"month": "2026-10", "severity": "P2", "count": 2, "average_rating": 4.5},  # A
        ],
    }


def test_it_serves_the_ratings_from_the_metrics_api(story, manager, token_client):
    response = token_client(manager).get(
        "/api/v1/metrics/?start=2026-10-01&end=2026-11-30&team=platform"
    )

    assert response.status_code == 200
    assert response.json()["affected_feedback"] == metrics.affected_feedback(
        user=manager, start=date(2026, 10, 1), end=date(2026, 11, 30), team=metrics_team(story)
    )


def test_it_gives_the_same_ratings_from_the_kept_figures_path(story, manager, monkeypatch):
    # compute() reads them with the recurrences and overdue actions (one statement on
    # PostgreSQL): the same answer as the ORM's.
    monkeypatch.setattr(metrics, "EXACT_UP_TO", -1)
    start, end = date(2026, 10, 1), date(2026, 11, 30)
    for team in (None, metrics_team(story)):
        want = metrics.affected_feedback(user=manager, start=start, end=end, team=team)
        result = metrics.compute(user=manager, start=start, end=end, team=team, now=clock.now())
        assert want["total"]["count"] > 0
        assert result["affected_feedback"] == want
        exact = metrics.compute_exact(
            user=manager, start=start, end=end, team=team, now=clock.now()
        )
        assert exact["affected_feedback"] == want


def metrics_team(story):
    return story["A"].team


def test_it_counts_every_team_a_manager_sees_unless_one_is_chosen(story, manager, payments):
    everyone = metrics.affected_feedback(
        user=manager, start=date(2026, 10, 1), end=date(2026, 11, 30)
    )
    theirs = metrics.affected_feedback(
        user=manager, start=date(2026, 10, 1), end=date(2026, 11, 30), team=payments
    )

    assert everyone["total"] == {"count": 7, "average_rating": 3.0}  # and P's 3
    assert [r["severity"] for r in everyone["by_level"]] == ["P1", "P2", "P3"]
    assert theirs == {
        "total": {"count": 1, "average_rating": 3.0},
        "by_level": [{"severity": "P3", "count": 1, "average_rating": 3.0}],
        "by_month": [{"month": "2026-11", "severity": "P3", "count": 1, "average_rating": 3.0}],
    }


def test_it_shows_a_lead_only_their_teams_ratings(story, pay_lead):
    mine = metrics.affected_feedback(user=pay_lead, start=date(2026, 10, 1), end=date(2026, 11, 30))
    assert mine["total"] == {"count": 1, "average_rating": 3.0}


def test_it_has_no_figures_without_answers(story, manager, platform):
    result = metrics.affected_feedback(
        user=manager, start=date(2026, 11, 12), end=date(2026, 11, 30), team=platform
    )  # D (staff feedback, no rating) and G (cancelled)

    assert result == {
        "total": {"count": 0, "average_rating": None},
        "by_level": [],
        "by_month": [],
    }


def test_it_shows_the_ratings_on_the_metrics_page(story, client, manager):
    client.force_login(manager)

    response = client.get(f"/metrics/?{RANGE}&team=platform")

    assert response.status_code == 200
    tables = Tables(response.content.decode()).rows
    assert tables["metrics-feedback-by-level"] == [
        ["Level", "Answers", "Average rating"],
        ["P1", "3", "2.33 of 5"],
        ["P2", "3", "3.67 of 5"],
        ["All", "6", "3.0 of 5"],
    ]
    assert tables["metrics-feedback-by-month"][1:] == [
        ["2026-11", "P1", "3", "2.33 of 5"],
        ["2026-11", "P2", "1", "2.0 of 5"],
        ["2026-10", "P2", "2", "4.5 of 5"],
    ]


def test_it_says_when_no_one_has_rated(clock, client, manager):
    client.force_login(manager)

    body = client.get(f"/metrics/?{RANGE}").content.decode()

    assert "No affected user has rated a fix of these incidents." in body
    assert 'id="metrics-feedback-by-level"' not in body


def test_its_query_count_does_not_grow_with_answers(story, client, manager):
    client.force_login(manager)
    with CaptureQueriesContext(connection) as one:  # A alone
        assert client.get("/metrics/?start=2026-10-01&end=2026-10-31").status_code == 200
    with CaptureQueriesContext(connection) as all_of_them:
        assert client.get(f"/metrics/?{RANGE}").status_code == 200
    assert len(all_of_them.captured_queries) == len(one.captured_queries), "\n".join(
        q["sql"] for q in all_of_them.captured_queries
    )
    feedback_queries = [q for q in one.captured_queries if "incidents_userfeedback" in q["sql"]]
    assert len(feedback_queries) == 1
