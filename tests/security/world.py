"""A team's records, built through the real services, for the security tests.

`TeamRecords` files incidents and writes post-mortems, action items and
articles on demand (each once), so a test builds only what its URL needs;
`everything()` builds the lot, with escalation notices, for the list pages.
Every text it writes comes from `text(tag)`: a team marker for the
cross-team tests, a script payload for the escaping tests.
"""

from datetime import timedelta
from functools import cached_property

from common import clock
from escalation.engine import sweep_due_deadlines
from escalation.roster import services as roster_services
from escalation.status import feedback as status_feedback
from escalation.status import services as status_services
from escalation.status.models import Impact, PublicStatus, Subscriber
from incidents import services
from incidents.maintenance import services as maintenance
from incidents.maintenance.lifecycle import sweep_windows
from incidents.models import LogEntry, Severity, State
from knowledge import services as knowledge
from knowledge.models import PostMortem
from tests.factories import incident_in_state, make_rotation, status_component


class TeamRecords:
    def __init__(self, *, team, lead, owner, tester, onduty, text):
        self.team = team
        self.lead, self.owner, self.tester, self.onduty = lead, owner, tester, onduty
        self.text = text
        self._incidents = {}

    def _texts(self, tag: str) -> dict:
        return {
            "title": self.text(f"{tag} title"),
            "symptoms": self.text(f"{tag} symptoms"),
            "impact_scope": self.text(f"{tag} impact"),
        }

    def incident(self, state: str, severity: str = Severity.P2):
        """An incident of the team in `state`, reached through the services."""
        key = (state, severity)
        if key not in self._incidents:
            self._incidents[key] = incident_in_state(
                state,
                lead=self.lead,
                owner=self.owner,
                tester=self.tester,
                reporter=self.onduty,
                severity=severity,
                **self._texts(f"{state} {severity}"),
            )
        return self._incidents[key]

    @cached_property
    def postmortem(self) -> PostMortem:
        """The post-mortem of a resolved P1, with one improvement action."""
        incident = self.incident(State.RESOLVED, Severity.P1)
        knowledge.postmortem_save(
            incident=incident,
            actor=self.lead,
            summary=self.text("postmortem summary"),
            root_cause_category="change_config",
            root_cause=self.text("postmortem root cause"),
            contributing_factors=self.text("postmortem factors"),
            lessons=self.text("postmortem lessons"),
            meeting_date=clock.now().date(),
            attendees=[self.lead, self.owner],
        )
        knowledge.action_item_add(
            incident=incident,
            actor=self.lead,
            text=self.text("action item"),
            owner=self.owner,
            due_date=clock.now().date() + timedelta(days=7),
        )
        return PostMortem.objects.get(incident=incident)

    @cached_property
    def action_item(self):
        return self.postmortem.action_items.get()

    @cached_property
    def archived(self):
        """An archived P2 (no post-mortem needed), with its log."""
        return self.incident(State.ARCHIVED)

    @cached_property
    def article(self):
        return knowledge.article_save(
            actor=self.lead,
            incident=self.archived,
            title=self.text("article title"),
            symptoms=self.text("article symptoms"),
            fix=self.text("article fix"),
            tags="security",
        )

    @cached_property
    def rotation(self):
        """A weekly primary rotation of the owner and the on-duty person."""
        return make_rotation(
            actor=self.lead,
            team=self.team,
            people=[self.owner, self.onduty],
            name=self.text("rotation"),
            start_date=clock.now().date() - timedelta(days=3),
        )

    @cached_property
    def override(self):
        """The tester covers a stretch of the primary layer, ten days ahead."""
        self.rotation  # noqa: B018 (builds it)
        start = clock.now() + timedelta(days=10)
        return roster_services.override_create(
            actor=self.lead,
            team=self.team,
            layer="primary",
            user=self.tester,
            start=start,
            end=start + timedelta(hours=8),
            note=self.text("override note"),
        )

    @cached_property
    def handover_note(self):
        self.rotation  # noqa: B018
        return roster_services.handover_note_add(
            actor=self.lead, team=self.team, layer="primary", text=self.text("handover note")
        )

    @cached_property
    def feed(self):
        """The lead's calendar address of the team's schedule."""
        return roster_services.feed_create(user=self.lead, team=self.team)

    @cached_property
    def window(self):
        """A maintenance window running from an hour ago for five weeks."""
        return maintenance.window_create(
            actor=self.lead,
            team=self.team,
            title=self.text("maintenance window"),
            description=self.text("maintenance description"),
            starts_at=clock.now() - timedelta(hours=1),
            ends_at=clock.now() + timedelta(days=35),
            matchers=[{"name": "job", "value": self.text("matcher"), "is_regex": False}],
        )

    @cached_property
    def component(self):
        """The team's status page component (named after the team)."""
        return status_component(self.team, actor=self.lead)

    @cached_property
    def published(self):
        """The team's incident in progress, published on its component."""
        incident = self.incident(State.IN_PROGRESS)
        status_services.incident_publish(
            incident=incident,
            actor=self.lead,
            components=[self.component],
            impact=Impact.PARTIAL_OUTAGE,
            public_title=self.text("public title"),
            message=self.text("public message"),
        )
        return incident

    @cached_property
    def feedback_link(self):
        """An affected subscriber's feedback link of the published incident, resolved
        on the status page (as its `resolved` mail carries it)."""
        status_services.incident_public_update(
            incident=self.published,
            actor=self.lead,
            status=PublicStatus.RESOLVED,
            message=self.text("public resolved"),
        )
        now = clock.now()
        subscriber = Subscriber.objects.create(
            address=f"affected@{self.team.slug}.example", created_at=now, confirmed_at=now
        )
        return status_feedback.feedback_request_for(incident=self.published, subscriber=subscriber)

    def everything(self, clock_):
        """Open, worked-on, resolved, archived incidents, a post-mortem with an
        overdue action, an article, and escalation notices sent to the team."""
        urgent = self.incident(State.NEW, Severity.P0)
        self.incident(State.IN_PROGRESS)
        services.incident_log(
            incident=self.incident(State.IN_PROGRESS),
            actor=self.owner,
            kind=LogEntry.Kind.PROGRESS,
            text=self.text("log entry"),
        )
        self.incident(State.VERIFYING)
        self.postmortem  # noqa: B018 (builds it)
        self.article  # noqa: B018
        self.override  # noqa: B018 (and the rotation)
        self.handover_note  # noqa: B018
        self.window  # noqa: B018
        sweep_windows(clock.now())  # its start, on the team's timeline
        # A week and a day later: the action is overdue, every open clock has
        # escalated (notices and in-app deliveries to the team's people).
        clock_.shift(timedelta(days=8))
        sweep_due_deadlines()
        return urgent
