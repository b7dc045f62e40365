from datetime import UTC, datetime

import pytest

from common import clock


def test_it_returns_the_frozen_time_inside_the_block_only():
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    with clock.frozen(at):
        assert clock.now() == at
    assert clock.now() != at


def test_it_refuses_a_naive_time():
    with pytest.raises(ValueError, match="aware"), clock.frozen(datetime(2026, 1, 1)):
        pass


@pytest.mark.parametrize("seconds", [0, 1, 59])
def test_it_says_under_a_minute_rather_than_zero_minutes(seconds):
    from datetime import timedelta

    assert clock.duration_text(timedelta(seconds=seconds)) == "under a minute"


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "1 min"), (119, "1 min"), (3600, "1 h"), (5400, "1 h 30 min")]
)
def test_it_says_whole_minutes_from_one_minute_on(seconds, text):
    from datetime import timedelta

    assert clock.duration_text(timedelta(seconds=seconds)) == text
