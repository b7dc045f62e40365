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
