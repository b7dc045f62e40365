"""The status page's writes: components, publishing, public updates, and an
affected user's feedback landing on the incident."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common.errors import DomainError, TransitionNotAllowed
from escalation.status import services
from escalation.status.models import (
    Component,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
)
from incidents.models import Service, TimelineEvent, UserFeedback
from incidents.services.verification import (
    incident_affected_user_feedback,
    incident_record_feedback,
)
from tests.factories import cancelled_incident, in_progress_incident, make_user, resolved_incident


def version() -> int:
    page = StatusPage.objects.filter(pk=1).first()
    return page.version if page else 0


def publish(incident, actor, components, **overrides):
    arguments = {
        "impact": Impact.MAJOR_OUTAGE,
        "public_title": "Sign-in is failing",
        "message": "Some users cannot sign in.",
    } | overrides
    return services.incident_publish(
        incident=incident, actor=actor, components=components, **arguments
    )


class TestComponents:
    def test_it_lets_the_teams_lead_add_change_and_remove_one(self, lead, platform):
        before = version()
        component = services.component_create(
            actor=lead, slug="site", name=" Website ", team=platform, order=3
        )
        assert (component.name, component.order) == ("Website", 3)
        services.component_update(component=component, actor=lead, name="Web", order=1)
        component.refresh_from_db()
        assert (component.name, component.order) == ("Web", 1)
        services.component_delete(component=component, actor=lead)
        assert not Component.objects.exists()
        assert version() == before + 3  # every write makes cached pages stale

    def test_it_refuses_a_lead_of_another_team_and_an_engineer(self, platform, pay_lead, engineer):
        for actor in (pay_lead, engineer):
            with pytest.raises(PermissionDenied):
                services.component_create(actor=actor, slug="x", name="X", team=platform)
        assert not Component.objects.exists()

    def test_it_lets_an_admin_write_any_teams(self, admin, payments):
        component = services.component_create(actor=admin, slug="pay", name="Pay", team=payments)
        assert component.team == payments

    def test_it_refuses_a_taken_slug_and_another_teams_service(self, lead, platform, payments):
        services.component_create(actor=lead, slug="site", name="Website", team=platform)
        with pytest.raises(ValidationError) as taken:
            services.component_create(actor=lead, slug="site", name="Other", team=platform)
        assert "slug" in taken.value.message_dict
        foreign = Service.objects.create(team=payments, slug="gw", name="Gateway")
        with pytest.raises(ValidationError) as wrong:
            services.component_create(
                actor=lead, slug="api", name="API", team=platform, services=[foreign]
            )
        assert "services" in wrong.value.message_dict
        assert Component.objects.count() == 1

    def test_it_moves_to_another_team_only_with_the_right_to_edit_both(
        self, lead, admin, platform, payments, website
    ):
        with pytest.raises(PermissionDenied):
            services.component_update(component=website, actor=lead, team=payments)
        with pytest.raises(ValidationError):  # its service is platform's
            services.component_update(component=website, actor=admin, team=payments)
        services.component_update(component=website, actor=admin, team=payments, services=[])
        website.refresh_from_db()
        assert website.team == payments


class TestPublishing:
    def test_it_publishes_in_public_words_as_investigating(self, lead, owner, website):
        incident = in_progress_incident(lead=lead, owner=owner)
        before = version()
        publication = publish(incident, lead, [website])
        assert publication.status == PublicStatus.INVESTIGATING
        assert publication.public_title == "Sign-in is failing"
        assert list(publication.components.all()) == [website]
        update = publication.updates.get()
        assert (update.status, update.message) == (
            PublicStatus.INVESTIGATING,
            "Some users cannot sign in.",
        )
        assert version() == before + 1
        event = incident.events.get(kind=TimelineEvent.Kind.PUBLISHED)
        assert event.actor == lead
        assert "Sign-in is failing" in event.message

    def test_it_lets_on_duty_of_the_team_publish_but_not_an_engineer(
        self, lead, owner, onduty, engineer, website
    ):
        incident = in_progress_incident(lead=lead, owner=owner)
        with pytest.raises(PermissionDenied):
            publish(incident, engineer, [website])
        assert not Publication.objects.exists()
        publish(incident, onduty, [website])
        assert Publication.objects.count() == 1

    def test_it_refuses_a_second_publish_and_a_cancelled_incident(self, lead, owner, website):
        incident = in_progress_incident(lead=lead, owner=owner)
        publish(incident, lead, [website])
        with pytest.raises(DomainError):
            publish(incident, lead, [website], public_title="Again")
        assert Publication.objects.get().public_title == "Sign-in is failing"
        with pytest.raises(TransitionNotAllowed):
            publish(cancelled_incident(lead=lead), lead, [website])

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"public_title": "  "}, "public_title"),
            ({"public_title": "x" * 201}, "public_title"),
            ({"message": ""}, "message"),
            ({"impact": "meltdown"}, "impact"),
        ],
    )
    def test_it_refuses_bad_input_and_writes_nothing(self, lead, owner, website, overrides, field):
        incident = in_progress_incident(lead=lead, owner=owner)
        with pytest.raises(ValidationError) as refused:
            publish(incident, lead, [website], **overrides)
        assert field in refused.value.message_dict
        assert not Publication.objects.exists()
        assert not PublicUpdate.objects.exists()

    def test_it_needs_a_component(self, lead, owner):
        incident = in_progress_incident(lead=lead, owner=owner)
        with pytest.raises(ValidationError) as refused:
            publish(incident, lead, [])
        assert "components" in refused.value.message_dict


class TestPublicUpdates:
    def test_it_resolves_and_reopens_on_the_page(self, lead, published, clock):
        resolved = services.incident_public_update(
            incident=published, actor=lead, status=PublicStatus.RESOLVED, message="Fixed."
        )
        publication = Publication.objects.get()
        assert publication.resolved_at == resolved.posted_at
        assert not publication.is_open
        services.incident_public_update(
            incident=published, actor=lead, status=PublicStatus.INVESTIGATING, message="Back."
        )
        publication.refresh_from_db()
        assert publication.is_open
        assert publication.status == PublicStatus.INVESTIGATING
        assert publication.updates.count() == 3
        kinds = list(published.events.values_list("kind", flat=True))
        assert kinds.count(TimelineEvent.Kind.PUBLIC_UPDATE) == 2

    def test_it_changes_impact_title_and_components_when_given(
        self, lead, published, api_component
    ):
        services.incident_public_update(
            incident=published,
            actor=lead,
            status=PublicStatus.IDENTIFIED,
            message="Found it.",
            impact=Impact.DEGRADED,
            components=[api_component],
            public_title="Checkouts slow",
        )
        publication = Publication.objects.get()
        assert (publication.impact, publication.public_title) == (
            Impact.DEGRADED,
            "Checkouts slow",
        )
        assert list(publication.components.all()) == [api_component]
        assert publication.updates.first().impact == Impact.DEGRADED

    def test_it_refuses_an_unpublished_incident_and_a_bad_status(self, lead, owner, published):
        other = in_progress_incident(lead=lead, owner=owner)
        with pytest.raises(DomainError):
            services.incident_public_update(
                incident=other, actor=lead, status=PublicStatus.MONITORING, message="x"
            )
        with pytest.raises(ValidationError) as refused:
            services.incident_public_update(
                incident=published, actor=lead, status="done", message="x"
            )
        assert "status" in refused.value.message_dict
        assert PublicUpdate.objects.count() == 1

    def test_it_refuses_someone_who_may_not_publish(self, engineer, published):
        with pytest.raises(PermissionDenied):
            services.incident_public_update(
                incident=published, actor=engineer, status=PublicStatus.MONITORING, message="x"
            )


class TestAffectedUserFeedback:
    def test_it_lands_once_and_changes_in_place(self, published, clock):
        feedback = incident_affected_user_feedback(incident=published, rating=2, comment="Slow")
        assert (feedback.rating, feedback.text, feedback.by_affected_user) == (2, "Slow", True)
        assert feedback.satisfied is False
        assert feedback.recorded_by is None
        incident_affected_user_feedback(
            incident=published, rating=5, comment="Fine now", feedback=feedback
        )
        stored = UserFeedback.objects.get()
        assert (stored.rating, stored.text, stored.satisfied) == (5, "Fine now", True)
        events = published.events.filter(kind=TimelineEvent.Kind.FEEDBACK_RECORDED)
        assert events.count() == 1
        assert "rated the fix 2 of 5" in events.get().message

    @pytest.mark.parametrize("rating", [0, 6, None])
    def test_it_refuses_a_rating_outside_one_to_five(self, published, rating):
        with pytest.raises(ValidationError):
            incident_affected_user_feedback(incident=published, rating=rating)
        assert not UserFeedback.objects.exists()


def test_it_keeps_the_staff_feedback_words_unchanged(lead, owner, tester, platform):
    """Staff-recorded feedback has no facts: its timeline entry is the text written."""

    incident = resolved_incident(lead=lead, owner=owner, tester=tester)
    onduty = make_user("on-duty", platform)

    incident_record_feedback(incident=incident, actor=onduty, text="Users are happy")
    event = incident.events.get(kind=TimelineEvent.Kind.FEEDBACK_RECORDED)
    assert event.message == "Users are happy"


def test_it_makes_the_page_stale_when_a_public_window_changes(lead, platform, clock):
    from datetime import timedelta

    from incidents.maintenance import services as windows
    from tests.conftest import NOW

    now = NOW
    private = windows.window_create(
        actor=lead, team=platform, title="Quiet", starts_at=now, ends_at=now + timedelta(hours=1)
    )
    assert version() == 0
    public = windows.window_create(
        actor=lead,
        team=platform,
        title="Database upgrade",
        starts_at=now + timedelta(hours=2),
        ends_at=now + timedelta(hours=3),
        public=True,
    )
    assert version() == 1
    windows.window_update(window=private, actor=lead, title="Still quiet")
    assert version() == 1
    windows.window_update(window=public, actor=lead, public=False)  # hidden again: stale
    assert version() == 2
    windows.window_delete(window=public, actor=lead)
    assert version() == 2
