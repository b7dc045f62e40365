"""The admin shows every team's records unfiltered: administrators only.

The cross-team tables of test_cross_team.py leave /admin/ out; these are its rows.

- ADMIN_ROUTES: every URL pattern under /admin/ (read from the URL resolver, so a
  new ModelAdmin or custom admin view is covered without a new row). A signed-in
  user who is not an administrator gets 403 for GET and POST, whether or not
  they are `is_staff` (as seed_demo used to make tech leads and managers), and
  nothing is written; an anonymous visitor is sent to the admin's sign-in.
- ADMIN_MODELS: every registered ModelAdmin (admin.site._registry). Its changelist
  and the change page of one of its rows, team A's where the row has a team, answer
  403 to another team's tech lead, manager and engineer with nothing of team A in
  the body, and 200 to an administrator.
"""

import re
from functools import reduce
from operator import or_
from urllib.parse import quote

import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.contrib.admin.utils import quote as admin_quote
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from common import tokens
from escalation.models import RobotSlot, StatusMessage, Subscriber, TeamChannel
from escalation.status import services as status_services
from incidents import alerts, rules, services
from incidents.models import (
    Alert,
    Incident,
    MaintenanceWindow,
    Severity,
    State,
    Team,
    TeamEvent,
    UserProfile,
)
from incidents.rules import Role
from tests.factories import make_user
from tests.security.conftest import A_MARK
from tests.security.helpers import db_state, state_changes, url_patterns
from tests.security.test_cross_team import ADMIN, MISSING, send, text_of, traces_of_team_a

pytestmark = pytest.mark.django_db

REFUSAL = "Administrators only"  # the heading of the 403 page (config/admin.py)

# Values for the parameters of the admin's URL patterns: the refusal comes before
# any lookup, so an id no record has is enough.
ADMIN_ARGUMENTS = {
    "object_id": str(MISSING),
    "id": str(MISSING),
    "content_type_id": "1",
    "app_label": "incidents",
    "url": "no-such-page/",
}
PARAMETER = re.compile(r"\(\?P<(?P<regex>\w+)>[^)]*\)|<(?:\w+:)?(?P<path>\w+)>")


def admin_path(route: str) -> str:
    """A path matching `route`, its parameters filled from ADMIN_ARGUMENTS."""
    filled = PARAMETER.sub(
        lambda m: ADMIN_ARGUMENTS[m.group("regex") or m.group("path")],
        route.lstrip("^").rstrip("$"),
    )
    return "/" + filled


ADMIN_ROUTES = sorted(route for route, _pattern in url_patterns() if route.startswith(ADMIN))
ADMIN_MODELS = list(admin.site._registry)
NOT_ADMINS = ("outsider", "pay_manager", "pay_engineer")


def label(model) -> str:
    return model._meta.label_lower


@pytest.fixture
def not_admins(outsider, pay_manager, pay_engineer):
    """Team B's tech lead and manager, staff as seed_demo made them before; an
    engineer who is not (as it makes everyone but the administrators now)."""
    for user in (outsider, pay_manager):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return [outsider, pay_manager, pay_engineer]


@pytest.fixture
def superuser(pay_admin):
    """An administrator of team B, as seed_demo makes the admin."""
    pay_admin.is_staff = pay_admin.is_superuser = True
    pay_admin.save(update_fields=["is_staff", "is_superuser"])
    return pay_admin


# ---------------------------------------------------------------- every admin URL


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_it_refuses_every_admin_url_to_whoever_is_not_an_administrator(client, not_admins, route):
    path = admin_path(route)
    before = db_state()

    for user in not_admins:
        client.force_login(user)
        for method in ("GET", "POST"):
            response = send(client, method, path, {}, api=False)
            assert response.status_code == 403, (user.username, method, response.status_code)
            assert REFUSAL in response.content.decode(), (user.username, method)

    assert state_changes(before, db_state()) == []


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_it_sends_an_anonymous_visitor_to_the_admin_sign_in(route):
    path = admin_path(route)

    response = Client().get(path)

    if route == f"{ADMIN}login/":
        assert response.status_code == 200
    elif route == f"{ADMIN}logout/":
        assert (response.status_code, response["Location"]) == (302, "/admin/")
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={quote(path)}"


def test_it_covers_the_custom_admin_views_and_every_model():
    """The table is the resolver's: the holiday import page and each ModelAdmin are in it."""
    assert f"{ADMIN}escalation/businesscalendar/<path:object_id>/import/" in ADMIN_ROUTES
    assert {MaintenanceWindow, TeamEvent} <= set(ADMIN_MODELS)
    for model in ADMIN_MODELS:
        meta = model._meta
        for page in ("", "add/", "<path:object_id>/change/", "<path:object_id>/history/"):
            assert f"{ADMIN}{meta.app_label}/{meta.model_name}/{page}" in ADMIN_ROUTES


def test_it_lets_an_administrator_in_by_role_not_by_staff_flag(client, pay_admin):
    """The admin role opens the admin (its model permissions are Django's own)."""
    assert not pay_admin.is_staff
    assert not pay_admin.is_superuser
    client.force_login(pay_admin)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/").status_code == 302  # signed in already: to the index


# ---------------------------------------------------------------- sign-in


def test_it_does_not_sign_a_non_administrator_in_on_the_admin_sign_in(not_admins):
    outsider = not_admins[0]  # staff, as seed_demo made tech leads
    browser = Client()

    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": outsider.username, "password": "responder-test"},
    )

    assert response.status_code == 200
    assert "Please enter the correct username and password" in response.content.decode()
    assert "_auth_user_id" not in browser.session


def test_it_signs_an_administrator_in_on_the_admin_sign_in(superuser):
    browser = Client()

    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": superuser.username, "password": "responder-test"},
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert browser.get("/admin/").status_code == 200


# ---------------------------------------------------------------- every ModelAdmin


def _rows_for_every_admin(team, clock) -> None:
    """Team A's records of every kind the admin lists: what `everything()` builds,
    plus a grading, a user notification and feedback, an alert of an integration, a
    team channel, a robot's message count, an API token, a profile and the sign-in
    records of django-axes."""
    team.everything(clock)
    services.incident_grade(
        incident=team.incident(State.ACKNOWLEDGED),
        actor=team.lead,
        severity=Severity.P2,
        diagnosis=team.text("diagnosis"),
    )
    resolved = team.incident(State.RESOLVED, Severity.P1)
    services.incident_notify_users(
        incident=resolved, actor=team.lead, message=team.text("notification")
    )
    services.incident_record_feedback(
        incident=Incident.objects.get(pk=resolved.pk), actor=team.lead, text=team.text("feedback")
    )
    integration, _token = alerts.integration_create(name=team.text("integration"), team=team.team)
    alerts.alerts_receive(
        integration=integration,
        alerts=[
            alerts.ParsedAlert(
                group_key="disk",
                fingerprint="disk-1",
                status=Alert.Status.FIRING,
                title=team.text("alert title"),
                description=team.text("alert description"),
            )
        ],
    )
    TeamChannel.objects.create(
        team=team.team, kind="webhook", name=team.text("channel"), url="https://hooks.example/a"
    )
    RobotSlot.objects.create(robot="0" * 64, minute=timezone.now(), sent=1)  # no team: any row
    component = status_services.component_create(
        actor=team.lead, slug="checkout", name=team.text("component"), team=team.team
    )
    status_services.incident_publish(
        incident=team.incident(State.IN_PROGRESS),
        actor=team.lead,
        components=[component],
        impact="degraded",
        public_title=team.text("public title"),
        message=team.text("public message"),
    )
    reader = Subscriber.objects.create(
        address="reader@example.com", created_at=timezone.now(), confirmed_at=timezone.now()
    )
    StatusMessage.objects.create(subscriber=reader, kind="confirm", created_at=timezone.now())
    tokens.api_token_create(user=team.lead, actor=team.lead)
    UserProfile.objects.get_or_create(user=team.lead)
    browser = Client()
    assert (
        browser.post(
            "/accounts/login/", {"username": team.lead.username, "password": "responder-test"}
        ).status_code
        == 302
    )  # an access log
    Client().post("/accounts/login/", {"username": team.lead.username, "password": "wrong"})
    # Settings leave the failure log off (the attempts count); its admin lists it anyway.
    AccessFailureLog.objects.create(
        username=team.lead.username, ip_address="203.0.113.7", user_agent="", path_info="/"
    )


def _row(model, team, request):
    """One row the admin lists for `model`: team A's where the model has a team."""
    rows = admin.site._registry[model].get_queryset(request).order_by("pk")
    if model is Team:
        return rows.filter(pk=team.team.pk).first()
    fields = {f.name for f in model._meta.get_fields()}
    lookups = [lookup for lookup in ("team", "incident__team") if lookup.split("__")[0] in fields]
    if not lookups:
        return rows.first()
    return rows.filter(reduce(or_, (Q(**{lookup: team.team}) for lookup in lookups))).first()


def admin_pages(model, team, superuser) -> list[str]:
    """The changelist of `model` and the change page of one of its rows."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    row = _row(model, team, request)
    assert row is not None, f"give {label(model)} a row in _rows_for_every_admin()"
    meta = model._meta
    return [
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[admin_quote(row.pk)]),
    ]


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=label)
def test_it_shows_no_admin_page_of_team_a_to_another_team(
    client, clock, team_a, not_admins, superuser, model
):
    _rows_for_every_admin(team_a, clock)
    pages = admin_pages(model, team_a, superuser)

    for user in not_admins:
        client.force_login(user)
        for path in pages:
            response = client.get(path)
            assert response.status_code == 403, (user.username, path, response.status_code)
            assert traces_of_team_a(text_of(response), team_a) == [], (user.username, path)

    # The control: an administrator opens both pages.
    client.force_login(superuser)
    for path in pages:
        assert client.get(path).status_code == 200, path


def test_it_finds_no_incident_of_another_team_in_the_admin_search(
    client, clock, team_a, lead, superuser
):
    """The audit's request: the platform lead searching the admin for a payments
    incident by number. Every ModelAdmin that searches answers 403."""
    lead.is_staff = True  # as seed_demo made tech leads
    lead.save(update_fields=["is_staff"])
    payments = Team.objects.get(slug="payments")
    theirs = services.incident_create(
        actor=superuser,
        title="Settlement file missing",
        symptoms="The bank settlement file was not generated.",
        severity=Severity.P2,
        source="phone",
        impact_scope="finance reconciliation",
        affected_users=3,
        team=payments,
    )
    searching = [m for m, model_admin in admin.site._registry.items() if model_admin.search_fields]
    assert Incident in searching

    for model in searching:
        meta = model._meta
        path = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        client.force_login(lead)
        response = client.get(path, {"q": theirs.number})
        assert response.status_code == 403, (path, response.status_code)
        # The page repeats its own address (the language switch returns there).
        body = response.content.decode().replace(f"{path}?q={theirs.number}", "<path>")
        assert theirs.number not in body, path
        assert "Settlement" not in body, path

    # The control: the same search finds it for an administrator.
    client.force_login(superuser)
    response = client.get("/admin/incidents/incident/", {"q": theirs.number})
    assert response.status_code == 200
    assert theirs.number in response.content.decode()


def test_an_administrator_sees_team_a_in_the_admin(client, clock, team_a, superuser):
    """The control of the trace check: the admin does list team A's records."""
    incident = team_a.incident(State.IN_PROGRESS)
    client.force_login(superuser)

    listing = text_of(client.get("/admin/incidents/incident/"))
    page = text_of(client.get(f"/admin/incidents/incident/{incident.pk}/change/"))

    assert A_MARK in listing
    assert incident.number in listing
    assert A_MARK in page


def test_it_names_the_administrators(platform, lead, manager, engineer):
    """rules.uses_admin: superusers and the admin role; never `is_staff` alone."""
    superuser = make_user(None, platform, username="root", is_superuser=True, is_staff=True)
    by_role = make_user(Role.ADMIN, platform, username="by-role")
    gone = make_user(Role.ADMIN, platform, username="gone", is_active=False)
    for user in (lead, manager, engineer):
        user.is_staff = True

    assert [rules.uses_admin(u) for u in (superuser, by_role)] == [True, True]
    assert [rules.uses_admin(u) for u in (lead, manager, engineer, gone, AnonymousUser())] == [
        False
    ] * 5
