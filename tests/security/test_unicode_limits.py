"""Hostile and unusual text: 400 with a reason, never 500; any script round-trips.

The text fields are read from the API serializers and the web forms
themselves, so a new field is tested without being listed here:

- API (intake, PATCH, every action, alert intake, roster rotations and
  overrides): over its max_length, a NUL character (PostgreSQL refuses NUL in
  text), a lone surrogate (JSON allows "\\ud800"; no database stores it) → 400
  naming the field, nothing written.
  Emoji, CJK, right-to-left text with direction marks, combining accents,
  and exactly max_length characters outside the BMP are stored as sent.
- Web forms: every text field has a max_length; over it, or with NUL → 400
  with the field's message, nothing written; form limits never exceed the
  API's for the same field; bytes that are not UTF-8 arrive as U+FFFD.
- Every query parameter of the list pages and list endpoints, given NUL,
  broken UTF-8 or 5,000 characters, answers below 500.

Run on PostgreSQL too (DATABASE_URL): NUL only fails there.
"""

import inspect
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django import forms as django_forms
from django.apps import apps
from django.utils import timezone
from django.utils.html import escape
from rest_framework import serializers

from escalation.roster.api import OverrideSerializer, RotationSerializer
from escalation.status import forms as status_forms
from escalation.status.api import (
    ComponentSerializer,
    PublicUpdateRequestSerializer,
    PublishSerializer,
)
from escalation.status.views import feedback as feedback_views
from escalation.status.views import subscribe as subscribe_views
from incidents import alerts, views
from incidents import forms as incident_forms
from incidents.api import serializers as s
from incidents.api.alerts import AlertmanagerPayload, GenericAlert
from incidents.api.maintenance import WindowSerializer
from incidents.api.views import IncidentFilter
from incidents.maintenance import forms as maintenance_forms
from incidents.models import LogEntry, State
from incidents.workflow import Action
from knowledge import forms as knowledge_forms
from knowledge.forms import MetricsFilter
from tests.factories import STATE_FOR_ACTION, ready_for
from tests.security.helpers import db_state, state_changes
from tests.security.test_cross_team import (
    Slug,
    action_item_data,
    api_data,
    api_override_data,
    api_rotation_data,
    article_data,
    edit_data,
    form_data,
    postmortem_data,
    window_form_data,
)

pytestmark = pytest.mark.django_db

# Emoji (with a ZWJ sequence), CJK (and a CJK Extension B character outside the
# BMP), Hebrew with a right-to-left override, a combining accent.
WORLD_TEXT = "🔥数据库连接池耗尽 עברית \u202eRTL\u202c e\u0301 👩\u200d💻 𠀀"


# ---------------------------------------------------------------- the API


@dataclass(frozen=True)
class Endpoint:
    name: str
    serializer: type
    method: str
    path: str  # {pk}: an incident in `state`; {token}: the team's alert token
    body: object  # (records) → a valid body
    user: str = "lead"
    state: str | None = None
    record: object = None  # (records) → the incident, where `state` is not enough


def _intake_body(records):
    return {
        "title": "Checkout down",
        "symptoms": "502",
        "severity": "P2",
        "source": "api",
        "impact_scope": "checkout",
    }


def _generic_alert(records):
    return {"title": "Checkout 5xx", "dedup_key": "checkout-5xx"}


def _alertmanager(records):
    return {
        "version": "4",
        "groupKey": "{}:checkout",
        "alerts": [{"status": "firing", "labels": {"alertname": "Checkout5xx"}}],
    }


API_SERIALIZERS = {
    Action.ACKNOWLEDGE: s.AcknowledgeSerializer,
    Action.GRADE: s.GradeSerializer,
    Action.ASSIGN: s.AssignSerializer,
    Action.LOG: s.LogSerializer,
    Action.RESOLVE: s.ResolveSerializer,
    Action.VERIFY: s.VerifySerializer,
    Action.NOTIFY_USERS: s.NotifyUsersSerializer,
    Action.FEEDBACK: s.FeedbackSerializer,
    Action.ARCHIVE: s.ArchiveSerializer,
    Action.REOPEN: s.ReasonSerializer,
    Action.CANCEL: s.ReasonSerializer,
    Action.PAUSE: s.PauseSerializer,
    Action.RESUME: s.ResumeSerializer,
}


def _window(records):
    now = timezone.now()
    return {
        "title": "DB upgrade",
        "team": "platform",
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "matchers": [{"name": "job", "value": "mysql"}],
    }


ENDPOINTS = [
    Endpoint("intake", s.IncidentCreateSerializer, "post", "/api/v1/incidents/", _intake_body),
    Endpoint(
        "patch",
        s.IncidentUpdateSerializer,
        "patch",
        "/api/v1/incidents/{pk}/",
        lambda records: {},
        state=State.ACKNOWLEDGED,
    ),
    *[
        Endpoint(
            action.value,
            serializer,
            "post",
            f"/api/v1/incidents/{{pk}}/{action.value}/",
            lambda records, action=action: {
                **api_data(action, records.owner),
                **({"external_contacts": [{"name": "Vendor"}]} if action == Action.ASSIGN else {}),
            },
            state=STATE_FOR_ACTION[action],
        )
        for action, serializer in API_SERIALIZERS.items()
    ],
    Endpoint("alert-generic", GenericAlert, "post", "/api/v1/alerts/{token}/", _generic_alert),
    Endpoint(
        "alert-alertmanager",
        AlertmanagerPayload,
        "post",
        "/api/v1/alerts/{token}/",
        _alertmanager,
    ),
    Endpoint(
        "rotation",
        RotationSerializer,
        "post",
        "/api/v1/teams/platform/rotations/",
        lambda records: api_rotation_data(records, None),
    ),
    Endpoint(
        "override",
        OverrideSerializer,
        "post",
        "/api/v1/teams/platform/overrides/",
        lambda records: api_override_data(records, None),
    ),
    Endpoint("maintenance", WindowSerializer, "post", "/api/v1/maintenance/", _window),
    Endpoint(
        "publish",
        PublishSerializer,
        "post",
        "/api/v1/incidents/{pk}/publish/",
        lambda records: {
            "components": [records.component.slug],
            "impact": "degraded",
            "public_title": "Checkout is slow",
            "message": "Some payments take longer than usual.",
        },
        # the component made with the incident, before anything is compared
        record=lambda records: (
            records.component,
            records.incident(STATE_FOR_ACTION[Action.PUBLISH]),
        )[1],
    ),
    Endpoint(
        "public-updates",
        PublicUpdateRequestSerializer,
        "post",
        "/api/v1/incidents/{pk}/public-updates/",
        lambda records: {"status": "identified", "message": "Found it."},
        record=lambda records: records.published,
    ),
    Endpoint(
        "component",
        ComponentSerializer,
        "post",
        "/api/v1/status/components/",
        lambda records: {"slug": "checkout", "name": "Checkout", "team": "platform"},
    ),
]


def text_fields(serializer, prefix=()):
    """(path in the body, field) of every text field, nested ones included;
    for an object of labels, the path names a label "k"."""
    for name, field in serializer.fields.items():
        if field.read_only:
            continue  # answered, never read
        here = (*prefix, name)
        if isinstance(field, serializers.ListSerializer | serializers.ListField):
            if isinstance(field.child, serializers.Serializer):
                yield from text_fields(field.child, (*here, 0))
        elif isinstance(field, serializers.Serializer):
            yield from text_fields(field, here)
        elif isinstance(field, serializers.DictField):
            yield (*here, "k"), field.child
        elif isinstance(field, serializers.CharField):
            yield here, field


def put(body, path, value):
    """`body` with `value` at `path` (lists and objects made as needed)."""
    node = body
    for key, following in zip(path, path[1:], strict=False):
        if isinstance(node, list):
            while len(node) <= key:
                node.append({})
        if isinstance(node, dict) and key not in node:
            node[key] = [] if isinstance(following, int) else {}
        node = node[key]
    node[path[-1]] = value
    return body


CASES = [
    (endpoint, path, field)
    for endpoint in ENDPOINTS
    for path, field in text_fields(endpoint.serializer())
]


def test_it_limits_every_api_text_field():
    unlimited = [case_id(c) for c in CASES if not c[2].max_length]
    assert unlimited == []


def case_id(case) -> str:
    endpoint, path, _field = case
    return f"{endpoint.name}:{'.'.join(map(str, path))}"


@pytest.fixture
def api(request, client, team_a, platform):
    """`api(endpoint)` makes what the endpoint needs and signs its user in; it
    returns `send(change, raw=None)`: the response to the endpoint's valid body
    changed by `change(body)`, as JSON text made by `raw` (so "\\ud800" can
    stay a lone surrogate)."""
    _integration, token = alerts.integration_create(name="prometheus", team=platform)

    def prepare(endpoint: Endpoint):
        if endpoint.record:
            pk = endpoint.record(team_a).pk
        else:
            pk = team_a.incident(endpoint.state).pk if endpoint.state else 0
        path = endpoint.path.format(pk=pk, token=token)
        client.force_login(request.getfixturevalue(endpoint.user))

        def send(change, *, raw=json.dumps):
            body = raw(change(endpoint.body(team_a)))
            return getattr(client, endpoint.method)(path, body, content_type="application/json")

        return send

    return prepare


def written_since(before) -> list[str]:
    # Alert intake counts every request against the integration's rate, valid or not.
    return [m for m in state_changes(before, db_state()) if m != "incidents.AlertRateWindow"]


def error_text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


@pytest.mark.parametrize("case", [c for c in CASES if c[2].max_length], ids=case_id)
def test_it_refuses_an_api_text_over_its_length(api, case):
    endpoint, path, field = case
    send = api(endpoint)
    before = db_state()

    response = send(lambda body: put(body, path, "x" * (field.max_length + 1)))

    assert response.status_code == 400
    assert f"no more than {field.max_length} characters" in error_text(response)
    assert f'"{path[-1]}"' in error_text(response)
    assert written_since(before) == []


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_it_refuses_a_nul_character_in_api_text(api, case):
    endpoint, path, _field = case
    send = api(endpoint)
    before = db_state()

    response = send(lambda body: put(body, path, "before\x00after"))

    assert response.status_code == 400
    assert "Null characters are not allowed." in error_text(response)
    assert written_since(before) == []


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_it_refuses_a_lone_surrogate_in_api_text(api, case):
    endpoint, path, _field = case
    send = api(endpoint)
    before = db_state()

    response = send(
        lambda body: put(body, path, "SURROGATE"),
        raw=lambda body: json.dumps(body).replace("SURROGATE", "before\\ud800after"),
    )

    assert response.status_code == 400
    assert "Surrogate characters are not allowed" in error_text(response)
    assert written_since(before) == []


# Text fields the API accepts but does not keep as sent, and why.
NOT_KEPT = {
    "intake:team": "names a team by slug",
    "intake:service": "names a service by slug",
    "patch:service": "names a service by slug",
    "alert-generic:severity": "mapped to a level",
    "alert-alertmanager:receiver": "Alertmanager's own routing",
    "alert-alertmanager:externalURL": "Alertmanager's own address",
    "alert-alertmanager:alerts.0.generatorURL": "a link back to Prometheus, not kept",
    "alert-alertmanager:groupLabels.k": "Alertmanager's grouping",
    "alert-alertmanager:commonLabels.k": "repeats the alerts' labels",
    "alert-alertmanager:commonAnnotations.k": "repeats the alerts' annotations",
    "rotation:weekdays": "digits 0 (Monday) to 6 only",
    "maintenance:team": "names a team by slug",
    "maintenance:recurrence": "an RRULE (validated)",
    "maintenance:matchers.0.name": "a label name: letters, digits and _ only",
    "component:slug": "a slug: letters, digits, - and _ only",
    "component:team": "names a team by slug",
}


def stored_somewhere(value: str) -> bool:
    """Is `value` kept, exactly, inside some stored text of the project's models?"""
    for model in apps.get_models():
        if model._meta.app_label not in ("incidents", "knowledge", "escalation"):
            continue
        for f in model._meta.concrete_fields:
            if f.get_internal_type() not in ("CharField", "TextField", "JSONField"):
                continue
            for stored in model.objects.values_list(f.name, flat=True):
                text = stored if isinstance(stored, str) else json.dumps(stored, ensure_ascii=False)
                if value in text:
                    return True
    return False


def at_limit(max_length: int | None) -> str:
    """WORLD_TEXT repeated to exactly max_length characters (or once), ending in
    a character outside the BMP."""
    if not max_length:
        return WORLD_TEXT
    return (WORLD_TEXT * (max_length // len(WORLD_TEXT) + 1))[: max_length - 1] + "𠀀"


@pytest.mark.parametrize("case", [c for c in CASES if case_id(c) not in NOT_KEPT], ids=case_id)
def test_it_keeps_any_script_exactly_up_to_the_limit(api, case):
    endpoint, path, field = case
    value = at_limit(field.max_length)

    response = api(endpoint)(lambda body: put(body, path, value))

    assert response.status_code in (200, 201), response.content[:500]
    assert stored_somewhere(value)


def test_it_keeps_the_not_kept_list_true():
    assert set(NOT_KEPT) <= {case_id(c) for c in CASES}


def test_it_returns_world_text_unchanged(client, onduty):
    client.force_login(onduty)
    body = {**_intake_body(None), "title": WORLD_TEXT, "symptoms": WORLD_TEXT * 3}

    created = client.post("/api/v1/incidents/", json.dumps(body), content_type="application/json")
    shown = client.get(f"/api/v1/incidents/{created.json()['id']}/").json()
    page = client.get(f"/incidents/{created.json()['id']}/").content.decode()

    assert (shown["title"], shown["symptoms"]) == (WORLD_TEXT, WORLD_TEXT * 3)
    assert escape(WORLD_TEXT) in page


# ---------------------------------------------------------------- web forms


def form_classes() -> list[type]:
    found = []
    for module in (
        incident_forms,
        knowledge_forms,
        maintenance_forms,
        status_forms,
        subscribe_views,  # the public page's forms, kept beside their views
        feedback_views,
    ):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, django_forms.BaseForm) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def test_it_limits_every_text_field_of_every_form():
    unlimited = [
        f"{cls.__name__}.{name}"
        for cls in form_classes()
        for name, field in cls.base_fields.items()
        if isinstance(field, django_forms.CharField) and not field.max_length
    ]
    assert unlimited == []


@dataclass(frozen=True)
class WebForm:
    form: type
    user: str
    path: str  # {pk}: the record's id
    record: object  # (records) → the record, or None
    data: object  # (records, record) → valid data
    prefix: str = ""


def _act_form(action: Action) -> WebForm:
    return WebForm(
        views.ACTIONS[action][0],
        "lead",
        f"/incidents/{{pk}}/{action.value}/",
        lambda records: ready_for(action, records.incident(STATE_FOR_ACTION[action])),
        lambda records, incident: form_data(action, incident, records.owner),
    )


def _intake_data(records, _record):
    return {
        "title": "Checkout down",
        "symptoms": "502",
        "severity": "P2",
        "impact_scope": "checkout",
        "affected_users": 0,
        "source": "phone",
        "category": "production",
        "team": records.team.pk,
        "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }


WEB_FORMS = [
    WebForm(incident_forms.IntakeForm, "onduty", "/incidents/new/", lambda r: None, _intake_data),
    WebForm(
        incident_forms.EditForm,
        "lead",
        "/incidents/{pk}/edit/",
        lambda records: records.incident(State.ACKNOWLEDGED),
        edit_data,
    ),
    *[_act_form(action) for action in views.ACTIONS],
    WebForm(
        knowledge_forms.PostMortemForm,
        "lead",
        "/incidents/{pk}/postmortem/",
        lambda records: records.postmortem.incident,
        postmortem_data,
    ),
    WebForm(
        knowledge_forms.ActionItemForm,
        "lead",
        "/incidents/{pk}/postmortem/actions/",
        lambda records: records.postmortem.incident,
        action_item_data,
        prefix="action-",
    ),
    WebForm(
        knowledge_forms.ArticleForm,
        "lead",
        "/knowledge/articles/{pk}/edit/",
        lambda records: records.article,
        article_data,
    ),
    WebForm(
        maintenance_forms.WindowForm,
        "lead",
        "/maintenance/new/",
        lambda records: None,
        lambda records, record: window_form_data(records, record),
    ),
    WebForm(
        status_forms.PublicUpdateForm,
        "lead",
        "/incidents/{pk}/publish/",
        lambda records: records.published,
        lambda records, incident: {
            "last_update": incident.publication.updates.latest("posted_at", "id").pk,
            "status": "identified",
            "message": "Found it.",
        },
    ),
    WebForm(
        subscribe_views.SubscribeForm,
        "lead",  # public: whoever is signed in or not
        "/status/subscribe/",
        lambda records: None,
        lambda records, record: {"email": "someone@example.com"},
    ),
    WebForm(
        feedback_views.FeedbackForm,
        "lead",  # public: the link's token is the key
        "/status/feedback/{pk}/",
        lambda records: Slug(records.feedback_link.token),
        lambda records, record: {"rating": 4, "comment": "Works again."},
    ),
    WebForm(
        incident_forms.ProfileForm,
        "lead",
        "/accounts/profile/",
        lambda records: None,
        lambda records, record: {"language": "en"},
    ),
]
# The filter forms are read from the query string: see the last section.
GET_FORMS = {
    incident_forms.DashboardFilter,
    incident_forms.ArchiveFilter,
    knowledge_forms.SearchForm,
    MetricsFilter,
}


def test_it_posts_every_form():
    bases = {incident_forms.IncidentForm, status_forms.StatusPageForm}  # not posted themselves
    posted = {w.form for w in WEB_FORMS} | GET_FORMS | bases
    assert set(form_classes()) - posted == set()


FORM_CASES = [
    (web, name, field)
    for web in WEB_FORMS
    for name, field in web.form.base_fields.items()
    if isinstance(field, django_forms.CharField)
]


def form_case_id(case) -> str:
    web, name, _field = case
    return f"{web.form.__name__}.{name}"


@pytest.fixture
def form_poster(client, request, team_a):
    """`form_poster(web)` makes the form's record and signs its user in; it
    returns `post(name, value)`: the form's valid data with `name` = `value`."""

    def prepare(web: WebForm):
        record = web.record(team_a)
        path = web.path.format(pk=record.pk if record else 0)
        data = web.data(team_a, record)
        client.force_login(request.getfixturevalue(web.user))
        client.get(path)  # as a browser opens the form first (the profile page makes the profile)
        return lambda name, value: client.post(path, {**data, f"{web.prefix}{name}": value})

    return prepare


@pytest.mark.parametrize("case", FORM_CASES, ids=form_case_id)
def test_it_refuses_a_form_text_over_its_length(form_poster, case):
    web, name, field = case
    post = form_poster(web)
    before = db_state()

    response = post(name, "x" * (field.max_length + 1))

    assert response.status_code == 400
    body = response.content.decode()
    own = field.error_messages.get("max_length")  # the form's own words for it, if any
    limit = {"limit_value": field.max_length, "show_value": field.max_length + 1}
    assert (
        escape(f"at most {field.max_length} characters") in body
        or (own is not None and escape(own % limit) in body)
        or "Select a valid choice" in body  # a choice list in the form's __init__
    )
    assert written_since(before) == []


@pytest.mark.parametrize("case", FORM_CASES, ids=form_case_id)
def test_it_refuses_a_nul_character_in_a_form(form_poster, case):
    web, name, _field = case
    post = form_poster(web)
    before = db_state()

    response = post(name, "before\x00after")

    assert response.status_code == 400
    body = response.content.decode()
    assert "Null characters are not allowed." in body or "Select a valid choice" in body
    assert written_since(before) == []


def test_it_stores_broken_utf8_from_a_form_as_replacement_characters(client, team_a, lead):
    incident = team_a.incident(State.IN_PROGRESS)
    client.force_login(lead)

    response = client.post(
        f"/incidents/{incident.pk}/log/",
        f"version={incident.version}&kind=progress&text=a%ED%A0%80b%FF",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 302
    text = LogEntry.objects.filter(incident=incident).latest("id").text
    assert text.startswith("a")
    assert text.endswith("\ufffd")
    assert not any("\ud800" <= ch <= "\udfff" for ch in text)


# Form field ↔ API field where the names differ.
API_NAMES = {
    "contact_name": "name",
    "contact_organisation": "organisation",
    "contact_details": "contact",
    "contact_owes": "owes",
}


def _api_limits(serializer) -> dict[str, int]:
    return {path[-1]: f.max_length for path, f in text_fields(serializer()) if f.max_length}


def test_it_never_lets_a_form_take_more_than_the_api():
    pairs = [
        (incident_forms.IntakeForm, s.IncidentCreateSerializer),
        (incident_forms.EditForm, s.IncidentUpdateSerializer),
        *[(views.ACTIONS[a][0], serializer) for a, serializer in API_SERIALIZERS.items()],
        (maintenance_forms.WindowForm, WindowSerializer),
        (status_forms.PublishForm, PublishSerializer),
        (status_forms.PublicUpdateForm, PublicUpdateRequestSerializer),
    ]
    compared, wider = 0, []
    for form, serializer in pairs:
        limits = _api_limits(serializer)
        for name, field in form.base_fields.items():
            api_name = API_NAMES.get(name, name)
            if isinstance(field, django_forms.CharField) and api_name in limits:
                compared += 1
                if field.max_length > limits[api_name]:
                    wider.append(f"{form.__name__}.{name}")
    assert wider == []
    assert compared > 20


# ---------------------------------------------------------------- query strings


def _params_of(form) -> list[str]:
    return list(form.base_fields)


QUERY_PARAMS = [
    ("/dashboard/", [*_params_of(incident_forms.DashboardFilter), "fragment"]),
    ("/archive/", [*_params_of(incident_forms.ArchiveFilter), "page"]),
    ("/archive/export.csv", _params_of(incident_forms.ArchiveFilter)),
    ("/archive/export.xlsx", _params_of(incident_forms.ArchiveFilter)),
    ("/knowledge/", [*_params_of(knowledge_forms.SearchForm), "page"]),
    ("/knowledge/similar/", ["title", "symptoms"]),
    ("/metrics/", _params_of(MetricsFilter)),
    ("/api/v1/incidents/", [*IncidentFilter.base_filters, "ordering", "page", "page_size"]),
    ("/api/v1/knowledge/", ["q", "kind", "page", "page_size"]),
    ("/api/v1/metrics/", ["start", "end", "team"]),
    ("/api/v1/maintenance/", ["team", "active", "page", "page_size"]),
]
QUERY_CASES = [(path, param) for path, params in QUERY_PARAMS for param in params]
HOSTILE = {
    "nul": "a%00b",
    "broken-utf8": "a%ED%A0%80b%FF",
    "long": "x" * 5000,
    "world": WORLD_TEXT.replace(" ", "+"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize(("path", "param"), QUERY_CASES, ids=[f"{p}?{q}" for p, q in QUERY_CASES])
def test_it_answers_hostile_query_strings_below_500(client, team_a, manager, path, param, kind):
    team_a.archived  # noqa: B018 (something to search)
    client.force_login(manager)  # sees every list
    extra = "&q=pool" if path == "/api/v1/knowledge/" and param != "q" else ""

    response = client.get(f"{path}?{param}={HOSTILE[kind]}{extra}")

    assert response.status_code < 500


@pytest.mark.parametrize("value", ["abc", "1\x00"])
def test_it_refuses_a_delivery_that_is_not_a_number(client, lead, value):
    client.force_login(lead)

    response = client.post("/notifications/read/", {"delivery": value})

    assert response.status_code == 400
