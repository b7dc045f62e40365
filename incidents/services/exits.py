"""The exits: reopen (the problem is back) and cancel (duplicate or false alarm),
and which actions a user may take now. Archiving is knowledge's
(knowledge.services.incident_archive)."""

from django.db import transaction
from django.utils.translation import gettext as _

from common import clock
from incidents import rules
from incidents.models import Incident, Resolution, State, TimelineEvent
from incidents.services.base import begin, end_pause, required, save
from incidents.signals import incident_reopened
from incidents.timeline import record_event
from incidents.workflow import Action, actions_allowed_in


@transaction.atomic
def incident_reopen(
    *, incident: Incident, actor, reason: str, expected_version: int | None = None
) -> Incident:
    """The problem is back: a resolved or archived incident returns to work.

    The resolve clock runs again from `received_at` (service was not really
    restored); the update clock restarts now.
    """
    incident = begin(incident, actor, Action.REOPEN, expected_version)
    reason = required(reason, "reason", _("Say why the incident is reopened."))
    now = clock.now()
    from_state = incident.state
    incident.state = State.IN_PROGRESS
    incident.restored_at = None
    incident.resolve_sla = None
    incident.resolved_at = None
    incident.archived_at = None
    incident.resolution_submitted_at = None
    incident.reopen_count += 1
    fields = ["state", "restored_at", "resolved_at", "archived_at", "resolution_submitted_at"]
    save(incident, [*fields, "resolve_sla", "reopen_count"], now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.REOPENED,
        from_state=from_state,
        to_state=State.IN_PROGRESS,
        message=reason,
    )
    incident_reopened.send(Incident, incident=incident, from_state=from_state)
    return incident


@transaction.atomic
def incident_cancel(
    *, incident: Incident, actor, reason: str, expected_version: int | None = None
) -> Incident:
    """Close an open incident that needs no work: duplicate or false alarm."""
    incident = begin(incident, actor, Action.CANCEL, expected_version)
    reason = required(reason, "reason", _("Say why: duplicate of which incident, or false alarm."))
    from_state = incident.state
    incident.state = State.CANCELLED
    now = clock.now()
    incident.cancelled_at = now
    incident.cancel_reason = reason
    ended = end_pause(incident, actor, now)
    incident.resolutions.filter(outcome=Resolution.Outcome.PENDING).update(
        outcome=Resolution.Outcome.WITHDRAWN
    )
    save(incident, ["state", "cancelled_at", "cancel_reason", *ended], now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.CANCELLED,
        from_state=from_state,
        to_state=State.CANCELLED,
        message=reason,
    )
    return incident


def available_actions(user, incident: Incident) -> list[Action]:
    """The process actions `user` may take on `incident` in its current state (pause
    or resume, whichever fits)."""
    return [
        a
        for a in actions_allowed_in(incident.state, incident.paused)
        if rules.can(user, a, incident)
    ]
