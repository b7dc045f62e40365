"""Fixtures of the security tests.

Team A is `platform` (tests/conftest.py: lead, owner, tester, onduty, …);
team B is `payments`. The `outsider` is payments' tech lead who also holds
every other team role (on-duty, engineer, tester): the most a user of another
team can be without seeing every team. `pay_manager` and `pay_admin` belong
to payments too, but the manager and admin roles see every team (DESIGN.md).
"""

import pytest
from django.contrib.auth.models import Group

from incidents import rules
from incidents.rules import Role
from tests.factories import make_user
from tests.security.world import TeamRecords

A_MARK = "TEAMA"
B_MARK = "TEAMB"
# A word in every text of each team, to search for (a search page repeats its query).
A_WORD = "pelican"
B_WORD = "walrus"


@pytest.fixture
def outsider(pay_lead):
    for role in (Role.ON_DUTY, Role.ENGINEER, Role.TESTER):
        pay_lead.groups.add(Group.objects.get(name=role))
    rules.forget(pay_lead)
    return pay_lead


@pytest.fixture
def pay_manager(payments):
    return make_user(Role.MANAGER, payments, username="pay-manager")


@pytest.fixture
def pay_admin(payments):
    return make_user(Role.ADMIN, payments, username="pay-admin")


@pytest.fixture
def team_a(clock, platform, lead, owner, tester, onduty):
    """Team A's records (built on demand), every text marked TEAMA."""
    platform.name = f"Platform {A_MARK}"
    platform.save(update_fields=["name"])
    for person in (lead, owner, tester, onduty):
        person.last_name = A_MARK
        person.save(update_fields=["last_name"])
    return TeamRecords(
        team=platform,
        lead=lead,
        owner=owner,
        tester=tester,
        onduty=onduty,
        text=lambda tag: f"{A_MARK} {A_WORD} {tag}",
    )


@pytest.fixture
def team_b(clock, payments, outsider):
    """Team B's records, every text marked TEAMB; the outsider leads and works them."""
    return TeamRecords(
        team=payments,
        lead=outsider,
        owner=outsider,
        tester=outsider,
        onduty=outsider,
        text=lambda tag: f"{B_MARK} {B_WORD} {tag}",
    )
