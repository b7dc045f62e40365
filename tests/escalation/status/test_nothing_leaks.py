"""Nothing unpublished reaches the public: every internal field of the incidents,
their people, team and services, and the internal parts of a public maintenance
window hold a unique marker, and no public answer contains any of them."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import models
from django.test import Client

from common import clock as site_clock
from escalation.status import services
from escalation.status.models import (
    Component,
    FeedbackRequest,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
)
from incidents.models import (
    ExternalContact,
    Incident,
    LogEntry,
    MaintenanceWindow,
    Service,
    Severity,
    Team,
    TimelineEvent,
)
from incidents.services import triage
from tests.factories import complete_postmortem, in_progress_incident, resolved_incident

pytestmark = pytest.mark.django_db

PUBLIC_WORDS = ["Checkout is slow", "Card payments fail", "We rolled back.", "Planned upgrade"]
# Rows the public may see (their words are written for it) or that only log.
NOT_INTERNAL = {Publication, PublicUpdate, FeedbackRequest, TimelineEvent, Incident}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


class Markers:
    def __init__(self):
        self.given = []

    def next(self) -> str:
        marker = f"zqmark{len(self.given):03d}q"
        self.given.append(marker)
        return marker


def _text_fields(model):
    for field in model._meta.concrete_fields:
        if isinstance(field, models.CharField | models.TextField) and not field.choices:
            yield field


def mark_rows(queryset, markers: Markers) -> int:
    """Every free-text field of every row gets its own marker (an email keeps its shape)."""
    count = 0
    for row in queryset:
        changes = {}
        for field in _text_fields(type(row)):
            if field.name in ("password", "token", "key"):
                continue
            value = markers.next()
            changes[field.attname] = (
                f"{value}@example.test" if isinstance(field, models.EmailField) else value
            )
        if changes:
            type(row).objects.filter(pk=row.pk).update(**changes)
            count += 1
    return count


@pytest.fixture
def everything_marked(clock, platform, lead, owner, onduty, tester, website):
    """Two published incidents (one resolved, one open) with every internal field,
    person, team and service marked; a public window running now."""
    internal_service = Service.objects.create(team=platform, slug="svc", name="Service")
    resolved = resolved_incident(lead=lead, owner=owner, tester=tester, reporter=onduty)
    complete_postmortem(resolved, lead=lead, owner=owner)
    open_incident = in_progress_incident(lead=lead, owner=owner, reporter=onduty)
    Incident.objects.filter(pk=open_incident.pk).update(service=internal_service)
    triage.incident_grade(
        incident=open_incident, actor=lead, severity=Severity.P1, diagnosis="x", findings="x"
    )
    now = site_clock.now()
    for incident in (resolved, open_incident):
        for kind in LogEntry.Kind.values:
            LogEntry.objects.create(
                incident=incident,
                author=owner,
                kind=kind,
                text="x",
                happened_at=now,
                created_at=now,
            )
        ExternalContact.objects.create(incident=incident, name="x", added_by=lead, added_at=now)

    services.incident_publish(
        incident=resolved,
        actor=lead,
        components=[website],
        impact=Impact.MAJOR_OUTAGE,
        public_title="Checkout is slow",
        message="Checkout is slow for some.",
    )
    clock.shift(timedelta(minutes=10))
    services.incident_public_update(
        incident=resolved, actor=lead, status=PublicStatus.RESOLVED, message="We rolled back."
    )
    services.incident_publish(
        incident=open_incident,
        actor=onduty,
        components=[website],
        impact=Impact.PARTIAL_OUTAGE,
        public_title="Card payments fail",
        message="Some card payments fail.",
    )
    public_window = MaintenanceWindow.objects.create(
        team=platform,
        title="Planned upgrade",
        starts_at=site_clock.now() - timedelta(minutes=1),
        ends_at=site_clock.now() + timedelta(hours=1),
        public=True,
    )
    public_window.services.set(website.services.all())
    hidden = MaintenanceWindow.objects.create(
        team=platform,
        title="x",
        starts_at=site_clock.now(),
        ends_at=site_clock.now() + timedelta(days=1),
    )
    FeedbackRequest.objects.create(incident=resolved, token="leak-test-token", created_at=now)

    markers = Markers()
    incidents = Incident.objects.filter(pk__in=[resolved.pk, open_incident.pk])
    assert mark_rows(incidents, markers) == 2
    marked_models = set()
    for relation in Incident._meta.related_objects:
        model = relation.related_model
        if model in NOT_INTERNAL:
            continue
        if mark_rows(model.objects.filter(**{relation.field.name + "__in": incidents}), markers):
            marked_models.add(model.__name__)
    assert {"Grading", "LogEntry", "Resolution", "Verification", "PostMortem"} <= marked_models
    assert {"ExternalContact", "Assignment"} <= marked_models
    User = get_user_model()
    assert mark_rows(User.objects.all(), markers) >= 4
    mark_rows(Team.objects.all(), markers)
    mark_rows(Service.objects.all(), markers)
    MaintenanceWindow.objects.filter(pk=public_window.pk).update(
        description=markers.next(),
        matchers=[{"name": markers.next(), "value": markers.next(), "is_regex": False}],
        silence_error=markers.next(),
    )
    mark_rows(MaintenanceWindow.objects.filter(pk=hidden.pk), markers)
    services.bump_version()  # the marks were written behind the services' back
    return markers.given


def public_answers():
    client = Client(raise_request_exception=False)
    component = Component.objects.get()
    paths = [
        "/status/",
        "/status/index.json",
        "/status/feed.atom",
        "/status/feed.rss",
        "/status/badge.svg",
        f"/status/badge.svg?component={component.slug}",
        "/status/subscribe/",
        "/status/confirm/nope/",
        "/status/unsubscribe/nope/",
        "/status/feedback/leak-test-token/",
    ]
    answers = {}
    for language in ("en", "zh-hans"):
        for path in paths:
            response = client.get(path, headers={"accept-language": language})
            headers = json.dumps(dict(response.headers))
            answers[(language, path)] = (response.status_code, response.content.decode() + headers)
    return answers


def test_it_shows_no_internal_word_in_any_public_answer(everything_marked):
    answers = public_answers()

    leaks = {
        key: [marker for marker in everything_marked if marker in body]
        for key, (_status, body) in answers.items()
    }
    assert {key: found for key, found in leaks.items() if found} == {}
    # The test can fail: the public words and the incidents' markers are really there.
    page = answers[("en", "/status/")][1]
    assert all(words in page for words in PUBLIC_WORDS)
    maintenance = page[page.index('id="maintenance-title"') : page.index('id="components-title"')]
    assert "Planned upgrade" in maintenance
    assert "Website" in maintenance  # the window names the website's (marked) service
    for language in ("en", "zh-hans"):
        for path in ("/status/", "/status/index.json", "/status/feed.atom", "/status/badge.svg"):
            assert answers[(language, path)][0] == 200
    assert len(everything_marked) > 60


def test_it_would_notice_a_leak(everything_marked):
    """The search itself works: an internal word put into public words is found."""
    publication = Publication.objects.get(public_title="Card payments fail")
    Publication.objects.filter(pk=publication.pk).update(
        public_title=f"Card payments fail {everything_marked[0]}"
    )
    services.bump_version()

    answers = public_answers()

    found = {key for key, (_s, body) in answers.items() if everything_marked[0] in body}
    assert ("en", "/status/") in found
    assert ("zh-hans", "/status/feed.atom") in found
    assert ("en", "/status/index.json") in found
