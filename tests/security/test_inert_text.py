"""Script in any text stays text: on every page, in exports, emails and robots.

One team's every user-written text field holds a payload (tests/security/
payloads.py), written through the API, the web forms and alert intake. Every
page that shows them is rendered: none may carry the payload's markup (an
event handler, a script calling alert, <img src=x>, a javascript: URL), and
each field's payload must show up escaped on some page — a field no page
shows is listed in NOT_SHOWN with where it is used instead. Which fields count
as user-written is read from the models, so a new text field without a
payload here fails.

Markdown: nothing renders Markdown, and the only mark_safe is the metrics
charts' SVG (knowledge/charts.py), which escapes every interpolated text.
"""

import csv
import io
import json
from datetime import date, timedelta
from unittest import mock
from urllib.parse import quote

import openpyxl
import pytest
import time_machine
from django.apps import apps
from django.core import mail
from django.db import models, transaction
from django.utils.html import escape

from escalation import channels
from escalation.models import Clock, Notice
from incidents import services
from incidents.models import Incident, LogEntry, Severity, State
from knowledge import exports
from knowledge import services as knowledge
from tests.conftest import NOW
from tests.factories import make_user, resolved_incident
from tests.security.helpers import injected_markup
from tests.security.payloads import RAW, build, payload, shown_form

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module, inside a transaction rolled back at its end;
    each test runs in a savepoint of it."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with time_machine.travel(NOW, tick=False):
                built = build()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


# ---------------------------------------------------------------- pages


def _reflected(text: str) -> str:
    return quote(text, safe="")


# (name, who looks, path, extra request arguments)
PAGES = [
    ("dashboard", "lead", lambda w: "/dashboard/", {}),
    ("dashboard-rows", "lead", lambda w: "/dashboard/?fragment=rows", {"HTTP_HX_REQUEST": "true"}),
    ("my-work", "owner", lambda w: "/my/", {}),
    ("archive", "lead", lambda w: "/archive/", {}),
    ("intake", "lead", lambda w: "/incidents/new/", {}),
    ("workspace-archived", "lead", lambda w: f"/incidents/{w.main.pk}/", {}),
    ("workspace-cancelled", "lead", lambda w: f"/incidents/{w.filed_by_form.pk}/", {}),
    ("workspace-reopened", "lead", lambda w: f"/incidents/{w.reopened.pk}/", {}),
    ("workspace-from-alert", "lead", lambda w: f"/incidents/{w.from_alert.pk}/", {}),
    ("print-archived", "lead", lambda w: f"/incidents/{w.main.pk}/print/", {}),
    ("print-from-alert", "lead", lambda w: f"/incidents/{w.from_alert.pk}/print/", {}),
    ("workspace-from-alertmanager", "lead", lambda w: f"/incidents/{w.from_alertmanager.pk}/", {}),
    ("postmortem-editor", "lead", lambda w: f"/incidents/{w.main.pk}/postmortem/", {}),
    ("postmortem-read", "tester", lambda w: f"/incidents/{w.main.pk}/postmortem/", {}),
    ("article", "lead", lambda w: f"/knowledge/articles/{w.article.pk}/", {}),
    ("article-edit", "lead", lambda w: f"/knowledge/articles/{w.article.pk}/edit/", {}),
    ("article-new", "lead", lambda w: f"/knowledge/articles/new/{w.main.pk}/", {}),
    ("knowledge", "lead", lambda w: "/knowledge/", {}),
    ("knowledge-search", "lead", lambda w: "/knowledge/?q=alert", {}),
    ("knowledge-similar", "lead", lambda w: "/knowledge/similar/?title=alert+script", {}),
    ("incident-similar", "lead", lambda w: f"/incidents/{w.from_alert.pk}/similar/", {}),
    ("metrics", "lead", lambda w: "/metrics/", {}),
    ("notifications", "lead", lambda w: "/notifications/", {}),
    ("notifications-handover", "owner", lambda w: "/notifications/", {}),
    ("oncall", "lead", lambda w: "/oncall/", {}),
    ("oncall-team", "lead", lambda w: f"/oncall/{w.team.slug}/", {}),
    ("maintenance", "lead", lambda w: "/maintenance/", {}),
    (
        "maintenance-window",
        "lead",
        lambda w: f"/maintenance/{w.team.maintenance_windows.get().pk}/",
        {},
    ),
    (
        "maintenance-edit",
        "lead",
        lambda w: f"/maintenance/{w.team.maintenance_windows.get().pk}/edit/",
        {},
    ),
    ("api-maintenance", "lead", lambda w: "/api/v1/maintenance/?format=api", {}),
    (
        "oncall-rotation",
        "lead",
        lambda w: f"/oncall/{w.team.slug}/rotations/{w.team.rotations.get().pk}/",
        {},
    ),
    ("profile", "lead", lambda w: "/accounts/profile/", {}),
    # The status page: the public's pages (nobody signed in), the components API,
    # what only the admin sees.
    ("status-page", None, lambda w: "/status/", {}),
    ("status-page-en", None, lambda w: "/status/?lang=en", {}),
    ("status-subscribe", None, lambda w: "/status/subscribe/", {}),
    ("status-feedback", None, lambda w: f"/status/feedback/{w.feedback_token}/", {}),
    ("api-components", "lead", lambda w: "/api/v1/status/components/?format=api", {}),
    ("admin-components", "admin", lambda w: "/admin/escalation/component/", {}),
    ("admin-publications", "admin", lambda w: "/admin/escalation/publication/", {}),
    ("admin-subscribers", "admin", lambda w: "/admin/escalation/subscriber/", {}),
    ("admin-status-messages", "admin", lambda w: "/admin/escalation/statusmessage/", {}),
    ("api-detail", "lead", lambda w: f"/api/v1/incidents/{w.main.pk}/?format=api", {}),
    ("api-timeline", "lead", lambda w: f"/api/v1/incidents/{w.main.pk}/timeline/?format=api", {}),
    (
        "api-notices",
        "lead",
        lambda w: f"/api/v1/incidents/{w.from_alert.pk}/notices/?format=api",
        {},
    ),
    ("api-list", "lead", lambda w: "/api/v1/incidents/?format=api", {}),
    ("api-knowledge", "lead", lambda w: "/api/v1/knowledge/?q=alert&format=api", {}),
    ("api-metrics", "lead", lambda w: "/api/v1/metrics/?format=api", {}),
    # What the user typed, shown back to them.
    ("reflected-dashboard", "lead", lambda w: f"/dashboard/?owner={_reflected(payload('R1'))}", {}),
    ("reflected-archive", "lead", lambda w: f"/archive/?q={_reflected(payload('R2'))}", {}),
    ("reflected-knowledge", "lead", lambda w: f"/knowledge/?q={_reflected(payload('R3'))}", {}),
    ("reflected-metrics", "lead", lambda w: f"/metrics/?team={_reflected(payload('R4'))}", {}),
    (
        "reflected-api-list",
        "lead",
        lambda w: f"/api/v1/incidents/?format=api&state={_reflected(payload('R5'))}",
        {},
    ),
]


def render(client, world, who: str | None, path: str, extra: dict) -> str:
    """The page as `who` sees it (None: the public, signed out)."""
    if who is None:
        client.logout()
    else:
        client.force_login(getattr(world, who))
    response = client.get(path, **extra)
    assert response.status_code in (200, 400), (path, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize(("name", "who", "path", "extra"), PAGES, ids=[p[0] for p in PAGES])
def test_it_shows_payloads_as_text(client, world, name, who, path, extra):
    body = render(client, world, who, path(world), extra)

    assert injected_markup(body) == []
    assert [raw for raw in RAW if raw in body] == []
    assert "&lt;script&gt;alert(" in body  # the page did show payloads, escaped


def test_it_shows_a_form_the_user_got_wrong_as_text(client, world):
    """A form refused with 400 shows back what was typed, escaped."""
    client.force_login(world.owner)
    incident = Incident.objects.get(pk=world.reopened.pk)
    typed = payload("R6", 1000)

    response = client.post(
        f"/incidents/{incident.pk}/log/",
        {"version": incident.version, "kind": "not-a-kind", "text": typed},
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert shown_form("R6") in body
    assert injected_markup(body) == []
    assert [raw for raw in RAW if raw in body] == []


@pytest.mark.parametrize("fmt", ["html", ""], ids=["preview-alone", "workspace"])
def test_it_previews_the_public_words_as_text(client, world, fmt):
    """The publish form's preview shows what was typed, as the public would see it."""
    client.force_login(world.lead)
    incident = world.from_alert
    component = incident.team.components.get()

    response = client.post(
        f"/incidents/{incident.pk}/publish/",
        {
            "preview": "1",
            "format": fmt,
            "last_update": 0,
            "components": [component.pk],
            "impact": "degraded",
            "public_title": payload("R7", 200),
            "message": payload("R8", 1000),
        },
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert shown_form("R7") in body
    assert shown_form("R8") in body
    assert injected_markup(body) == []
    assert [raw for raw in RAW if raw in body] == []


def test_it_leaves_template_syntax_alone(client, world):
    client.force_login(world.lead)
    body = client.get(f"/incidents/{world.main.pk}/").content.decode()

    assert "{{ 7*7 }}" in body  # never evaluated as a template


def _tag(world, label: str) -> str:
    return next(tag for tag, field_label in world.p.fields.items() if field_label == label)


@pytest.mark.parametrize("path", ["/status/feed.atom", "/status/feed.rss"])
def test_it_keeps_payloads_escaped_in_the_status_feeds(client, world, path):
    response = client.get(path)

    body = response.content.decode()
    assert response.status_code == 200
    assert "xml" in response["Content-Type"]
    assert [raw for raw in RAW if raw in body] == []
    # The title is text (escaped once, for XML); an update's message is the entry's
    # HTML summary, escaped for HTML and then for XML: a reader shows it as text.
    assert shown_form(_tag(world, "Publication.public_title")) in body
    assert escape(shown_form(_tag(world, "PublicUpdate.message"))) in body


def test_it_answers_the_status_json_with_payloads_as_data(client, world):
    response = client.get("/status/index.json")

    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    texts = strings_in(response.json())
    title = payload(_tag(world, "Publication.public_title"), 200)
    assert title in texts  # as the data it is, for the reader to escape


# ---------------------------------------------------------------- every field


# Text columns no user writes, and why.
NOT_USER_TEXT = {
    "auth.Permission.name": "defined by the code",
    "auth.Permission.codename": "defined by the code",
    "auth.Group.name": "the seeded roles",
    "auth.User.username": "letters, digits and @.+-_ only (Django's validator)",
    "auth.User.password": "a hash",
    "auth.User.email": "an address (EmailValidator refuses markup)",
    "incidents.Team.slug": "a slug",
    "incidents.Service.slug": "a slug",
    "incidents.UserProfile.time_zone": "chosen from the zoneinfo names",
    "incidents.Team.time_zone": "a zoneinfo name (validated)",
    "incidents.Incident.number": "made by the server",
    "incidents.TimelineEvent.from_state": "a state",
    "incidents.TimelineEvent.to_state": "a state",
    "incidents.AlertIntegration.token_hash": "made by the server",
    "incidents.AlertIntegration.token_hint": "made by the server",
    "incidents.AlertIntegration.signing_secret": "a secret, never shown",
    "incidents.AlertIntegration.severity_rules": "label rules, never shown",
    "incidents.SignatureSeen.signature": "an HMAC",
    "escalation.Heartbeat.name": "the beat's own names",
    "escalation.Delivery.channel": "a channel code",
    "escalation.Notice.recipients": "usernames and addresses",
    "escalation.TeamChannel.secret": "a secret, never shown",
    "escalation.Rotation.weekdays": "digits 0-6 (validated)",
    "escalation.Rotation.anchor_people": "user ids, written by the server",
    "escalation.CalendarFeed.token_hash": "made by the server",
    "escalation.CalendarFeed.nonce": "made by the server",
    "escalation.RosterEvent.data": "ids of the records changed",
    "escalation.RobotSlot.robot": "a hash of a robot's address, made by the server",
    "incidents.AlertIntegration.storm_thresholds": "whole numbers (validated)",
    "incidents.Alert.changes": "times and statuses of the alert, written by the server",
    "incidents.MaintenanceWindow.recurrence": "an RRULE dateutil accepts (validated)",
    "incidents.MaintenanceWindow.silence_id": "Alertmanager's id of the silence",
    "escalation.Component.slug": "a slug (validated)",
    "escalation.Subscriber.secret": "a secret, never shown",
    "escalation.FeedbackRequest.token": "made by the server (secrets.token_urlsafe)",
    "incidents.Incident.root_cause_category": "a category code, copied from the post-mortem",
    "incidents.IncidentFigures.causes": "counts per category code, written by the server",
    **{
        f"incidents.IncidentSearchRow.{name}": "a copy of the incident's, never shown: "
        "the archive counts a text search in it"
        for name in ("state", "severity", "category", "number", "title_upper")
    },
    **{
        f"incidents.IncidentFigures.{name}": "bucket counts of durations, written by the server"
        for name in ("mtta", "mttr", "mtta_sla", "mttr_sla")
    },
}


def user_text_fields() -> list[str]:
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in ("incidents", "knowledge", "escalation", "auth"):
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, models.CharField | models.TextField | models.JSONField) and not (
                f.choices
            ):
                label = f"{model._meta.label}.{f.name}"
                if label not in NOT_USER_TEXT:
                    found.append(label)
    return found


def test_it_puts_a_payload_in_every_user_text_field(world):
    empty = []
    for label in user_text_fields():
        app_model, name = label.rsplit(".", 1)
        values = apps.get_model(app_model).objects.values_list(name, flat=True)
        if not any("<script>alert(" in str(v) for v in values):
            empty.append(label)
    assert empty == [], "write a payload into these fields in tests/security/payloads.py"


# Fields with a payload that no page shows, and where they go instead.
NOT_SHOWN = {
    "SlaPolicy.goal": "admin only; the assignment's default goal is made from the level's times",
    "TeamChannel.name": "admin only; deliveries show the channel's kind and address",
    "BusinessCalendar.name": "admin only; pages say a level runs on business hours",
    "CalendarDay.name": "admin only; a holiday's name is for the administrator",
    "Alert.group_key": "deduplication key; not shown",
    "Alert.fingerprint": "deduplication key; not shown",
    "AlertIntegration.group_by": "admin only; label names that group alerts",
}


def test_it_shows_every_payload_somewhere_and_escaped(client, world):
    seen: set[str] = set()
    for _name, who, path, extra in PAGES:
        body = render(client, world, who, path(world), extra)
        seen |= {tag for tag in world.p.fields if shown_form(tag) in body}
    labels = set(world.p.fields.values())
    shown = {world.p.fields[tag] for tag in seen}

    assert sorted(labels - shown - set(NOT_SHOWN)) == []
    assert sorted(shown & set(NOT_SHOWN)) == []  # the list stays true


# ---------------------------------------------------------------- exports


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_cells(response):
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return [cell for row in book.active.iter_rows(min_row=2) for cell in row]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_exports_payloads_as_an_attachment_never_a_page(client, world, fmt):
    client.force_login(world.lead)

    response = client.get(f"/archive/export.{fmt}")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert not response["Content-Type"].startswith("text/html")
    assert response["X-Content-Type-Options"] == "nosniff"


# Columns whose text no user writes (numbers, times, choices, yes/no).
NOT_USER_COLUMNS = {
    "Number",
    "Level",
    "Level filed",
    "State",
    "Category",
    "Source",
    "Affected users",
    "Received at",
    "Acknowledged at",
    "Restored at",
    "Resolved at",
    "Archived at",
    "Minutes to acknowledge (wall time)",
    "Minutes to restore (wall time)",
    "Minutes to acknowledge (SLA time)",
    "Minutes to restore (SLA time)",
    "Minutes paused",
    "Respond deadline met",
    "Resolve deadline met",
    "Times reopened",
    "Root-cause category",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def formula_world(clock, platform):
    """An archived P1 whose every user-written exported text starts like a formula."""
    platform.name = "=1+2"
    platform.save(update_fields=["name"])
    lead = make_user("tech lead", platform, lead=True, username="@lead")
    owner = make_user("engineer", platform, username="-owner")
    onduty = make_user("on-duty", platform, username="+onduty")
    incident = resolved_incident(
        lead=lead,
        owner=owner,
        reporter=onduty,
        severity=Severity.P1,
        title='=HYPERLINK("http://evil.example","click")',
        impact_scope="+1+1",
    )
    knowledge.postmortem_save(
        incident=incident,
        actor=lead,
        summary="Checkout",
        root_cause_category="change_config",
        root_cause="@SUM(1+1)*cmd|' /C calc'!A0",
        contributing_factors="x",
        lessons="x",
        meeting_date=date(2026, 11, 26),
        attendees=[lead],
    )
    knowledge.action_item_add(
        incident=incident, actor=lead, text="x", owner=owner, due_date=date(2026, 12, 1)
    )
    knowledge.incident_archive(incident=incident, actor=lead, summary="\t-2+3")
    return lead


def test_it_covers_every_user_text_column_with_a_formula(client, formula_world):
    """The fixture starts every user-written column like a formula (a new text
    column fails here until it does)."""
    headers = [str(h) for h, _f in exports.columns()]
    client.force_login(formula_world)
    row = {}
    for header, (_h, f) in zip(headers, exports.columns(), strict=True):
        row[header] = f(Incident.objects.get(team__slug="platform", state=State.ARCHIVED))

    user_columns = [h for h in headers if h not in NOT_USER_COLUMNS]
    assert [h for h in user_columns if not str(row[h]).startswith(FORMULA_STARTS)] == []
    assert user_columns  # Title, Team, Impact scope, Owner, Reporter, Root cause, …


def test_it_writes_no_csv_cell_a_spreadsheet_would_run(client, formula_world):
    client.force_login(formula_world)

    header, *rows = csv_rows(client.get("/archive/export.csv"))

    [row] = rows
    for name, cell in zip(header, row, strict=True):
        if name in NOT_USER_COLUMNS:
            continue
        assert cell.startswith("'"), (name, cell)
        assert cell[1:].startswith(FORMULA_STARTS), (name, cell)


def test_it_writes_no_xlsx_formula(client, formula_world):
    client.force_login(formula_world)

    cells = xlsx_cells(client.get("/archive/export.xlsx"))

    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert '=HYPERLINK("http://evil.example","click")' in texts  # kept, typed as text
    assert all(c.data_type == "s" for c in cells if isinstance(c.value, str))


# ---------------------------------------------------------------- emails and robots


def test_it_sends_notices_as_plain_text(
    clock, client, lead, onduty, django_capture_on_commit_callbacks
):
    """An urgent P0 pages the tech lead at once; a blocker alerts them: both by
    email, plain text — the payload arrives as the text it is."""
    title = payload("M1", 200)
    client.force_login(onduty)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/incidents/",
            json.dumps(
                {
                    "title": title,
                    "symptoms": "x",
                    "severity": "P0",
                    "source": "api",
                    "impact_scope": "x",
                    "urgent": True,
                    "phone_call_to": "lead",
                }
            ),
            content_type="application/json",
        )
    incident = Incident.objects.get(pk=response.json()["id"])
    incident = services.incident_acknowledge(incident=incident, actor=lead)
    incident = services.incident_assign(incident=incident, actor=lead, owner=lead)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_log(
            incident=incident, actor=lead, kind=LogEntry.Kind.BLOCKER, text=payload("M2", 1000)
        )

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.content_subtype == "plain"
        assert [kind for _content, kind in getattr(message, "alternatives", [])] == []
        assert "\n" not in message.subject
        assert title in message.body
    assert payload("M2", 1000) in mail.outbox[1].body


def filed(title: str, onduty) -> Incident:
    return services.incident_create(
        actor=onduty, title=title, symptoms="x", severity="P2", source="api", impact_scope="x"
    )


def respond_notice(incident) -> Notice:
    return Notice.objects.create(
        incident=incident,
        clock=Clock.RESPOND,
        cycle=0,
        level=1,
        deadline=NOW,
        due_at=NOW,
        created_at=NOW + timedelta(minutes=5),
    )


def test_it_keeps_slack_control_sequences_out_of_slack_messages(clock, onduty):
    from escalation import messages

    notice = respond_notice(filed("<!channel> <https://evil.example|Reset password>", onduty))
    subject, body = messages.render(notice)
    with mock.patch.object(channels, "_post_json") as post:
        channels.SlackChannel().send(
            address="https://hooks.example/x", secret="", subject=subject, body=body, payload={}
        )

    text = post.call_args.args[1]["text"]
    assert "<!channel>" not in text
    assert "<https://evil.example|" not in text
    assert "&lt;!channel&gt;" in text  # shown as typed


def test_it_keeps_a_feishu_mention_of_everyone_out_of_feishu_messages(clock, onduty):
    from escalation import messages

    notice = respond_notice(filed('<at user_id="all">所有人</at> 支付中断', onduty))
    subject, body = messages.render(notice)
    with mock.patch.object(channels, "_post_json", return_value={}) as post:
        channels.FeishuChannel().send(
            address="https://open.feishu.example/hook",
            secret="",
            subject=subject,
            body=body,
            payload={},
        )

    text = post.call_args.args[1]["content"]["text"]
    assert '<at user_id="all">' not in text
    assert 'at user_id="all">所有人' in text  # shown, not acted on


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def test_it_sends_robots_the_payload_as_json_text(clock, onduty):
    """WeCom, DingTalk and Feishu get plain-text messages; the webhook gets JSON data."""
    from escalation import messages

    title = payload("M3", 200)
    notice = respond_notice(filed(title, onduty))
    subject, body = messages.render(notice)
    for name in ("webhook", "wecom", "dingtalk", "feishu"):
        with mock.patch.object(channels, "_post_json", return_value={}) as post:
            channels.CHANNELS[name].send(
                address="https://robot.example/x",
                secret="s",
                subject=subject,
                body=body,
                payload=messages.payload(notice),
            )
        sent = post.call_args.args[1]
        assert sent.get("msgtype", sent.get("msg_type", "text")) == "text", name
        assert any(title in text for text in strings_in(sent)), name


def test_it_escapes_the_metrics_charts(clock):
    """The only mark_safe in the code: the SVG charts escape every text they hold."""
    from knowledge import charts

    svg = charts.grouped_bars(
        [{"month": payload("C1"), "values": {"P1": 2}}], title=payload("C2"), unit=payload("C3")
    )

    assert injected_markup(str(svg)) == []
    assert [raw for raw in RAW if raw in svg] == []
    assert escape(payload("C2")) in svg
