"""Shared fixtures: two teams with a user per role, and a frozen clock.

`platform` holds one user per role (onduty, engineer, tester, lead, manager,
admin) plus an `owner` and a `helper` engineer to assign; `payments` holds
pay_engineer and pay_lead, who must not see or touch platform's incidents.
"""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import caches
from django.utils import translation

from incidents.rules import Role
from tests.factories import TeamFactory, make_user

# 10:00 in Asia/Shanghai on a Thursday; every test that reads the clock starts here.
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _language_reset():
    """A request activates its language for the whole thread (the test client runs
    in this one): put the default back so no test inherits another's Chinese."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test's database starts the status page's version again at 0: a page
    cached by an earlier test (in this process's memory) must not answer for it;
    nor may a list row cached for an incident of the same id and version."""
    for alias in ("default", "fragments"):  # in memory (the throttle's is a table)
        caches[alias].clear()


@pytest.fixture
def clock():
    """The clock frozen at NOW; move it with `clock.shift(...)` / `clock.move_to(...)`."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def platform(db):
    return TeamFactory(slug="platform", name="Platform")


@pytest.fixture
def payments(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def onduty(platform):
    return make_user(Role.ON_DUTY, platform, username="onduty")


@pytest.fixture
def engineer(platform):
    return make_user(Role.ENGINEER, platform, username="engineer")


@pytest.fixture
def owner(platform):
    return make_user(Role.ENGINEER, platform, username="owner")


@pytest.fixture
def helper(platform):
    return make_user(Role.ENGINEER, platform, username="helper")


@pytest.fixture
def tester(platform):
    return make_user(Role.TESTER, platform, username="tester")


@pytest.fixture
def lead(platform):
    return make_user(Role.TECH_LEAD, platform, lead=True, username="lead")


@pytest.fixture
def manager(platform):
    return make_user(Role.MANAGER, platform, username="manager")


@pytest.fixture
def admin(platform):
    return make_user(Role.ADMIN, platform, username="admin")


@pytest.fixture
def pay_engineer(payments):
    return make_user(Role.ENGINEER, payments, username="pay-engineer")


@pytest.fixture
def pay_lead(payments):
    return make_user(Role.TECH_LEAD, payments, lead=True, username="pay-lead")


@pytest.fixture
def token_client(db):
    """`token_client(user)`: an API client sending the user's token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user):
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def pytest_collection_modifyitems(items):
    """A transactional test must restore the migrations' data (role groups, SLA
    policies, ladder) for the tests after it: demand serialized_rollback."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and not marker.kwargs.get("serialized_rollback")
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: use django_db(transaction=True, serialized_rollback=True)"
            )
