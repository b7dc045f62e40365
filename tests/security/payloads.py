"""A team whose every user-written text is a script payload, written the way
users write it: the API, the web forms, alert intake, and (for what only the
admin edits) the ORM.

Each text is `<tag><script>alert("<tag>")</script>"><img src=x onerror=alert(1)>
{{ 7*7 }} javascript:alert(1)`, with a tag (X00, X01, …) naming the field it
went into, so a page that shows the field can be found by its escaped form.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from common import clock
from escalation.engine import sweep_due_deadlines
from escalation.models import BusinessCalendar, CalendarDay, Delivery, SlaPolicy, TeamChannel
from escalation.roster import sweep as roster_sweep
from escalation.status import feedback as status_feedback
from escalation.status.models import Component, StatusMessage, Subscriber
from incidents import alerts
from incidents.maintenance.lifecycle import sweep_windows
from incidents.models import AlertIntegration, Incident, MaintenanceWindow, Service, Severity, Team
from incidents.rules import Role
from knowledge.models import ActionItem, KnowledgeArticle
from tests.factories import make_user


def payload(tag: str, limit: int = 100) -> str:
    full = (
        f'{tag}<script>alert("{tag}")</script>"><img src=x onerror=alert(1)>'
        "{{ 7*7 }} javascript:alert(1)"
    )
    short = f"{tag}<script>alert(1)</script>"
    text = full if len(full) <= limit else short
    assert len(text) <= limit, (tag, limit)
    return text


def shown_form(tag: str) -> str:
    """The start of a tag's payload as an escaping page shows it."""
    return escape(f"{tag}<script>alert(")


# What a page must never contain: the payloads' markup, unescaped.
RAW = ("<script>alert(", "<img src=x")


class Payloads:
    """Hands out payloads, remembering which field each tag went into."""

    def __init__(self):
        self.fields: dict[str, str] = {}

    def __call__(self, label: str, limit: int = 100) -> str:
        tag = f"X{len(self.fields):02d}"
        self.fields[tag] = label
        return payload(tag, limit)


@dataclass
class World:
    team: Team
    lead: object
    owner: object
    helper: object
    tester: object
    onduty: object
    main: Incident  # archived P1: every step, post-mortem, article
    filed_by_form: Incident  # cancelled
    reopened: Incident
    from_alert: Incident  # a generic alert's
    from_alertmanager: Incident
    article: KnowledgeArticle
    p: Payloads
    extra: dict = field(default_factory=dict)
    admin: object = None  # sees the admin's pages
    feedback_token: str = ""  # an affected user's feedback link, answered


def _api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_json(client, path: str, body: dict, method: str = "post") -> dict:
    response = getattr(client, method)(path, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), (path, response.status_code, response.content[:300])
    return response.json()


def _post_form(client, path: str, data: dict) -> None:
    response = client.post(path, data)
    assert response.status_code == 302, (path, response.status_code, response.content[-2000:])


def _act(client, incident_id: int, action: str, body: dict) -> dict:
    return _post_json(client, f"/api/v1/incidents/{incident_id}/{action}/", body)


def build(p: Payloads | None = None, *, team_slug: str = "xss") -> World:
    """The team, its people and records, every text a payload."""
    p = p or Payloads()
    team = Team.objects.create(slug=team_slug, name=p("Team.name"))
    people = {}
    for role, name, lead in (
        (Role.TECH_LEAD, "lead", True),
        (Role.ENGINEER, "owner", False),
        (Role.ENGINEER, "helper", False),
        (Role.TESTER, "tester", False),
        (Role.ON_DUTY, "onduty", False),
    ):
        people[name] = make_user(
            role,
            team,
            lead=lead,
            username=f"{team_slug}-{name}",
            first_name=p("User.first_name", 150),
            last_name=p("User.last_name", 150),
        )
    lead, owner, helper, tester, onduty = (
        people[n] for n in ("lead", "owner", "helper", "tester", "onduty")
    )
    # What only the admin edits.
    Service.objects.create(team=team, slug="checkout", name=p("Service.name"))
    SlaPolicy.objects.filter(severity=Severity.P2).update(goal=p("SlaPolicy.goal", 200))
    calendar = BusinessCalendar.objects.create(name=p("BusinessCalendar.name"))
    CalendarDay.objects.create(
        calendar=calendar, day=date(2026, 12, 31), kind="holiday", name=p("CalendarDay.name")
    )
    TeamChannel.objects.create(
        team=team,
        kind=TeamChannel.Kind.WEBHOOK,
        name=p("TeamChannel.name"),
        url="https://robot.example/hook?" + p("TeamChannel.url", 300),
    )
    _post_form(
        _api(lead),
        "/accounts/profile/",
        {"phone": p("UserProfile.phone", 40), "email_notices": "on", "inapp_notices": "on"},
    )

    as_lead, as_owner, as_tester, as_onduty = (_api(u) for u in (lead, owner, tester, onduty))

    # ---- the main incident, through the API and the web forms, to the archive
    main = _post_json(
        as_onduty,
        "/api/v1/incidents/",
        {
            "title": p("Incident.title", 200),
            "symptoms": p("Incident.symptoms"),
            "impact_scope": p("Incident.impact_scope"),
            "severity": "P1",
            "source": "api",
            "team": team_slug,
            "service": "checkout",
            "urgent": True,
            "phone_call_to": p("Incident.phone_call_to"),
        },
    )["id"]
    _post_json(
        as_lead,
        f"/api/v1/incidents/{main}/",
        {"impact_scope": p("Incident.impact_scope (corrected)")},
        method="patch",
    )
    _act(as_lead, main, "acknowledge", {"note": p("TimelineEvent.message (acknowledge note)")})
    _act(
        as_lead,
        main,
        "grade",
        {
            "severity": "P1",
            "diagnosis": p("Grading.diagnosis"),
            "findings": p("Grading.findings"),
            "impact_assessment": p("Grading.impact_assessment"),
        },
    )
    _act(
        as_lead,
        main,
        "assign",
        {
            "owner": owner.username,
            "helpers": [helper.username],
            "goal": p("Assignment.goal"),
            "external_contacts": [
                {
                    "name": p("ExternalContact.name"),
                    "organisation": p("ExternalContact.organisation"),
                    "contact": p("ExternalContact.contact", 200),
                    "owes": p("ExternalContact.owes"),
                }
            ],
        },
    )
    _act(as_owner, main, "log", {"kind": "action", "text": p("LogEntry.text")})
    _act(as_owner, main, "log", {"kind": "blocker", "text": p("LogEntry.text (blocker)")})
    _act(
        as_owner,
        main,
        "resolve",
        {"workaround": p("Resolution.workaround"), "fix": p("Resolution.fix")},
    )
    _act(
        as_tester,
        main,
        "verify",
        {
            "functional_ok": False,
            "regression_ok": True,
            "monitoring_ok": True,
            "functional_evidence": p("Verification.functional_evidence"),
            "regression_evidence": p("Verification.regression_evidence"),
            "monitoring_evidence": p("Verification.monitoring_evidence"),
            "notes": p("Verification.notes"),
        },
    )
    _act(as_owner, main, "log", {"kind": "progress", "text": p("LogEntry.text (progress)")})
    _act(
        as_owner,
        main,
        "pause",
        {"reason": p("Pause.reason", 5000), "waiting_on": p("Pause.waiting_on", 200)},
    )
    _act(as_owner, main, "resume", {})
    _act(as_owner, main, "resolve", {"fix": p("Resolution.fix (second)")})
    _act(
        as_tester,
        main,
        "verify",
        {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
    )
    _act(as_onduty, main, "notify-users", {"message": p("UserNotification.message")})
    _act(as_onduty, main, "feedback", {"text": p("UserFeedback.text"), "satisfied": False})
    today = timezone.localdate(clock.now())
    _post_form(
        as_lead,
        f"/incidents/{main}/postmortem/",
        {
            "summary": p("PostMortem.summary"),
            "timeline": p("PostMortem.timeline"),
            "root_cause_category": "monitoring_gap",
            "root_cause": p("PostMortem.root_cause"),
            "contributing_factors": p("PostMortem.contributing_factors"),
            "lessons": p("PostMortem.lessons"),
            "meeting_date": today.isoformat(),
            "attendees": [lead.pk, owner.pk],
            "other_attendees": p("PostMortem.other_attendees", 300),
        },
    )
    _post_form(
        as_lead,
        f"/incidents/{main}/postmortem/actions/",
        {
            "action-text": p("ActionItem.text", 1000),
            "action-owner": owner.pk,
            "action-due_date": (today + timedelta(days=7)).isoformat(),
        },
    )
    # One action already overdue: it is listed on the dashboard and the metrics.
    overdue = ActionItem.objects.get(postmortem__incident_id=main)
    overdue.pk = None
    overdue.text = p("ActionItem.text (overdue)", 1000)
    overdue.due_date = today - timedelta(days=1)
    overdue.save()
    _act(as_lead, main, "archive", {"summary": p("Incident.archive_summary")})
    _post_form(
        as_lead,
        f"/knowledge/articles/new/{main}/",
        {
            "title": p("KnowledgeArticle.title", 200),
            "symptoms": p("KnowledgeArticle.symptoms"),
            "diagnosis": p("KnowledgeArticle.diagnosis"),
            "workaround": p("KnowledgeArticle.workaround"),
            "fix": p("KnowledgeArticle.fix"),
            "lessons": p("KnowledgeArticle.lessons"),
            "tags": p("KnowledgeArticle.tags", 200),
        },
    )

    # ---- filed through the intake form, then cancelled through the workspace form
    _post_form(
        as_onduty,
        "/incidents/new/",
        {
            "title": p("Incident.title (form)", 200),
            "symptoms": p("Incident.symptoms (form)"),
            "impact_scope": p("Incident.impact_scope (form)"),
            "severity": "P2",
            "affected_users": 3,
            "source": "phone",
            "category": "production",
            "team": team.pk,
            "received_at": timezone.localtime(clock.now()).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    filed = Incident.objects.filter(team=team).latest("id")
    _post_form(
        as_lead,
        f"/incidents/{filed.pk}/cancel/",
        {"version": filed.version, "reason": p("Incident.cancel_reason")},
    )

    # ---- resolved, then reopened; assigned without a goal (the level's goal)
    reopened = _post_json(
        as_onduty,
        "/api/v1/incidents/",
        {
            "title": p("Incident.title (reopened)", 200),
            "symptoms": "Slow",
            "impact_scope": "Some",
            "severity": "P2",
            "source": "api",
            "team": team_slug,
        },
    )["id"]
    _act(as_lead, reopened, "acknowledge", {})
    _act(as_lead, reopened, "assign", {"owner": owner.username})
    _act(as_owner, reopened, "log", {"kind": "action", "text": "Restarted"})
    _act(as_owner, reopened, "resolve", {"fix": "Restarted"})
    _act(
        as_lead,
        reopened,
        "verify",
        {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
    )
    _act(as_lead, reopened, "reopen", {"reason": p("TimelineEvent.message (reopen reason)")})
    _act(
        as_owner,
        reopened,
        "pause",
        {
            "reason": p("Incident.pause_reason", 5000),
            "waiting_on": p("Incident.pause_waiting_on", 200),
        },
    )

    # ---- from monitoring: a generic alert, then Alertmanager's resolved message
    integration, token = alerts.integration_create(name=p("AlertIntegration.name"), team=team)
    anonymous = Client()
    generic = {
        "title": p("Alert.summary", 200),
        "dedup_key": "checkout-5xx",
        "status": "firing",
        "severity": "P2",
        "description": p("Alert description → Incident.symptoms"),
        "labels": {"service": p("Alert.labels")},
        "impact_scope": p("Alert impact → Incident.impact_scope"),
    }
    response = anonymous.post(
        f"/api/v1/alerts/{token}/", json.dumps(generic), content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    alertmanager = {
        "version": "4",
        "groupKey": "{}:" + p("Alert.group_key", 400),
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": p("Alert.labels (alertmanager)"), "severity": "warning"},
                "annotations": {
                    "summary": p("Alert.annotations"),
                    "description": p("Alert.annotations (description)"),
                },
                "generatorURL": "javascript:alert(1)",
                "fingerprint": p("Alert.fingerprint", 200),
            }
        ],
    }
    for status in ("firing", "resolved"):
        alertmanager["status"] = alertmanager["alerts"][0]["status"] = status
        response = anonymous.post(
            f"/api/v1/alerts/{token}/", json.dumps(alertmanager), content_type="application/json"
        )
        assert response.status_code in (200, 201), response.content
    from_alert, from_alertmanager = Incident.objects.filter(
        team=team, source="monitoring"
    ).order_by("id")

    # ---- the duty roster, through its pages: a daily rotation handed over at
    # midnight, an override, a handover note; the next midnight's handover lists
    # the open incidents (their titles) and carries the note to the owner.
    web = _api(lead)
    today = timezone.localdate()
    _post_form(
        web,
        f"/oncall/{team.slug}/rotations/new/",
        {
            "name": p("Rotation.name"),
            "layer": "primary",
            "participants": f"{lead.username}\n{owner.username}",
            "shift_days": 1,
            "handoff_time": "00:00",
            "start_date": today.isoformat(),
            "weekdays": list("0123456"),
        },
    )
    start = timezone.localtime() + timedelta(days=3)
    _post_form(
        web,
        f"/oncall/{team.slug}/overrides/",
        {
            "layer": "primary",
            "user": tester.username,
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
            "note": p("Override.note"),
        },
    )
    _post_form(
        web,
        f"/oncall/{team.slug}/handover-note/",
        {"layer": "primary", "text": p("HandoverNote.text")},
    )
    midnight = timezone.make_aware(datetime.combine(today + timedelta(days=1), time(0, 5)))
    assert roster_sweep.sweep_rosters(now=midnight).handovers

    # ---- a maintenance window through the API, running now; the sweep writes its
    # start on the team's timeline (the window's title). Its silence error is the
    # server's (Alertmanager's answer may quote a matcher), its grouping labels the admin's.
    window = _post_json(
        as_lead,
        "/api/v1/maintenance/",
        {
            "title": p("MaintenanceWindow.title", 200),
            "team": team_slug,
            "description": p("MaintenanceWindow.description"),
            "starts_at": (clock.now() - timedelta(hours=1)).isoformat(),
            "ends_at": (clock.now() + timedelta(days=30)).isoformat(),
            "matchers": [
                {"name": "job", "value": p("MaintenanceWindow.matchers"), "is_regex": False}
            ],
            "mode": "mark",
        },
    )["id"]
    sweep_windows(clock.now())
    MaintenanceWindow.objects.filter(pk=window).update(
        silence_error=p("MaintenanceWindow.silence_error")
    )
    AlertIntegration.objects.filter(pk=integration.pk).update(
        group_by=["alertname", p("AlertIntegration.group_by")]
    )

    # ---- the status page: a component through the API, the reopened incident
    # published through the workspace form and updated through the API; the
    # archived one published, resolved, and answered through an affected user's
    # feedback link. What only the admin writes (a robot subscriber, a message's
    # error) through the ORM.
    component = _post_json(
        as_lead,
        "/api/v1/status/components/",
        {
            "slug": f"{team_slug}-site",
            "name": p("Component.name"),
            "team": team_slug,
            "description": p("Component.description"),
            "services": ["checkout"],
        },
    )["slug"]
    component_pk = Component.objects.get(slug=component).pk
    _post_form(
        as_lead,
        f"/incidents/{reopened}/publish/",
        {
            "last_update": 0,
            "components": [component_pk],
            "impact": "partial_outage",
            "public_title": p("Publication.public_title", 200),
            "message": p("PublicUpdate.message (published)"),
        },
    )
    _act(
        as_onduty,
        reopened,
        "public-updates",
        {"status": "identified", "message": p("PublicUpdate.message")},
    )
    _act(
        as_lead,
        main,
        "publish",
        {
            "components": [component],
            "impact": "major_outage",
            "public_title": p("Publication.public_title (archived)", 200),
            "message": p("PublicUpdate.message (archived)"),
        },
    )
    _act(
        as_lead,
        main,
        "public-updates",
        {"status": "resolved", "message": p("PublicUpdate.message (resolved)")},
    )
    now = clock.now()
    robot = Subscriber.objects.create(
        kind=Subscriber.Kind.WEBHOOK,
        address="https://robot.example/status?" + p("Subscriber.address", 400),
        secret="s3cret",
        created_at=now,
        confirmed_at=now,
    )
    StatusMessage.objects.create(
        subscriber=robot,
        kind=StatusMessage.Kind.UPDATE,
        update=Incident.objects.get(pk=main).publication.updates.latest("posted_at", "id"),
        status=StatusMessage.Status.FAILED,
        attempts=5,
        last_error=p("StatusMessage.last_error"),
        created_at=now,
    )
    affected = Subscriber.objects.create(
        address="affected@example.com", created_at=now, confirmed_at=now
    )
    link = status_feedback.feedback_request_for(
        incident=Incident.objects.get(pk=main), subscriber=affected
    )
    _post_form(
        Client(),
        f"/status/feedback/{link.token}/",
        {"rating": 2, "comment": p("UserFeedback.text (affected user)")},
    )
    # An administrator as seed_demo makes one (the admin's pages need is_superuser).
    admin = make_user(
        Role.ADMIN, None, username=f"{team_slug}-admin", is_staff=True, is_superuser=True
    )

    # ---- escalation: every open clock overdue a day later; one delivery failed
    sweep_due_deadlines(now=clock.now() + timedelta(days=1))
    failed = Delivery.objects.filter(notice__incident__team=team).order_by("id").first()
    failed.status = Delivery.Status.FAILED
    failed.last_error = p("Delivery.last_error")
    failed.save(update_fields=["status", "last_error"])

    return World(
        team=team,
        lead=lead,
        owner=owner,
        helper=helper,
        tester=tester,
        onduty=onduty,
        main=Incident.objects.get(pk=main),
        filed_by_form=filed,
        reopened=Incident.objects.get(pk=reopened),
        from_alert=from_alert,
        from_alertmanager=from_alertmanager,
        article=KnowledgeArticle.objects.get(incident_id=main),
        p=p,
        admin=admin,
        feedback_token=link.token,
    )
