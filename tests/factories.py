"""Factories and process drivers for the test suite.

Users and teams are plain rows. Incidents are never hand-built: the
IncidentFactory files them through `incidents.services.incident_create`, and
the `*_incident` helpers below drive them through the real services, so every
state a test starts from is one the application can actually reach.
"""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from escalation.models import SlaPolicy
from escalation.status import services as status_services
from escalation.status.models import Component
from incidents import rules, services
from incidents.models import Incident, LogEntry, Pause, Severity, Source, State, Team, UserProfile
from incidents.workflow import Action
from knowledge import services as knowledge_services

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.LazyAttribute(lambda u: u.username.title())
    is_active = True
    password = factory.django.Password("responder-test")


class UserProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserProfile

    user = factory.SubFactory(UserFactory)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    """The levels are seeded by a migration; this reuses (and edits) the seeded row."""

    class Meta:
        model = SlaPolicy
        django_get_or_create = ("severity",)

    severity = Severity.P2
    respond_minutes = 30
    resolve_minutes = 480
    update_minutes = 60


def make_user(role: str | None, team: Team | None = None, *, lead: bool = False, **kwargs):
    """A user holding `role` (a seeded group name), member of `team`.

    `lead=True` also names the user one of the team's `tech_leads`; a user with
    the "manager" role becomes the team's manager.
    """
    user = UserFactory(**kwargs)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    if team is not None:
        team.members.add(user)
        if lead:
            team.tech_leads.add(user)
        if role == rules.Role.MANAGER:
            team.manager = user
            team.save(update_fields=["manager"])
    rules.forget(user)
    return user


class IncidentFactory(factory.Factory):
    """Files an incident through `incident_create`, as the intake form does.

    Pass `actor` (the reporter) or get a fresh on-duty user in a fresh team.
    """

    class Meta:
        model = Incident

    actor = factory.LazyFunction(lambda: make_user(rules.Role.ON_DUTY, TeamFactory()))
    title = factory.Sequence(lambda n: f"Checkout returns 502 #{n}")
    symptoms = "Payment page shows a 502 for about a third of requests."
    severity = Severity.P2
    source = Source.MONITORING
    impact_scope = "Checkout in the mainland region"
    affected_users = 120

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("incidents are filed through incident_create, never built")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.incident_create(**kwargs)


# ---------------------------------------------------------------- process drivers
#
# Each driver files (or takes) an incident and moves it one state further with
# the real services, as the people named in the arguments.


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def new_incident(*, reporter, **kwargs) -> Incident:
    return IncidentFactory(actor=reporter, **kwargs)


def acknowledged_incident(*, lead, reporter=None, **kwargs) -> Incident:
    incident = new_incident(reporter=reporter or lead, **kwargs)
    return _fresh(services.incident_acknowledge(incident=incident, actor=lead))


def assigned_incident(*, lead, owner, helpers=(), reporter=None, **kwargs) -> Incident:
    incident = acknowledged_incident(lead=lead, reporter=reporter, **kwargs)
    return _fresh(
        services.incident_assign(incident=incident, actor=lead, owner=owner, helpers=helpers)
    )


def in_progress_incident(*, lead, owner, helpers=(), reporter=None, **kwargs) -> Incident:
    incident = assigned_incident(
        lead=lead, owner=owner, helpers=helpers, reporter=reporter, **kwargs
    )
    services.incident_log(
        incident=incident,
        actor=owner,
        kind=LogEntry.Kind.ACTION,
        text="Rolled the gateway back to yesterday's build.",
    )
    return _fresh(incident)


def verifying_incident(*, lead, owner, helpers=(), reporter=None, **kwargs) -> Incident:
    incident = in_progress_incident(
        lead=lead, owner=owner, helpers=helpers, reporter=reporter, **kwargs
    )
    return _fresh(
        services.incident_resolve(
            incident=incident,
            actor=owner,
            workaround="Traffic moved to the standby gateway.",
            fix="Connection pool size raised and alerting added.",
        )
    )


def resolved_incident(*, lead, owner, tester=None, helpers=(), reporter=None, **kwargs) -> Incident:
    incident = verifying_incident(
        lead=lead, owner=owner, helpers=helpers, reporter=reporter, **kwargs
    )
    return _fresh(
        services.incident_verify(
            incident=incident,
            actor=tester or lead,
            functional_ok=True,
            regression_ok=True,
            monitoring_ok=True,
            notes="Checkout green for 30 minutes.",
        )
    )


def complete_postmortem(incident: Incident, *, lead, owner) -> None:
    """What a P0/P1 needs before archiving: the post-mortem and one action."""
    from datetime import timedelta

    from common import clock
    from knowledge import services as knowledge

    knowledge.postmortem_save(
        incident=incident,
        actor=lead,
        summary="Checkout failed for a third of requests.",
        root_cause_category="change_config",
        root_cause="A config push halved the connection pool.",
        contributing_factors="No alert on pool saturation.",
        lessons="Alert on pool saturation; review config pushes.",
        meeting_date=clock.now().date(),
        attendees=[lead, owner],
    )
    knowledge.action_item_add(
        incident=incident,
        actor=lead,
        text="Add a pool saturation alert.",
        owner=owner,
        due_date=clock.now().date() + timedelta(days=7),
    )


def archived_incident(*, lead, owner, tester=None, helpers=(), reporter=None, **kwargs) -> Incident:
    incident = resolved_incident(
        lead=lead, owner=owner, tester=tester, helpers=helpers, reporter=reporter, **kwargs
    )
    if incident.severity in (Severity.P0, Severity.P1):
        complete_postmortem(incident, lead=lead, owner=owner)
    return _fresh(
        knowledge_services.incident_archive(
            incident=incident,
            actor=lead,
            summary="Pool exhaustion after a config push; pool raised, alert added.",
        )
    )


def cancelled_incident(*, lead, reporter=None, **kwargs) -> Incident:
    incident = new_incident(reporter=reporter or lead, **kwargs)
    return _fresh(
        services.incident_cancel(incident=incident, actor=lead, reason="Duplicate of INC-1.")
    )


def incident_in_state(state: str, *, lead, owner, tester=None, helpers=(), **kwargs) -> Incident:
    """An incident in `state`, reached through the services."""
    match state:
        case State.NEW:
            return new_incident(reporter=kwargs.pop("reporter", None) or lead, **kwargs)
        case State.ACKNOWLEDGED:
            return acknowledged_incident(lead=lead, **kwargs)
        case State.ASSIGNED:
            return assigned_incident(lead=lead, owner=owner, helpers=helpers, **kwargs)
        case State.IN_PROGRESS:
            return in_progress_incident(lead=lead, owner=owner, helpers=helpers, **kwargs)
        case State.VERIFYING:
            return verifying_incident(lead=lead, owner=owner, helpers=helpers, **kwargs)
        case State.RESOLVED:
            return resolved_incident(
                lead=lead, owner=owner, tester=tester, helpers=helpers, **kwargs
            )
        case State.ARCHIVED:
            return archived_incident(
                lead=lead, owner=owner, tester=tester, helpers=helpers, **kwargs
            )
        case State.CANCELLED:
            return cancelled_incident(lead=lead, **kwargs)
    raise ValueError(f"unknown state {state!r}")


# ---------------------------------------------------------------- one call per action

# A state in which each process action is allowed, to reach before trying it.
STATE_FOR_ACTION = {
    Action.ACKNOWLEDGE: State.NEW,
    Action.GRADE: State.ACKNOWLEDGED,
    Action.ASSIGN: State.ACKNOWLEDGED,
    Action.LOG: State.ASSIGNED,
    Action.RESOLVE: State.IN_PROGRESS,
    Action.VERIFY: State.VERIFYING,
    Action.NOTIFY_USERS: State.RESOLVED,
    Action.FEEDBACK: State.RESOLVED,
    Action.ARCHIVE: State.RESOLVED,
    Action.REOPEN: State.RESOLVED,
    Action.CANCEL: State.NEW,
    Action.PAUSE: State.IN_PROGRESS,
    Action.RESUME: State.IN_PROGRESS,  # and paused: see pause_for()
    Action.PUBLISH: State.IN_PROGRESS,  # needs a component: see status_component()
}


def status_component(team: Team, *, actor=None):
    """The team's status page component (made once, through component_create, by
    one of its tech leads), to publish the team's incidents on."""
    slug = f"{team.slug}-site"
    found = Component.objects.filter(slug=slug).first()
    if found is not None:
        return found
    return status_services.component_create(
        actor=actor or team.tech_leads.first(), slug=slug, name=f"{team.name} site", team=team
    )


def perform(action: Action, *, incident: Incident, actor, **overrides):
    """Call the service behind `action` with valid input (overridable)."""
    calls = {
        Action.ACKNOWLEDGE: (services.incident_acknowledge, {}),
        Action.GRADE: (
            services.incident_grade,
            {"severity": Severity.P1, "diagnosis": "Connection pool exhausted."},
        ),
        Action.ASSIGN: (services.incident_assign, {"owner": actor}),
        Action.LOG: (
            services.incident_log,
            {"kind": LogEntry.Kind.PROGRESS, "text": "Still rolling back."},
        ),
        Action.RESOLVE: (services.incident_resolve, {"fix": "Pool size raised."}),
        Action.VERIFY: (
            services.incident_verify,
            {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
        ),
        Action.NOTIFY_USERS: (
            services.incident_notify_users,
            {"message": "Checkout works again."},
        ),
        Action.FEEDBACK: (services.incident_record_feedback, {"text": "Users confirm."}),
        Action.ARCHIVE: (
            knowledge_services.incident_archive,
            {"summary": "Pool exhaustion; fixed."},
        ),
        Action.REOPEN: (services.incident_reopen, {"reason": "502s are back."}),
        Action.CANCEL: (services.incident_cancel, {"reason": "False alarm."}),
        Action.PAUSE: (
            services.incident_pause,
            {"reason": "Waiting for the replacement disk.", "waiting_on": "Dell support"},
        ),
        Action.RESUME: (services.incident_resume, {}),
    }
    service, kwargs = calls[action]
    return service(incident=incident, actor=actor, **{**kwargs, **overrides})


def ready_for(action: Action, incident: Incident) -> Incident:
    """`incident` (in STATE_FOR_ACTION[action]) made ready for `action`: paused for
    a resume; as it is otherwise."""
    if action == Action.RESUME and incident.paused_at is None:
        by = incident.owner or incident.reporter or incident.team.tech_leads.first()
        paused(incident, by=by)
    return incident


def paused(incident: Incident, *, by, reason="Waiting for the vendor.") -> Incident:
    """The incident as if paused a minute ago, its version unchanged (so a test's
    expected_version still holds); services.incident_pause is tested on its own."""
    from common import clock

    at = clock.now() - timedelta(minutes=1)
    Pause.objects.create(incident=incident, started_at=at, reason=reason, paused_by=by)
    Incident.objects.filter(pk=incident.pk).update(paused_at=at, pause_reason=reason)
    incident.refresh_from_db()
    return incident


# ---------------------------------------------------------------- snapshots


def incident_snapshot(incident: Incident) -> dict:
    """What a refused call must leave alone, re-read from the database."""
    row = Incident.objects.get(pk=incident.pk)
    return {
        "state": row.state,
        "version": row.version,
        "severity": row.severity,
        "respond_by": row.respond_by,
        "resolve_by": row.resolve_by,
        "next_update_by": row.next_update_by,
        "update_clock_from": row.update_clock_from,
        "owner_id": row.owner_id,
        "events": row.events.count(),
        "gradings": row.gradings.count(),
        "assignments": row.assignments.count(),
        "log_entries": row.log_entries.count(),
        "resolutions": row.resolutions.count(),
        "verifications": row.verifications.count(),
        "user_notifications": row.user_notifications.count(),
        "feedback": row.feedback.count(),
    }


def make_rotation(
    *,
    actor,
    team: Team,
    people,
    layer: str = "primary",
    name: str = "",
    shift_days: int = 7,
    handoff_time=None,
    start_date=None,
    weekdays: str = "0123456",
    day_start=None,
    day_end=None,
):
    """A rotation written through escalation.roster.services.rotation_save (as a lead would)."""
    from datetime import date, time

    from escalation.roster import services as roster_services

    spec = roster_services.RotationSpec(
        name=name or f"{layer} rotation",
        layer=layer,
        participants=list(people),
        shift_days=shift_days,
        handoff_time=handoff_time or time(9, 0),
        start_date=start_date or date(2026, 11, 23),  # the Monday before NOW
        weekdays=weekdays,
        day_start=day_start,
        day_end=day_end,
    )
    return roster_services.rotation_save(actor=actor, team=team, spec=spec)
