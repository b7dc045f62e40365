"""knowledge.selectors.metrics_scope: the one judge of the metrics page's and the
API's query (defaults, limits, the team), raising field errors."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common import clock as wall
from knowledge.selectors import MetricsScope, metrics_scope

pytestmark = pytest.mark.django_db


def _errors(**kwargs) -> dict:
    with pytest.raises(ValidationError) as caught:
        metrics_scope(now=wall.now(), **kwargs)
    return caught.value.message_dict


def test_it_defaults_to_the_last_180_days_of_every_team(clock, manager):
    # NOW is 2026-11-26 10:00 in Shanghai.
    assert metrics_scope(user=manager, now=wall.now()) == MetricsScope(
        start=date(2026, 5, 31), end=date(2026, 11, 26), team=None
    )


def test_it_takes_a_range_and_a_team_the_user_sees(clock, lead, platform):
    scope = metrics_scope(
        user=lead, now=wall.now(), start=date(2026, 1, 1), end=date(2026, 3, 31), team="platform"
    )
    assert scope == MetricsScope(start=date(2026, 1, 1), end=date(2026, 3, 31), team=platform)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"start": date(2026, 11, 20), "end": date(2026, 11, 1)}, {"end"}),
        ({"start": date(2027, 1, 1)}, {"end"}),  # after the default end (today)
        ({"start": date(2020, 1, 1), "end": date(2026, 11, 26)}, {"end"}),  # over three years
        ({"start": date(1999, 12, 31)}, {"start"}),
        ({"start": date(9999, 12, 30), "end": date(9999, 12, 31)}, {"start", "end"}),
        ({"team": "nope"}, {"team"}),
        ({"team": "x" * 5000}, {"team"}),
        ({"team": "a\x00b"}, {"team"}),
    ],
)
def test_it_names_each_wrong_field(clock, manager, platform, given, expected):
    assert set(_errors(user=manager, **given)) == expected


def test_it_says_why(clock, manager):
    assert _errors(user=manager, start=date(2026, 11, 20), end=date(2026, 11, 1)) == {
        "end": ["The end date is before the start date."]
    }
    assert _errors(user=manager, start=date(2020, 1, 1), end=date(2026, 1, 1)) == {
        "end": ["Choose at most three years."]
    }


def test_it_hides_another_teams_existence(clock, lead, payments):
    # payments exists, but lead is not in it: the same answer as for no team at all.
    assert _errors(user=lead, team="payments") == _errors(user=lead, team="no-such-team")


def test_it_refuses_who_may_not_see_metrics(clock, engineer):
    with pytest.raises(PermissionDenied):
        metrics_scope(user=engineer, now=wall.now())
