"""incidents.selectors: the reads that pages and the API share (overdue, the archive)."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from common import clock as wall
from incidents import rules, selectors
from incidents.models import Category, Incident, Severity, State, overdue_clocks
from tests.factories import (
    acknowledged_incident,
    archived_incident,
    in_progress_incident,
    new_incident,
    resolved_incident,
)

pytestmark = pytest.mark.django_db


def _overdue(now) -> set[str]:
    return set(Incident.objects.filter(selectors.overdue_q(now)).values_list("title", flat=True))


def test_it_finds_each_running_clock_past_its_deadline(clock, lead, owner, onduty):
    new_incident(reporter=onduty, title="unacknowledged P0", severity=Severity.P0)
    acknowledged_incident(lead=lead, title="acknowledged P0", severity=Severity.P0)
    in_progress_incident(lead=lead, owner=owner, title="working P1", severity=Severity.P1)
    resolved_incident(lead=lead, owner=owner, title="resolved P0", severity=Severity.P0)
    start = wall.now()
    assert _overdue(start) == set()
    # 6 min: only the respond clock of the unacknowledged P0 (5 min) has run out.
    assert _overdue(start + timedelta(minutes=6)) == {"unacknowledged P0"}
    # 31 min: the update clocks (30 min for P0/P1) of the acknowledged and working ones.
    assert _overdue(start + timedelta(minutes=31)) == {
        "unacknowledged P0",
        "acknowledged P0",
        "working P1",
    }
    # A resolved incident has no running clock, however late it is.
    assert "resolved P0" not in _overdue(start + timedelta(days=30))


def test_it_agrees_with_the_python_rule_of_the_list_pages(clock, lead, owner, onduty):
    new_incident(reporter=onduty, severity=Severity.P0)
    acknowledged_incident(lead=lead, severity=Severity.P2)
    in_progress_incident(lead=lead, owner=owner, severity=Severity.P1)
    for minutes in (0, 6, 20, 31, 61, 5 * 60, 9 * 60):
        at = wall.now() + timedelta(minutes=minutes)
        by_sql = set(Incident.objects.filter(selectors.overdue_q(at)).values_list("pk", flat=True))
        by_python = {
            row["pk"]
            for row in Incident.objects.values(
                "pk",
                "state",
                "acknowledged_at",
                "restored_at",
                "respond_by",
                "resolve_by",
                "next_update_by",
            )
            if overdue_clocks(now=at, **{k: v for k, v in row.items() if k != "pk"})
        }
        assert by_sql == by_python, minutes


# ---------------------------------------------------------------- the list filters


def _filtered(**filters) -> set[str]:
    found = selectors.filter_incidents(Incident.objects.all(), **filters)
    return set(found.values_list("title", flat=True))


def test_it_filters_the_list_as_the_dashboard_and_the_api_ask(
    clock, lead, owner, onduty, pay_engineer, payments
):
    new_incident(reporter=onduty, title="unacknowledged P0", severity=Severity.P0)
    acknowledged_incident(lead=lead, title="acknowledged P2", severity=Severity.P2)
    in_progress_incident(lead=lead, owner=owner, title="working P1", severity=Severity.P1)
    new_incident(reporter=pay_engineer, title="payments P3", severity=Severity.P3)
    everything = {"unacknowledged P0", "acknowledged P2", "working P1", "payments P3"}
    later = wall.now() + timedelta(minutes=6)  # only the P0's respond clock has run out

    assert _filtered() == everything  # nothing given, nothing filtered
    assert _filtered(states=[State.NEW], severities=[Severity.P0, Severity.P3]) == {
        "unacknowledged P0",
        "payments P3",
    }
    assert _filtered(teams=[payments]) == _filtered(teams=[payments.pk]) == {"payments P3"}
    assert _filtered(owner="owner") == {"working P1"}
    assert _filtered(overdue=True, now=later) == {"unacknowledged P0"}
    assert _filtered(overdue=False, now=later) == everything - {"unacknowledged P0"}
    assert _filtered(words="  P1  working ") == {"working P1"}
    assert _filtered(words="working nothing-matches") == set()


# ---------------------------------------------------------------- the archive


@pytest.fixture
def archive(clock, lead, owner, pay_lead, pay_engineer):
    """Four closed incidents of platform on two days, one of payments, one open."""
    first = resolved_incident(
        lead=lead, owner=owner, title="数据库连接池耗尽", severity=Severity.P2
    )
    clock.shift(timedelta(days=1))
    second = resolved_incident(
        lead=lead,
        owner=owner,
        title="Login page blank",
        severity=Severity.P3,
        category=Category.USER_FACING,
    )
    third = archived_incident(lead=lead, owner=owner, title="Disk full", severity=Severity.P3)
    theirs = resolved_incident(lead=pay_lead, owner=pay_engineer, title="Payments timeout")
    open_one = in_progress_incident(lead=lead, owner=owner, title="Still open")
    return {
        "first": first,
        "second": second,
        "third": third,
        "theirs": theirs,
        "open": open_one,
    }


def _titles(qs) -> list[str]:
    return list(qs.values_list("title", flat=True))


def test_it_lists_the_closed_incidents_the_user_sees_newest_first(archive, lead, manager):
    assert _titles(selectors.archive_search(user=lead)) == [
        "Disk full",
        "Login page blank",
        "数据库连接池耗尽",
    ]
    # A manager sees every team; open incidents are never in the archive.
    assert set(_titles(selectors.archive_search(user=manager))) == {
        "Disk full",
        "Login page blank",
        "数据库连接池耗尽",
        "Payments timeout",
    }


def test_it_applies_each_filter(archive, lead, manager, platform):
    day_one = timezone.localdate(archive["first"].received_at)
    search = selectors.archive_search
    assert _titles(search(user=lead, date_to=day_one)) == ["数据库连接池耗尽"]
    assert _titles(search(user=lead, date_from=day_one + timedelta(days=1))) == [
        "Disk full",
        "Login page blank",
    ]
    assert _titles(search(user=manager, team=platform, severity=Severity.P2)) == [
        "数据库连接池耗尽"
    ]
    assert _titles(search(user=lead, category=Category.USER_FACING)) == ["Login page blank"]
    assert _titles(search(user=lead, state=State.ARCHIVED)) == ["Disk full"]
    assert _titles(search(user=lead, q="连接池")) == ["数据库连接池耗尽"]
    assert _titles(search(user=lead, q="login")) == ["Login page blank"]
    assert _titles(search(user=lead, q=archive["third"].number)) == ["Disk full"]
    assert _titles(search(user=lead, date_from=date(2030, 1, 1))) == []


def test_it_refuses_who_may_not_open_the_archive(archive, engineer, onduty):
    for user in (engineer, onduty):
        with pytest.raises(PermissionDenied):
            selectors.archive_search(user=user)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"state": State.ARCHIVED},
        {"severity": Severity.P3},
        {"state": State.RESOLVED, "severity": Severity.P2},
        {"q": "disk"},
        {"category": Category.USER_FACING},
        # Text: counted in the search rows on PostgreSQL (IncidentSearchRow).
        {"q": "DISK", "state": State.RESOLVED, "severity": Severity.P3},
        {"q": "连接池"},
        {"q": "%"},
        {"q": "_"},
        {"q": "Disk", "date_from": date(2026, 1, 1), "date_to": date(2030, 1, 1)},
    ],
    ids=[
        "none",
        "state",
        "level",
        "state+level",
        "text",
        "category",
        "text+state+level",
        "chinese",
        "percent",
        "underscore",
        "text+days",
    ],
)
def test_its_total_and_order_equal_the_rows_counted(
    archive, lead, owner, manager, pay_lead, platform, filters
):
    # pay_lead helped on a platform incident: cross-team work the tallies do not hold.
    resolved_incident(
        lead=lead, owner=owner, helpers=[pay_lead], title="Disk full again", severity=Severity.P3
    )
    rules.forget(pay_lead)  # its roles and work are read once per request (and user object)
    assert "Disk full again" in _titles(selectors.archive_search(user=pay_lead))
    for user in (lead, manager, pay_lead):
        qs = selectors.archive_search(user=user, **filters)
        assert selectors.archive_total(user=user, queryset=qs, **filters) == qs.count(), user
        # The page's ids (from the search rows for text on PostgreSQL), in its order.
        order = selectors.archive_order(user=user, queryset=qs, **filters)
        ids = list(order.values_list("pk", flat=True))
        assert ids == list(qs.values_list("pk", flat=True)), user
    team_qs = selectors.archive_search(user=manager, team=platform)
    assert selectors.archive_total(user=manager, queryset=team_qs, team=platform) == 4


def test_its_days_are_local_days(clock, lead, owner):
    # 23:30 in Shanghai on the 26th is 15:30 UTC: it belongs to the 26th, not the 27th.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    clock.move_to(datetime(2026, 11, 26, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    late = resolved_incident(lead=lead, owner=owner, title="late evening")
    day = date(2026, 11, 26)
    assert _titles(selectors.archive_search(user=lead, date_from=day, date_to=day)) == [late.title]
    next_day = day + timedelta(days=1)
    assert _titles(selectors.archive_search(user=lead, date_from=next_day)) == []
