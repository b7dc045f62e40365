"""incidents.rules: who sees which incident, and the role × action matrix of DESIGN.md."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from incidents import rules, selectors, services
from incidents.models import Incident, State
from incidents.rules import Role
from incidents.workflow import PROCESS_ACTIONS, Action
from tests.factories import (
    STATE_FOR_ACTION,
    IncidentFactory,
    assigned_incident,
    incident_in_state,
    incident_snapshot,
    make_user,
    perform,
    ready_for,
)

pytestmark = pytest.mark.django_db

ALL = frozenset(PROCESS_ACTIONS)

# DESIGN.md "Roles", for a platform incident owned by `owner` with `helper`.
EXPECTED = {
    "lead": ALL,
    "admin": ALL,
    # The issue "SLA pause": "an owner or tech lead pauses … and resumes it".
    "owner": frozenset({Action.LOG, Action.RESOLVE, Action.PAUSE, Action.RESUME}),
    "helper": frozenset({Action.LOG}),
    "tester": frozenset({Action.VERIFY}),
    "onduty": frozenset({Action.NOTIFY_USERS, Action.FEEDBACK}),
    "engineer": frozenset(),  # on the team, but neither owner nor helper
    "manager": frozenset(),
    "pay_lead": frozenset(),  # a tech lead, but of another team
    "pay_engineer": frozenset(),
}
MATRIX = [(role, action) for role in EXPECTED for action in PROCESS_ACTIONS]
DENIED = [(role, action) for role, action in MATRIX if action not in EXPECTED[role]]
GRANTED = [(role, action) for role, action in MATRIX if action in EXPECTED[role]]


def ids(pairs):
    return [f"{role}-{action.value}" for role, action in pairs]


@pytest.fixture
def platform_incident(lead, onduty, owner, helper):
    return assigned_incident(lead=lead, reporter=onduty, owner=owner, helpers=[helper])


@pytest.fixture
def payments_incident(pay_engineer):
    return IncidentFactory(actor=pay_engineer)


# ---------------------------------------------------------------- visibility


@pytest.mark.parametrize(
    "user", ["onduty", "engineer", "tester", "lead", "owner", "helper"], ids=str
)
def test_it_shows_platform_users_only_platform_incidents(
    request, platform_incident, payments_incident, user
):
    someone = request.getfixturevalue(user)

    assert list(rules.visible_incidents(someone)) == [platform_incident]
    assert rules.can_see(someone, platform_incident)
    assert not rules.can_see(someone, payments_incident)
    assert selectors.incident_get(user=someone, pk=platform_incident.pk) == platform_incident
    with pytest.raises(Incident.DoesNotExist):
        selectors.incident_get(user=someone, pk=payments_incident.pk)


@pytest.mark.parametrize("user", ["pay_engineer", "pay_lead"])
def test_it_shows_payments_users_only_payments_incidents(
    request, platform_incident, payments_incident, user
):
    someone = request.getfixturevalue(user)

    assert list(rules.visible_incidents(someone)) == [payments_incident]
    assert not rules.can_see(someone, platform_incident)
    with pytest.raises(Incident.DoesNotExist):
        selectors.incident_get(user=someone, pk=platform_incident.pk)
    assert not rules.can(someone, Action.VIEW, platform_incident)


@pytest.mark.parametrize("user", ["manager", "admin"])
def test_it_shows_managers_and_admins_every_incident(
    request, platform_incident, payments_incident, user
):
    someone = request.getfixturevalue(user)

    assert set(rules.visible_incidents(someone)) == {platform_incident, payments_incident}
    assert rules.can_see(someone, payments_incident)
    assert selectors.incident_get(user=someone, pk=payments_incident.pk) == payments_incident


def test_it_shows_a_helper_from_another_team_the_incident_they_work_on(
    lead, owner, onduty, pay_engineer
):
    worked_on = assigned_incident(lead=lead, reporter=onduty, owner=owner, helpers=[pay_engineer])
    other = IncidentFactory(actor=onduty)

    assert list(rules.visible_incidents(pay_engineer)) == [worked_on]
    assert rules.can_see(pay_engineer, worked_on)
    assert not rules.can_see(pay_engineer, other)
    assert selectors.incident_get(user=pay_engineer, pk=worked_on.pk) == worked_on
    assert rules.can(pay_engineer, Action.LOG, worked_on)
    assert not rules.can(pay_engineer, Action.RESOLVE, worked_on)


def test_it_does_not_let_a_tester_from_another_team_verify(lead, owner, onduty, payments):
    pay_tester = make_user(Role.TESTER, payments, username="pay-tester")
    incident = assigned_incident(lead=lead, reporter=onduty, owner=owner, helpers=[pay_tester])

    assert rules.can_see(pay_tester, incident)
    assert rules.can(pay_tester, Action.LOG, incident)
    assert not rules.can(pay_tester, Action.VERIFY, incident)


def test_it_lets_an_owner_from_another_team_work_on_their_incident(lead, onduty, pay_engineer):
    worked_on = assigned_incident(lead=lead, reporter=onduty, owner=pay_engineer)

    assert rules.can_see(pay_engineer, worked_on)
    assert selectors.incident_get(user=pay_engineer, pk=worked_on.pk) == worked_on

    services.incident_log(incident=worked_on, actor=pay_engineer, kind="action", text="Looking")

    assert Incident.objects.get(pk=worked_on.pk).state == State.IN_PROGRESS
    assert not rules.can(pay_engineer, Action.ASSIGN, worked_on)


def test_it_shows_nothing_to_anonymous_or_inactive_users(platform_incident, engineer):
    engineer.is_active = False
    engineer.save()
    rules.forget(engineer)

    for someone in (AnonymousUser(), engineer):
        assert not rules.visible_incidents(someone).exists()
        assert not rules.can_see(someone, platform_incident)
        assert not rules.can(someone, Action.FILE)


# ---------------------------------------------------------------- the role × action matrix


@pytest.mark.parametrize(("role", "action"), MATRIX, ids=ids(MATRIX))
def test_it_grants_each_role_exactly_its_actions(request, platform_incident, role, action):
    someone = request.getfixturevalue(role)

    assert rules.can(someone, action, platform_incident) is (action in EXPECTED[role])


@pytest.mark.parametrize("action", PROCESS_ACTIONS, ids=[a.value for a in PROCESS_ACTIONS])
def test_it_lets_a_payments_lead_act_on_payments_incidents(pay_lead, payments_incident, action):
    assert rules.can(pay_lead, action, payments_incident)


def test_it_treats_a_named_team_lead_without_the_role_as_lead(platform, platform_incident):
    named = make_user(Role.ENGINEER, platform, lead=True, username="named-lead")

    assert all(rules.can(named, action, platform_incident) for action in PROCESS_ACTIONS)


def test_it_lets_any_signed_in_user_file(onduty, engineer, manager, pay_engineer):
    assert all(rules.can(u, Action.FILE) for u in (onduty, engineer, manager, pay_engineer))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("manager", True),
        ("lead", True),
        ("admin", True),
        ("engineer", False),
        ("onduty", False),
        ("tester", False),
    ],
)
def test_it_opens_archive_and_metrics_to_managers_and_leads(request, role, allowed):
    someone = request.getfixturevalue(role)

    assert rules.can(someone, Action.VIEW_ARCHIVE) is allowed
    assert rules.can(someone, Action.VIEW_METRICS) is allowed


def test_it_offers_only_the_actions_allowed_by_role_and_state(clock, lead, owner, tester):
    incident = incident_in_state(State.VERIFYING, lead=lead, owner=owner)

    assert services.available_actions(owner, incident) == [Action.LOG, Action.PAUSE]
    assert services.available_actions(tester, incident) == [Action.VERIFY]
    assert services.available_actions(lead, incident) == [
        Action.GRADE,
        Action.ASSIGN,
        Action.LOG,
        Action.PAUSE,
        Action.VERIFY,
        Action.CANCEL,
    ]


def test_it_offers_resume_instead_of_pause_while_paused(clock, lead, owner):
    incident = incident_in_state(State.IN_PROGRESS, lead=lead, owner=owner)
    services.incident_pause(incident=incident, actor=owner, reason="Waiting for the vendor.")
    incident.refresh_from_db()

    assert services.available_actions(owner, incident) == [
        Action.LOG,
        Action.RESUME,
        Action.RESOLVE,
    ]


# ---------------------------------------------------------------- services enforce the matrix


@pytest.mark.parametrize(("role", "action"), DENIED, ids=ids(DENIED))
def test_it_refuses_a_service_call_without_the_role_and_writes_nothing(
    request, clock, lead, onduty, owner, helper, role, action
):
    someone = request.getfixturevalue(role)
    incident = ready_for(
        action,
        incident_in_state(
            STATE_FOR_ACTION[action], lead=lead, reporter=onduty, owner=owner, helpers=[helper]
        ),
    )
    before = incident_snapshot(incident)

    with pytest.raises(PermissionDenied):
        perform(action, incident=incident, actor=someone)

    assert incident_snapshot(incident) == before


@pytest.mark.parametrize(("role", "action"), GRANTED, ids=ids(GRANTED))
def test_it_lets_a_service_call_with_the_role_through(
    request, clock, lead, onduty, owner, helper, role, action
):
    someone = request.getfixturevalue(role)
    incident = ready_for(
        action,
        incident_in_state(
            STATE_FOR_ACTION[action], lead=lead, reporter=onduty, owner=owner, helpers=[helper]
        ),
    )
    before = incident_snapshot(incident)

    perform(action, incident=incident, actor=someone)

    after = incident_snapshot(incident)
    assert after["version"] == before["version"] + 1
    assert after["events"] == before["events"] + 1
    assert Incident.objects.get(pk=incident.pk).events.order_by("-id").first().actor == someone
