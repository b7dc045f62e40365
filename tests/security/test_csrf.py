"""CSRF: every form carries the token, and nothing is accepted without it.

- Every page with a POST form is rendered (each workspace state as an admin,
  who is offered every form of the state); every `<form method="post">`
  carries a csrfmiddlewaretoken.
- Each of those forms, posted as rendered but without its token by a client
  that enforces CSRF, gets 403 and writes nothing; with the token it passes
  the check.
- Every URL and method that writes (the cross-team tables hold them all, and
  check they do) gets 403 without the token, the API too when signed in by
  session. The API with `Authorization: Token` needs no CSRF token (no
  cookie is involved), nor does alert intake (its secret is in the URL).
"""

import html
import json
import re
from urllib.parse import urlencode, urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import resolve

from escalation.models import Delivery
from incidents import views
from incidents.models import State
from tests.factories import paused
from tests.security.helpers import Page, db_state, state_changes
from tests.security.test_cross_team import (
    COMPONENT_WRITES,
    LISTINGS,
    TARGETS,
    WRITES,
    route_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(clock, team_a, lead):
    """Team A with a record in every state, a post-mortem, an article and notices."""
    team_a.everything(clock)
    for state in State:
        team_a.incident(state)
    assert Delivery.objects.filter(user=lead, channel="inapp", read_at__isnull=True).exists()
    return team_a


# (name, who — a fixture name or None for nobody signed in —, path)
PAGES = [
    ("login", None, lambda t: "/accounts/login/"),
    ("intake", "onduty", lambda t: "/incidents/new/"),
    ("dashboard", "lead", lambda t: "/dashboard/"),
    *[
        (
            f"workspace-{state}",
            "admin",
            lambda t, state=state: f"/incidents/{t.incident(state).pk}/",
        )
        for state in State
    ],
    (
        "workspace-paused",
        "admin",
        lambda t: f"/incidents/{paused(t.incident(State.ACKNOWLEDGED), by=t.lead).pk}/",
    ),
    ("postmortem", "lead", lambda t: f"/incidents/{t.postmortem.incident_id}/postmortem/"),
    ("article-edit", "lead", lambda t: f"/knowledge/articles/{t.article.pk}/edit/"),
    ("article-new", "lead", lambda t: f"/knowledge/articles/new/{t.archived.pk}/"),
    ("notifications", "lead", lambda t: "/notifications/"),
    ("profile", "lead", lambda t: "/accounts/profile/"),
    ("api-token", "lead", lambda t: "/accounts/token/"),
    ("password", "lead", lambda t: "/accounts/password/"),
    ("oncall-team", "lead", lambda t: (t.feed, f"/oncall/{t.team.slug}/")[1]),
    ("oncall-override-form", "lead", lambda t: f"/oncall/{t.team.slug}/overrides/"),
    ("oncall-rotation-new", "lead", lambda t: f"/oncall/{t.team.slug}/rotations/new/"),
    ("oncall-rotation", "lead", lambda t: f"/oncall/{t.team.slug}/rotations/{t.rotation.pk}/"),
    ("maintenance-window", "lead", lambda t: f"/maintenance/{t.window.pk}/"),
    ("maintenance-new", "lead", lambda t: "/maintenance/new/"),
    ("maintenance-edit", "lead", lambda t: f"/maintenance/{t.window.pk}/edit/"),
]


def signed_in(request, who, *, enforce=True) -> Client:
    client = Client(enforce_csrf_checks=enforce)
    if who:
        client.force_login(request.getfixturevalue(who))
    return client


def post_forms(client, path: str) -> list[dict]:
    """The page's POST forms, with those of the workspace's action boxes, which
    the browser fetches when a box opens (data-form)."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    body = response.content.decode()
    forms = Page(body).post_forms()
    for url in re.findall(r'data-form="([^"]+)"', body):
        box = client.get(html.unescape(url))
        assert box.status_code == 200, (url, box.status_code)
        forms += Page(box.content.decode()).post_forms()
    return forms


def fields_of(form: dict, *, token: bool) -> dict:
    data = {}
    for tag, attrs in form["inputs"]:
        name = attrs.get("name")
        if not name or (name == "csrfmiddlewaretoken" and not token):
            continue
        if tag == "input" and attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
            continue
        data.setdefault(name, attrs.get("value", ""))
    return data


def target_of(form: dict, page_path: str) -> str:
    return urlsplit(form["attrs"].get("action") or page_path).path


@pytest.mark.parametrize(("name", "who", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_it_puts_the_token_in_every_post_form(request, records, name, who, path):
    client = signed_in(request, who)

    forms = post_forms(client, path(records))

    assert forms, "the page has no POST form"
    missing = [
        f["attrs"].get("id") or target_of(f, path(records))
        for f in forms
        if not fields_of(f, token=True).get("csrfmiddlewaretoken")
    ]
    assert missing == []


@pytest.mark.parametrize(("name", "who", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_it_refuses_each_form_posted_without_its_token(request, records, name, who, path):
    page = path(records)
    forms = post_forms(signed_in(request, who), page)

    for index in range(len(forms)):
        client = signed_in(request, who)
        form = post_forms(client, page)[index]  # and the CSRF cookie, as a browser holds it
        before = db_state()
        refused = client.post(target_of(form, page), fields_of(form, token=False))
        assert refused.status_code == 403, (index, target_of(form, page))
        assert state_changes(before, db_state()) == []

        # The control: the same form with its token passes the check (undone
        # afterwards, so the next form is still on the page).
        with transaction.atomic():
            accepted = client.post(target_of(form, page), fields_of(form, token=True))
            transaction.set_rollback(True)
        assert accepted.status_code != 403, (index, target_of(form, page))


# URLs the tables POST to that no page has a form for, and why.
NO_FORM = {
    "": "home redirects whatever the method",
    "notifications/": "the inbox: a POST is read like a GET",
    "knowledge/similar/": "the intake form's lookup: htmx POSTs the title and symptoms "
    "with the form's token (tests/knowledge/test_similar.py checks it is required)",
    "maintenance/preview/": "the window form's live preview: static/js/maintenance.js POSTs "
    "the form's fields, its token included (the no-script preview is the form's own button)",
}


def test_it_renders_a_form_for_every_url_that_takes_a_post(request, records):
    """So the two tests above see every form: each HTML URL the cross-team
    tables POST to (each workspace action too) is some page's form action."""
    found = set()
    for _name, who, path in PAGES:
        page = path(records)
        for form in post_forms(signed_in(request, who, enforce=False), page):
            match = resolve(target_of(form, page))
            found.add((match.route, match.kwargs.get("action")))
    posted = {
        (route_of(item.path), None)
        for item in [*TARGETS, *LISTINGS]
        if not item.api and "POST" in item.methods and not item.name.startswith("act-")
    }
    posted |= {(route_of("/incidents/1/log/"), action.value) for action in views.ACTIONS}

    assert sorted(posted - found - {(route, None) for route in NO_FORM}, key=str) == []


def _writes():
    """(name, table row, method) of every write the cross-team tables send."""
    rows = []
    for item in [*TARGETS, *LISTINGS]:
        for method in item.methods:
            if method in WRITES:
                rows.append((f"{item.name}-{method}", item, method))
    return rows


WRITE_ROWS = _writes()


@pytest.mark.parametrize(("name", "item", "method"), WRITE_ROWS, ids=[r[0] for r in WRITE_ROWS])
def test_it_refuses_every_write_without_a_token(request, team_a, admin, name, item, method):
    if hasattr(item, "record"):
        record = item.record(team_a)
        path = item.path.format(pk=record.pk)
        data = item.data(team_a, record) if item.data else {}
    else:
        path = item.path
        data = item.data(request.getfixturevalue("records")) if callable(item.data) else item.data
    if item.api:
        body, content_type = json.dumps(data or {}), "application/json"
    else:
        body, content_type = urlencode(data or {}, doseq=True), "application/x-www-form-urlencoded"
    client = signed_in(request, "admin")  # may do everything
    client.get("/dashboard/")  # the CSRF cookie, as a browser holds it
    before = db_state()

    response = client.generic(method, path, body, content_type)

    assert response.status_code == 403
    assert state_changes(before, db_state()) == []
    # The control: with the token (as htmx and scripts send it) the check passes.
    with transaction.atomic():
        token = client.cookies["csrftoken"].value
        accepted = client.generic(method, path, body, content_type, headers={"X-CSRFToken": token})
        transaction.set_rollback(True)
    assert accepted.status_code != 403


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "succeeds"),
    COMPONENT_WRITES,
    ids=[w[0] for w in COMPONENT_WRITES],
)
def test_it_refuses_a_component_write_without_a_token(
    request, team_a, admin, name, method, path, body, succeeds
):
    """The status page components' writes (in their own table: components are
    public, so they are no cross-team target)."""
    path = path(team_a.component)
    client = signed_in(request, "admin")
    client.get("/dashboard/")  # the CSRF cookie
    before = db_state()

    refused = client.generic(method, path, json.dumps(body or {}), "application/json")

    assert refused.status_code == 403
    assert state_changes(before, db_state()) == []
    token = client.cookies["csrftoken"].value
    accepted = client.generic(
        method, path, json.dumps(body or {}), "application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == succeeds


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/logout/"])
def test_it_refuses_signing_in_or_out_without_a_token(request, lead, path):
    client = signed_in(request, None if "login" in path else "lead")

    response = client.post(path, {"username": "lead", "password": "responder-test"})

    assert response.status_code == 403
    if "logout" in path:
        assert client.get("/dashboard/").status_code == 200  # still signed in


def test_it_needs_no_token_with_an_api_token(team_a, lead, token_client):
    """Authorization: Token sends no cookie, so there is nothing to forge."""
    incident = team_a.incident(State.NEW)
    client = token_client(lead)
    client.handler.enforce_csrf_checks = True

    response = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/", {}, format="json")

    assert response.status_code == 200
