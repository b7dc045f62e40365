"""Another team's records do not exist for a user, on every page and endpoint.

The tables below hold every URL pattern of the project (checked against the
URL resolver, so a new endpoint without a row here fails), with every HTTP
method its view answers (checked by asking each pattern every method).

- TARGETS: URLs of one record of team A (incident, post-mortem, action item,
  article, its roster — pages and API). The outsider — team B's tech lead
  with every other team role — gets 404 for every method, exactly what a
  record that does not exist gets,
  and nothing is written. Team B's manager and admin see team A (DESIGN.md:
  managers and admins see all), the manager may not act (403); team A's lead
  succeeds with the same request, so the 404 is the visibility rule's.
- LISTINGS: every other URL. What the outsider gets holds nothing of team A
  (no text, number or link), and someone who sees team A does find it there.
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import openpyxl
import pytest
from django.urls import resolve
from django.utils import timezone

from escalation.models import Delivery
from incidents import views
from incidents.models import Incident, LogEntry, Severity, State
from incidents.workflow import Action
from tests.factories import STATE_FOR_ACTION, ready_for, status_component
from tests.security.conftest import A_MARK, A_WORD, B_MARK, B_WORD
from tests.security.helpers import db_state, state_changes, url_patterns

pytestmark = pytest.mark.django_db

MISSING = 2_000_000_000  # an id no record has
ALL_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
WRITES = ("POST", "PUT", "PATCH", "DELETE")

# URL patterns with no row in the tables, and why (ADMIN: every route under it).
ADMIN = "admin/"  # Django admin: administrators only, every route (test_cross_team_admin.py)
ALLOWED = {
    "accounts/login/": "signs in; shows no record",
    "accounts/logout/": "signs out; shows no record",
    "api/schema/": "the OpenAPI document; no records",
    "api/docs/": "Swagger UI; no records",
    "api/v1/alerts/<str:integration_token>/": (
        "authenticated by the integration's secret token, not by a user or team "
        "membership (tests/incidents/test_alerts.py)"
    ),
    "oncall/feeds/<str:token>.ics": (
        "a calendar feed, read by its secret address, not by a user; revoked, unknown or "
        "no longer visible to its owner answers 404 (tests/escalation/roster/test_ical.py)"
    ),
    "oncall/feeds/<int:pk>/revoke/": (
        "revokes the signed-in user's own calendar address; anyone else's answers 404, "
        "managers and admins included (tests/escalation/roster/test_ical.py)"
    ),
    **dict.fromkeys(
        ("status/", "status/index.json", "status/feed.atom", "status/feed.rss", "status/badge.svg"),
        "the public status page: no sign-in, it shows only the words published for the "
        "public, never an incident's title, number, people or team "
        "(tests/escalation/status/test_nothing_leaks.py)",
    ),
    "status/subscribe/": (
        "public, no sign-in: subscribes an address (double opt-in, throttled); shows the "
        "public components only, never a subscriber (tests/escalation/status/test_subscribe.py)"
    ),
    **dict.fromkeys(
        ("status/confirm/<str:token>/", "status/unsubscribe/<str:token>/"),
        "authenticated by the signed token of the mail's link (its subscriber and address), "
        "not by a user; a forged or another's token answers 404 "
        "(tests/escalation/status/test_subscribe.py)",
    ),
    "status/feedback/<str:token>/": (
        "authenticated by the random token of one affected subscriber's resolved mail, not "
        "by a user; shows only the published words (tests/escalation/status/test_feedback.py)"
    ),
    **dict.fromkeys(
        ("api/v1/status/components/$", "api/v1/status/components/(?P<slug>[^/.]+)/$"),
        "components are public (the status page lists them): every signed-in user reads "
        "them by design; another team's lead may not add, change or remove a team's "
        "component: 403, nothing written (test_it_lets_no_other_team_change_a_component)",
    ),
}


def allowed(route: str) -> bool:
    return route in ALLOWED or route.startswith(ADMIN)


def route_of(path: str) -> str:
    return resolve(path.format(pk=MISSING).split("?")[0]).route


# ---------------------------------------------------------------- team A's records


@dataclass(frozen=True)
class Target:
    """One URL of one record of team A; `{pk}` in `path` is the record's id."""

    name: str
    path: str
    record: Callable  # TeamRecords → the record
    methods: tuple[str, ...]
    data: Callable | None = None  # (TeamRecords, record) → a valid body for the writes
    api: bool = False
    manager_reads: int = 200  # a manager (sees all teams, may not write) reading it
    succeeds: int | None = None  # the lead's write: 200 (API) or 302 (pages) unless given

    @property
    def write(self) -> str | None:
        return next((m for m in ("POST", "PATCH", "DELETE") if m in self.methods), None)


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def form_data(action: Action, incident: Incident, owner) -> dict:
    """Valid web-form input for `action` on `incident` (publishing: on a component
    of its team, as the first public update)."""
    if action == Action.PUBLISH:
        return {
            "last_update": 0,
            "components": [status_component(incident.team).pk],
            "impact": "partial_outage",
            "public_title": "Checkout is slow",
            "message": "Some payments take longer than usual.",
        }
    data = {
        Action.ACKNOWLEDGE: {},
        Action.GRADE: {"severity": Severity.P1, "diagnosis": "Pool exhausted."},
        Action.ASSIGN: {"owner": owner.pk},
        Action.LOG: {"kind": LogEntry.Kind.PROGRESS, "text": "Rolling back."},
        Action.RESOLVE: {"fix": "Pool raised."},
        Action.VERIFY: {"functional": "passed", "regression": "passed", "monitoring": "passed"},
        Action.NOTIFY_USERS: {"message": "Fixed."},
        Action.FEEDBACK: {"text": "Works.", "satisfied": "true"},
        Action.ARCHIVE: {"summary": "Pool exhaustion."},
        Action.REOPEN: {"reason": "Back."},
        Action.CANCEL: {"reason": "Duplicate."},
        Action.PAUSE: {"reason": "Waiting for the vendor.", "waiting_on": "Dell"},
        Action.RESUME: {},
    }[action]
    return {"version": incident.version, **data}


def api_data(action: Action, owner, incident: Incident | None = None) -> dict:
    """Valid API input for `action` (publishing: on a component of `incident`'s team)."""
    if action == Action.PUBLISH:
        return {
            "components": [status_component(incident.team).slug],
            "impact": "partial_outage",
            "public_title": "Checkout is slow",
            "message": "Some payments take longer than usual.",
        }
    return {
        Action.ACKNOWLEDGE: {},
        Action.GRADE: {"severity": "P1", "diagnosis": "Pool exhausted."},
        Action.ASSIGN: {"owner": owner.username},
        Action.LOG: {"kind": "progress", "text": "Rolling back."},
        Action.RESOLVE: {"fix": "Pool raised."},
        Action.VERIFY: {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
        Action.NOTIFY_USERS: {"message": "Fixed."},
        Action.FEEDBACK: {"text": "Works."},
        Action.ARCHIVE: {"summary": "Pool exhaustion."},
        Action.REOPEN: {"reason": "Back."},
        Action.CANCEL: {"reason": "Duplicate."},
        Action.PAUSE: {"reason": "Waiting for the vendor.", "waiting_on": "Dell"},
        Action.RESUME: {},
    }[action]


def edit_data(team, incident) -> dict:
    return {
        "version": incident.version,
        "title": "Edited title",
        "symptoms": incident.symptoms,
        "impact_scope": incident.impact_scope,
        "affected_users": incident.affected_users,
        "source": incident.source,
        "category": incident.category,
        "received_at": _local(incident.received_at),
    }


def postmortem_data(team, incident) -> dict:
    pm = team.postmortem
    return {
        "version": pm.version,
        "summary": "Rewritten summary",
        "root_cause_category": "change_config",
        "root_cause": pm.root_cause,
        "meeting_date": pm.meeting_date.isoformat(),
    }


def action_item_data(team, incident) -> dict:
    due = timezone.localdate() + timedelta(days=3)
    return {"action-text": "Another action", "action-owner": team.owner.pk, "action-due_date": due}


def article_data(team, record) -> dict:
    return {"title": "Rewritten article", "fix": "Raise the pool."}


def _act_target(action: Action) -> Target:
    return Target(
        name=f"act-{action.value}",
        path=f"/incidents/{{pk}}/{action.value}/",
        record=lambda team: ready_for(action, team.incident(STATE_FOR_ACTION[action])),
        methods=("POST",),
        data=lambda team, incident: form_data(action, incident, team.owner),
    )


def _api_targets() -> list[Target]:
    """The API's URLs of one incident."""
    base = "/api/v1/incidents/{pk}"
    targets = [
        Target(
            name="api-detail",
            path=f"{base}/",
            record=lambda team: team.incident(State.ACKNOWLEDGED),
            methods=("GET", "HEAD", "OPTIONS", "PATCH"),
            data=lambda team, incident: {"title": "Edited title"},
            api=True,
        )
    ]
    for action in views.ACTIONS:
        targets.append(
            Target(
                name=f"api-{action.value}",
                path=f"{base}/{action.value}/",
                record=lambda team, action=action: ready_for(
                    action, team.incident(STATE_FOR_ACTION[action])
                ),
                methods=("OPTIONS", "POST"),
                data=lambda team, incident, action=action: api_data(action, team.owner, incident),
                api=True,
                succeeds=201 if action == Action.PUBLISH else None,  # the publication made
            )
        )
    targets.append(
        Target(
            name="api-public-updates",
            path=f"{base}/public-updates/",
            record=lambda team: team.published,
            methods=("OPTIONS", "POST"),
            data=lambda team, incident: {"status": "identified", "message": "Found it."},
            api=True,
            succeeds=201,
        )
    )
    for reading in ("timeline", "notices", "alerts"):
        targets.append(
            Target(
                name=f"api-{reading}",
                path=f"{base}/{reading}/",
                record=lambda team: team.incident(State.IN_PROGRESS),
                methods=("GET", "HEAD", "OPTIONS"),
                api=True,
            )
        )
    return targets


def _postmortem_incident(team):
    return team.postmortem.incident


@dataclass(frozen=True)
class Slug:
    """A team, named in its roster's URLs by slug (in the `{pk}` place)."""

    pk: str


def _team_slug(team):
    return Slug(team.team.slug)


def rotation_data(team, record) -> dict:
    return {
        "name": "Nights",
        "layer": "secondary",
        "participants": f"{team.owner.username}\n{team.tester.username}",
        "shift_days": 1,
        "handoff_time": "18:00",
        "start_date": timezone.localdate().isoformat(),
        "weekdays": list("0123456"),
    }


def override_data(team, record) -> dict:
    start = timezone.localtime() + timedelta(days=2)
    return {
        "layer": "primary",
        "user": team.lead.username,
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
        "note": "Covering",
    }


def api_rotation_data(team, record) -> dict:
    return {
        "name": "Nights",
        "layer": "secondary",
        "participants": [team.owner.username, team.tester.username],
        "shift_days": 1,
        "handoff_time": "18:00",
        "start_date": timezone.localdate().isoformat(),
        "weekdays": "0123456",
    }


def api_override_data(team, record) -> dict:
    start = timezone.localtime() + timedelta(days=2)
    return {
        "layer": "primary",
        "user": team.lead.username,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=4)).isoformat(),
        "note": "Covering",
    }


ROSTER = "/oncall/platform"
API_ROSTER = "/api/v1/teams/platform"
ROSTER_TARGETS = [
    Target("oncall-team", "/oncall/{pk}/", _team_slug, ("GET",)),
    Target(
        "oncall-rotation-new",
        "/oncall/{pk}/rotations/new/",
        _team_slug,
        ("GET", "POST"),
        data=rotation_data,
        manager_reads=403,  # a manager sees the roster; its tech leads set it up
    ),
    Target(
        "oncall-rotation",
        ROSTER + "/rotations/{pk}/",
        lambda t: t.rotation,
        ("GET", "POST"),
        data=rotation_data,
        manager_reads=403,
    ),
    Target(
        "oncall-rotation-delete",
        ROSTER + "/rotations/{pk}/delete/",
        lambda t: t.rotation,
        ("POST",),
        data=lambda team, record: {},
    ),
    Target(
        "oncall-override-add",
        "/oncall/{pk}/overrides/",
        lambda t: (t.rotation, _team_slug(t))[1],
        ("GET", "POST"),  # GET: the form, loaded when "Add an override" opens
        data=override_data,
    ),
    Target(
        "oncall-override-delete",
        ROSTER + "/overrides/{pk}/delete/",
        lambda t: t.override,
        ("POST",),
        data=lambda team, record: {},
    ),
    Target(
        "oncall-handover-note",
        "/oncall/{pk}/handover-note/",
        lambda t: (t.rotation, _team_slug(t))[1],
        ("POST",),
        data=lambda team, record: {"layer": "primary", "text": "All quiet."},
    ),
    Target(
        "api-oncall",
        "/api/v1/teams/{pk}/oncall/",
        lambda t: (t.rotation, _team_slug(t))[1],
        ("GET", "HEAD", "OPTIONS"),
        api=True,
    ),
    Target(
        "api-oncall-at",
        "/api/v1/teams/{pk}/oncall/?at=2026-12-06T09:30:00Z",
        lambda t: (t.override, _team_slug(t))[1],
        ("GET", "HEAD"),
        api=True,
    ),
    Target(
        "api-rotations",
        "/api/v1/teams/{pk}/rotations/",
        lambda t: (t.rotation, _team_slug(t))[1],
        ("GET", "HEAD", "OPTIONS", "POST"),
        data=api_rotation_data,
        api=True,
        succeeds=201,
    ),
    Target(
        "api-rotation",
        API_ROSTER + "/rotations/{pk}/",
        lambda t: t.rotation,
        ("GET", "HEAD", "OPTIONS", "PATCH", "DELETE"),
        data=lambda team, record: {"name": "Renamed", "handoff_time": "10:00"},
        api=True,
    ),
    Target(
        "api-overrides",
        "/api/v1/teams/{pk}/overrides/",
        lambda t: (t.override, _team_slug(t))[1],
        ("GET", "HEAD", "OPTIONS", "POST"),
        data=api_override_data,
        api=True,
        succeeds=201,
    ),
    Target(
        "api-override",
        API_ROSTER + "/overrides/{pk}/",
        lambda t: t.override,
        ("OPTIONS", "DELETE"),
        data=lambda team, record: {},
        api=True,
        succeeds=204,
    ),
    Target(
        "api-shifts",
        "/api/v1/teams/{pk}/shifts/?from=2026-11-20T00:00:00Z&until=2027-01-20T00:00:00Z",
        lambda t: (t.override, _team_slug(t))[1],
        ("GET", "HEAD", "OPTIONS"),
        api=True,
    ),
]


def window_form_data(team, record) -> dict:
    start = timezone.localtime() - timedelta(hours=1)
    return {
        "team": team.team.slug,
        "title": "Rescheduled window",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"),
        "repeat": "",
        "mode": "suppress",
    }


MAINTENANCE_TARGETS = [
    Target("maintenance-window-page", "/maintenance/{pk}/", lambda t: t.window, ("GET",)),
    Target(
        "maintenance-edit",
        "/maintenance/{pk}/edit/",
        lambda t: t.window,
        ("GET", "POST"),
        data=window_form_data,
        manager_reads=403,  # a manager reads the window; its tech leads change it
    ),
    Target(
        "maintenance-end-page",
        "/maintenance/{pk}/end/",
        lambda t: t.window,
        ("POST",),
        data=lambda team, record: {},
    ),
    Target(
        "maintenance-delete-page",
        "/maintenance/{pk}/delete/",
        lambda t: t.window,
        ("POST",),
        data=lambda team, record: {},
    ),
    Target(
        "maintenance-preview-of-window",
        "/maintenance/preview/?window={pk}",
        lambda t: t.window,
        ("GET",),
        manager_reads=403,  # the preview is the form's: tech leads only
    ),
    Target(
        "api-maintenance-window",
        "/api/v1/maintenance/{pk}/",
        lambda t: t.window,
        ("GET", "HEAD", "OPTIONS", "PATCH", "DELETE"),
        data=lambda team, record: {"title": "Renamed window"},
        api=True,
    ),
    Target(
        "api-maintenance-end",
        "/api/v1/maintenance/{pk}/end/",
        lambda t: t.window,
        ("OPTIONS", "POST"),
        data=lambda team, record: {},
        api=True,
    ),
]


TARGETS = [
    Target("workspace", "/incidents/{pk}/", lambda t: t.incident(State.IN_PROGRESS), ("GET",)),
    Target("print", "/incidents/{pk}/print/", lambda t: t.incident(State.IN_PROGRESS), ("GET",)),
    Target(
        "similar",
        "/incidents/{pk}/similar/",
        lambda t: t.incident(State.IN_PROGRESS),
        ("GET",),
    ),
    Target(
        "edit",
        "/incidents/{pk}/edit/",
        lambda t: t.incident(State.ACKNOWLEDGED),
        ("POST",),
        data=edit_data,
    ),
    *[_act_target(action) for action in views.ACTIONS],
    Target(
        "quick-grade",
        "/incidents/{pk}/quick/grade/",
        lambda t: t.incident(State.ACKNOWLEDGED),
        ("GET",),
        manager_reads=403,  # a manager sees the incident but does not grade
    ),
    Target(
        "action-form",  # a workspace action's form, drawn when its box opens
        "/incidents/{pk}/form/grade/",
        lambda t: t.incident(State.ACKNOWLEDGED),
        ("GET",),
        manager_reads=403,  # a manager sees the incident but does not grade
    ),
    Target(
        "quick-assign",
        "/incidents/{pk}/quick/assign/",
        lambda t: t.incident(State.ACKNOWLEDGED),
        ("GET",),
        manager_reads=403,  # a manager sees the incident but does not assign
    ),
    Target(
        "postmortem",
        "/incidents/{pk}/postmortem/",
        _postmortem_incident,
        ALL_METHODS,
        data=postmortem_data,
    ),
    Target(
        "postmortem-action-add",
        "/incidents/{pk}/postmortem/actions/",
        _postmortem_incident,
        ("POST",),
        data=action_item_data,
    ),
    Target(
        "action-done",
        "/knowledge/actions/{pk}/done/",
        lambda t: t.action_item,
        ("POST",),
        data=lambda team, item: {},
    ),
    Target("article", "/knowledge/articles/{pk}/", lambda t: t.article, ("GET",)),
    Target(
        "article-edit",
        "/knowledge/articles/{pk}/edit/",
        lambda t: t.article,
        ALL_METHODS,
        data=article_data,
        manager_reads=403,
    ),
    Target(
        "article-new",
        "/knowledge/articles/new/{pk}/",
        lambda t: t.archived,
        ALL_METHODS,
        data=article_data,
        manager_reads=403,
    ),
    *_api_targets(),
    *ROSTER_TARGETS,
    *MAINTENANCE_TARGETS,
]


def send(client, method: str, path: str, data: dict | None, *, api: bool, headers=None):
    """`method` on `path` with `data` as the body of a write (JSON for the API)."""
    if method not in WRITES:
        return client.generic(method, path, headers=headers)
    if api:
        body, content_type = json.dumps(data or {}), "application/json"
    else:
        body, content_type = urlencode(data or {}, doseq=True), "application/x-www-form-urlencoded"
    return client.generic(method, path, body, content_type, headers=headers)


def comparable(response, path: str) -> tuple[int, bytes]:
    body = b"" if response.streaming else response.content
    return response.status_code, body.replace(path.encode(), b"<path>")


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_it_answers_404_for_another_teams_record_and_writes_nothing(
    client, team_a, outsider, target
):
    record = target.record(team_a)
    path = target.path.format(pk=record.pk)
    unknown = target.path.format(pk=MISSING)
    data = target.data(team_a, record) if target.data else None
    client.force_login(outsider)
    before = db_state()

    for method in target.methods:
        answer = send(client, method, path, data, api=target.api)
        nothing = send(client, method, unknown, data, api=target.api)
        # Exactly what a record that does not exist gets: no 403, nothing to tell them apart.
        assert comparable(answer, path) == comparable(nothing, unknown), method
        if not (target.api and method == "OPTIONS"):  # DRF's metadata never reads the record
            assert answer.status_code == 404, (method, answer.status_code)

    assert state_changes(before, db_state()) == []


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_it_lets_managers_and_admins_of_another_team_see_it(
    client, team_a, pay_manager, pay_admin, target
):
    record = target.record(team_a)
    path = target.path.format(pk=record.pk)
    data = target.data(team_a, record) if target.data else None
    if "GET" in target.methods:
        client.force_login(pay_admin)
        assert send(client, "GET", path, None, api=target.api).status_code == 200
        client.force_login(pay_manager)
        assert send(client, "GET", path, None, api=target.api).status_code == target.manager_reads
    if target.write:
        client.force_login(pay_manager)
        before = db_state()
        response = send(client, target.write, path, data, api=target.api)
        assert response.status_code == 403  # sees it, may not act: the role rule speaks
        assert state_changes(before, db_state()) == []


@pytest.mark.parametrize(
    "target", [t for t in TARGETS if t.write], ids=[t.name for t in TARGETS if t.write]
)
def test_it_lets_the_owning_teams_lead_make_the_same_request(client, team_a, lead, target):
    """The control: the outsider's request was valid, only the team was wrong."""
    record = target.record(team_a)
    path = target.path.format(pk=record.pk)
    client.force_login(lead)
    before = db_state()

    response = send(client, target.write, path, target.data(team_a, record), api=target.api)

    expected = target.succeeds or (200 if target.api else 302)
    assert response.status_code == expected, response.content[:500]
    assert state_changes(before, db_state()) != []


# ---------------------------------------------------------------- status page components

# Components are public (every signed-in user reads them, as the status page
# shows them to anyone); writing one is its team's tech leads' (and admins').
# (name, method, path, body, the lead's answer): team A's component, and a new one.
COMPONENTS = "/api/v1/status/components/"
COMPONENT_WRITES = [
    ("change", "PATCH", lambda c: f"{COMPONENTS}{c.slug}/", {"name": "Renamed"}, 200),
    ("remove", "DELETE", lambda c: f"{COMPONENTS}{c.slug}/", None, 204),
    (
        "add-to-team-a",
        "POST",
        lambda c: COMPONENTS,
        {"slug": "added", "name": "Added", "team": "platform"},
        201,
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "succeeds"),
    COMPONENT_WRITES,
    ids=[w[0] for w in COMPONENT_WRITES],
)
def test_it_lets_no_other_team_change_a_component(
    client, team_a, outsider, pay_manager, lead, name, method, path, body, succeeds
):
    component = team_a.component
    before = db_state()

    for someone in (outsider, pay_manager):
        client.force_login(someone)
        response = send(client, method, path(component), body, api=True)
        assert response.status_code == 403, (someone.username, response.status_code)
        assert state_changes(before, db_state()) == []

    # The control: the same request by team A's lead goes through.
    client.force_login(lead)
    assert send(client, method, path(component), body, api=True).status_code == succeeds
    assert state_changes(before, db_state()) != []


def test_it_lets_no_other_team_move_its_component_into_team_a(client, team_a, team_b, outsider):
    theirs = team_b.component
    client.force_login(outsider)
    before = db_state()

    response = send(client, "PATCH", f"{COMPONENTS}{theirs.slug}/", {"team": "platform"}, api=True)

    assert response.status_code == 403
    assert state_changes(before, db_state()) == []


def test_it_shows_components_to_every_signed_in_user(client, team_a, outsider):
    """By design: the public status page shows them to anyone."""
    component = team_a.component
    client.force_login(outsider)

    listed = client.get(COMPONENTS).json()
    one = client.get(f"{COMPONENTS}{component.slug}/")

    assert [c["slug"] for c in listed["results"]] == [component.slug]
    assert one.status_code == 200


# ---------------------------------------------------------------- everything else


@dataclass(frozen=True)
class Listing:
    """A URL that is not one record's: what it answers holds nothing of team A.

    `shows_a_to`: a user (fixture name) to whom the same URL does show team A,
    proving the check could see a leak; None where no record is ever shown.
    """

    name: str
    path: str
    methods: tuple[str, ...] = ("GET",)
    status: int = 200  # the outsider's answer
    data: dict | Callable | None = None
    api: bool = False
    shows_a_to: str | None = None
    headers: dict = field(default_factory=dict)


def _delivery_of_team_a(team):
    return {"delivery": Delivery.objects.filter(user=team.lead, channel="inapp").first().pk}


LISTINGS = [
    Listing("home", "/", ALL_METHODS, status=302),
    Listing("dashboard", "/dashboard/", shows_a_to="pay_manager"),
    Listing(
        "dashboard-rows",
        "/dashboard/?fragment=rows",
        headers={"HX-Request": "true"},
        shows_a_to="pay_manager",
    ),
    Listing("dashboard-team-a", "/dashboard/?team=platform"),
    Listing("my-work", "/my/", shows_a_to="owner"),
    Listing("archive", "/archive/", shows_a_to="pay_manager"),
    Listing("archive-search", f"/archive/?q={A_WORD}", shows_a_to="pay_manager"),
    Listing("archive-team-a", "/archive/?team=platform", status=400),
    Listing("archive-csv", "/archive/export.csv", shows_a_to="pay_manager"),
    Listing("archive-xlsx", "/archive/export.xlsx", shows_a_to="pay_manager"),
    Listing(
        "intake",
        "/incidents/new/",
        ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"),
        shows_a_to="pay_manager",
    ),
    Listing(
        "intake-into-team-a",
        "/incidents/new/",
        ("POST",),
        status=400,
        data=lambda team: {
            "title": "Filed into A",
            "symptoms": "x",
            "severity": "P2",
            "impact_scope": "x",
            "affected_users": 0,
            "source": "phone",
            "category": "production",
            "team": team.team.pk,
            "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        },
    ),
    Listing("knowledge", "/knowledge/", shows_a_to="pay_manager"),
    Listing("knowledge-search", f"/knowledge/?q={A_WORD}", shows_a_to="pay_manager"),
    Listing(
        "knowledge-similar",
        f"/knowledge/similar/?title={A_WORD}+title&symptoms={A_WORD}",
        shows_a_to="pay_manager",
    ),
    # The intake form POSTs the text (long symptoms do not fit in a URL); the GET
    # listing above is the control that the same search does find team A.
    Listing(
        "knowledge-similar-post",
        "/knowledge/similar/",
        ("POST",),
        data={"title": f"{A_WORD} title", "symptoms": A_WORD},
    ),
    Listing("metrics", "/metrics/", shows_a_to="pay_manager"),
    Listing("metrics-team-a", "/metrics/?team=platform", status=400),
    Listing("notifications", "/notifications/", ALL_METHODS, shows_a_to="lead"),
    Listing(
        "notifications-read-team-a",
        "/notifications/read/",
        ("POST",),
        status=302,
        data=_delivery_of_team_a,
    ),
    Listing(
        "notifications-preferences",
        "/notifications/preferences/",
        ("POST",),
        status=302,
        data={"email_notices": "on"},
    ),
    Listing("profile", "/accounts/profile/", ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")),
    Listing(
        "profile-save",
        "/accounts/profile/",
        ("POST",),
        status=302,
        data={"language": "en", "email_notices": "on", "inapp_notices": "on"},
    ),
    Listing("api-token", "/accounts/token/", ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")),
    Listing("api-token-create", "/accounts/token/", ("POST",), data={"action": "create"}),
    Listing("password", "/accounts/password/", ("GET", "HEAD", "OPTIONS", "POST", "PUT")),
    Listing("password-done", "/accounts/password/done/", ("GET", "HEAD", "OPTIONS")),
    Listing("language", "/accounts/language/", ("POST",), status=302, data={"language": "en"}),
    Listing("healthz", "/healthz", status=503),  # no beat runs in the tests
    Listing(
        "api-list",
        "/api/v1/incidents/",
        ("GET", "HEAD", "OPTIONS"),
        api=True,
        shows_a_to="pay_manager",
    ),
    Listing(
        "api-list-search", f"/api/v1/incidents/?q={A_WORD}", api=True, shows_a_to="pay_manager"
    ),
    # Another team's slug is refused as an unknown one (400, nothing listed).
    Listing("api-list-team-a", "/api/v1/incidents/?team=platform", status=400, api=True),
    Listing(
        "api-intake-into-team-a",
        "/api/v1/incidents/",
        ("POST",),
        status=400,
        api=True,
        data={
            "title": "Filed into A",
            "symptoms": "x",
            "severity": "P2",
            "source": "api",
            "impact_scope": "x",
            "team": "platform",
        },
    ),
    Listing(
        "api-knowledge",
        f"/api/v1/knowledge/?q={A_WORD}",
        ("GET", "HEAD", "OPTIONS"),
        api=True,
        shows_a_to="pay_manager",
    ),
    Listing(
        "api-metrics",
        "/api/v1/metrics/",
        ("GET", "HEAD", "OPTIONS"),
        api=True,
        shows_a_to="pay_manager",
    ),
    Listing("api-metrics-team-a", "/api/v1/metrics/?team=platform", status=400, api=True),
    Listing("api-ping", "/api/v1/ping/", ("GET", "OPTIONS"), api=True),
    # Alerts waiting to open an incident (no control: the world has none of team A's).
    Listing("alerts-pending", "/alerts/pending/"),
    Listing("api-alerts-pending", "/api/v1/alerts/pending/", ("GET", "HEAD", "OPTIONS"), api=True),
    Listing("maintenance", "/maintenance/", shows_a_to="pay_manager"),
    Listing("maintenance-new", "/maintenance/new/", ("GET",), shows_a_to=None),
    Listing(
        "maintenance-new-into-team-a",
        "/maintenance/new/",
        ("POST",),
        status=400,
        data=lambda team: window_form_data(team, None),
    ),
    Listing(
        "maintenance-preview",
        "/maintenance/preview/",
        ("POST",),
        data=lambda team: {**window_form_data(team, None), "team": "payments"},
    ),
    Listing(
        "api-maintenance",
        "/api/v1/maintenance/",
        ("GET", "HEAD", "OPTIONS"),
        api=True,
        shows_a_to="pay_manager",
    ),
    Listing(
        "api-maintenance-running",
        "/api/v1/maintenance/?active=true",
        api=True,
        shows_a_to="pay_manager",
    ),
    # Another team's slug is refused as an unknown one, as a filter and as a window's team.
    Listing("api-maintenance-team-a", "/api/v1/maintenance/?team=platform", status=400, api=True),
    Listing(
        "api-maintenance-plan-into-team-a",
        "/api/v1/maintenance/",
        ("POST",),
        status=400,
        api=True,
        data=lambda team: {
            "title": "Planned into A",
            "team": "platform",
            "starts_at": timezone.now().isoformat(),
            "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
        },
    ),
    Listing("oncall", "/oncall/", shows_a_to="pay_manager"),
    # Another team's schedule feed is refused as an unknown team's (404, nothing made).
    Listing(
        "oncall-feed-create-team-a",
        "/oncall/feeds/",
        ("POST",),
        status=404,
        data={"team": "platform"},
    ),
    # The same through the API (managers and admins may have one: they see the roster).
    Listing("api-feed-team-a", "/api/v1/teams/platform/feeds/", ("POST",), status=404, api=True),
    Listing("api-feed-options", "/api/v1/teams/platform/feeds/", ("OPTIONS",), api=True),
]


def text_of(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(
            str(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        )
    return body.decode()


def traces_of_team_a(text: str, team) -> list[str]:
    """Team A's marker, incident numbers and incident links found in `text`."""
    incidents = Incident.objects.filter(team=team.team)
    found = [A_MARK] if A_MARK in text else []
    found += [i.number for i in incidents if i.number in text]
    found += [f"/incidents/{i.pk}/" for i in incidents if f"/incidents/{i.pk}/" in text]
    return found


@pytest.fixture
def both_teams(clock, team_a, team_b):
    """Team A's records of every kind, escalated; team B's open and archived ones."""
    team_b.incident(State.NEW)
    team_b.article  # noqa: B018 (builds it, from an archived incident)
    team_a.everything(clock)
    return team_a


@pytest.mark.parametrize("listing", LISTINGS, ids=[item.name for item in LISTINGS])
def test_it_lists_nothing_of_another_team(request, client, both_teams, outsider, listing):
    team = both_teams
    data = listing.data(team) if callable(listing.data) else listing.data
    client.force_login(outsider)
    before = db_state(own_rows_of=outsider)

    for method in listing.methods:
        response = send(
            client, method, listing.path, data, api=listing.api, headers=listing.headers
        )
        assert response.status_code == listing.status, (method, response.status_code)
        assert traces_of_team_a(text_of(response), team) == [], method

    assert state_changes(before, db_state(own_rows_of=outsider)) == []
    if listing.shows_a_to:
        # The control: someone who sees team A does find it here.
        client.force_login(request.getfixturevalue(listing.shows_a_to))
        response = send(client, "GET", listing.path, None, api=listing.api, headers=listing.headers)
        assert A_MARK in text_of(response)


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/",
        "/archive/",
        "/archive/export.csv",
        "/knowledge/",
        f"/knowledge/?q={B_WORD}",
        f"/api/v1/knowledge/?q={B_WORD}",
        "/api/v1/incidents/",
    ],
)
def test_it_shows_the_outsider_their_own_teams_records(client, both_teams, outsider, path):
    """The listings are not empty for the outsider: their own team's records are there."""
    client.force_login(outsider)
    assert B_MARK in text_of(client.get(path))


def test_it_suggests_no_similar_incident_of_another_team(
    client, both_teams, team_b, outsider, pay_manager
):
    """The workspace's "similar past incidents" (loaded after the page) search the
    user's teams only."""
    # Words of team A's archived incidents, in an incident of team B.
    mine = team_b.incident(State.ACKNOWLEDGED)
    mine.title = f"{B_MARK} {A_WORD} archived P2 title"
    mine.save(update_fields=["title"])
    path = f"/incidents/{mine.pk}/similar/"

    client.force_login(outsider)
    assert traces_of_team_a(text_of(client.get(path)), both_teams) == []
    client.force_login(pay_manager)  # the control: someone who sees team A gets it
    assert A_MARK in text_of(client.get(path))


def test_it_counts_only_the_users_teams(client, both_teams, outsider):
    client.force_login(outsider)
    mine = Incident.objects.filter(team__slug="payments")
    open_mine = mine.exclude(state__in=[State.RESOLVED, State.ARCHIVED, State.CANCELLED])

    dashboard = client.get("/dashboard/")
    listed = client.get("/api/v1/incidents/").json()
    metrics = client.get("/api/v1/metrics/").json()

    assert dashboard.context["total"] == open_mine.count()
    assert listed["count"] == mine.count()
    assert metrics["total"]["count"] == mine.exclude(state=State.CANCELLED).count()
    assert metrics["overdue_action_items"] == []
    assert metrics["root_causes"] == []


# ---------------------------------------------------------------- the tables are complete


def test_it_has_a_row_for_every_url_pattern():
    covered = {route_of(item.path) for item in [*TARGETS, *LISTINGS]}
    routes = [route for route, _pattern in url_patterns()]

    missing = [r for r in routes if r not in covered and not allowed(r)]

    assert missing == [], "add these URLs to the cross-team tables (or to ALLOWED, with why)"
    assert sorted(set(ALLOWED) - set(routes)) == []  # no stale entry
    assert any(r.startswith(ADMIN) for r in routes)


def test_it_tries_every_action_the_workspace_posts():
    tried = {t.name.removeprefix("act-") for t in TARGETS if t.name.startswith("act-")}
    assert tried == {a.value for a in views.ACTIONS}


def _methods_by_route() -> dict[str, tuple[str, set[str]]]:
    """route → (a path of it, every method the tables send there)."""
    found: dict[str, tuple[str, set[str]]] = {}
    for item in [*TARGETS, *LISTINGS]:
        route = route_of(item.path)
        path = item.path.format(pk=MISSING)
        found.setdefault(route, (path, set()))[1].update(item.methods)
    return found


METHODS_BY_ROUTE = _methods_by_route()


@pytest.mark.parametrize("route", sorted(METHODS_BY_ROUTE))
def test_it_sends_every_method_the_url_answers(client, admin, route):
    """A method the view accepts but the tables do not send would go untested:
    every other method must be refused (405), even to an admin."""
    path, listed = METHODS_BY_ROUTE[route]
    client.force_login(admin)
    api = path.startswith("/api/")
    answered = {
        method
        for method in ALL_METHODS
        if send(client, method, path, {}, api=api).status_code != 405
    }
    assert answered == listed


def test_it_does_not_tell_which_team_slugs_exist(token_client, pay_lead, platform):
    api = token_client(pay_lead)

    theirs = api.get("/api/v1/incidents/", {"team": "platform"})
    nowhere = api.get("/api/v1/incidents/", {"team": "no-such-team"})

    assert theirs.status_code == nowhere.status_code == 400
    assert theirs.json()["team"] == ["No team platform."]
    assert api.get("/api/v1/incidents/", {"team": "payments"}).status_code == 200
