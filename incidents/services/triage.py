"""Steps 2 and 3: acknowledge, grade (diagnosis and level), assign."""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from escalation import deadlines
from incidents.models import (
    Assignment,
    ExternalContact,
    Grading,
    Incident,
    Severity,
    State,
    TimelineEvent,
)
from incidents.services.base import begin, required, save
from incidents.timeline import record_event
from incidents.workflow import Action


@transaction.atomic
def incident_acknowledge(
    *, incident: Incident, actor, expected_version: int | None = None, note: str = ""
) -> Incident:
    """A tech lead takes the incident: stops the respond clock, starts updates."""
    incident = begin(incident, actor, Action.ACKNOWLEDGE, expected_version)
    now = clock.now()
    save(incident, _acknowledge(incident, now), now)
    _record_acknowledged(incident, actor, note.strip())
    return incident


def _acknowledge(incident: Incident, now: datetime) -> list[str]:
    """Move a `new` incident to `acknowledged` (the respond clock stops, the
    update clock starts); returns the fields to save."""
    incident.state = State.ACKNOWLEDGED
    incident.acknowledged_at = now
    incident.respond_sla = deadlines.sla_time(incident, incident.received_at, now)
    return ["state", "acknowledged_at", "respond_sla"]


def _record_acknowledged(incident: Incident, actor, message: str = "", data=None) -> None:
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.ACKNOWLEDGED,
        from_state=State.NEW,
        to_state=State.ACKNOWLEDGED,
        message=message,
        data=data,
    )


@transaction.atomic
def incident_grade(
    *,
    incident: Incident,
    actor,
    severity: str,
    diagnosis: str,
    expected_version: int | None = None,
    reproduced: bool | None = None,
    findings: str = "",
    impact_assessment: str = "",
) -> Incident:
    """Record a diagnosis and level; a new level recomputes every deadline.

    Allowed at any point before the incident is resolved; every grading is kept.
    Grading a `new` incident is a response too: it also acknowledges it, at the
    grading's time (after the new level's deadlines were set).
    """
    incident = begin(incident, actor, Action.GRADE, expected_version)
    if severity not in Severity.values:
        raise ValidationError(
            {"severity": _("Choose one of %(levels)s.") % {"levels": ", ".join(Severity.values)}}
        )
    diagnosis = required(diagnosis, "diagnosis", _("Write down the diagnosis."))
    now = clock.now()
    previous = incident.severity
    Grading.objects.create(
        incident=incident,
        severity=severity,
        previous_severity=previous,
        diagnosis=diagnosis,
        reproduced=reproduced,
        findings=findings.strip(),
        impact_assessment=impact_assessment.strip(),
        graded_by=actor,
        graded_at=now,
    )
    diff = {}
    fields = []
    moved = ("respond_by", "resolve_by", "next_update_by")
    before = [getattr(incident, name) for name in moved]
    if severity != previous:
        diff["severity"] = (previous, severity)
        incident.severity = severity
        fields = ["severity"]
    acknowledging = incident.state == State.NEW
    if acknowledging:
        fields = [*fields, *_acknowledge(incident, now)]
    # The seam moves the pending deadlines to the new level (the respond deadline
    # stays where it was when the response was made already).
    save(incident, fields, now)
    if severity != previous:
        for name, old in zip(moved, before, strict=True):
            new = getattr(incident, name)
            # The update clock that acknowledging starts is told by that event.
            if old != new and not (acknowledging and name == "next_update_by"):
                diff[name] = (old, new)
    record_event(incident, actor, TimelineEvent.Kind.GRADED, changes=diff, message=diagnosis)
    if acknowledging:
        _record_acknowledged(incident, actor, data={"by": "grading"})
    return incident


def _default_goal(incident: Incident) -> str:
    w = deadlines.windows(incident)
    return _("%(severity)s: restore within %(resolve)s, report progress every %(update)s min") % {
        "severity": incident.severity,
        "resolve": clock.duration_text(w.resolve),
        "update": int(w.update.total_seconds() // 60),
    }


@transaction.atomic
def incident_assign(
    *,
    incident: Incident,
    actor,
    owner,
    helpers: Iterable = (),
    goal: str = "",
    time_limit: datetime | None = None,
    external_contacts: Iterable[dict] = (),
    expected_version: int | None = None,
) -> Incident:
    """Name the first owner and helpers (step 3); reassigning keeps the history.

    The time limit defaults to the resolve deadline and the goal to the
    level's, e.g. "P0: restore within 2 h, report progress every 30 min".
    """
    incident = begin(incident, actor, Action.ASSIGN, expected_version)
    if owner is None:
        raise ValidationError({"owner": _("Name the owner.")})
    if not owner.is_active:
        raise ValidationError({"owner": _("%(user)s is not an active user.") % {"user": owner}})
    helpers = [h for h in helpers if h.pk != owner.pk]
    inactive = [str(h) for h in helpers if not h.is_active]
    if inactive:
        raise ValidationError(
            {"helpers": _("Not active users: %(users)s.") % {"users": ", ".join(inactive)}}
        )
    now = clock.now()
    if time_limit is not None and timezone.is_naive(time_limit):
        raise ValidationError({"time_limit": _("Give a time zone with the time.")})
    # A form that opens with the incident's contacts sends them back: a contact
    # the incident already has (same name, organisation, contact, owes) is kept,
    # not added twice.
    known = set(incident.external_contacts.values_list("name", "organisation", "contact", "owes"))
    contacts = []
    for i, data in enumerate(external_contacts):
        contact = ExternalContact(
            incident=incident,
            name=(data.get("name") or "").strip(),
            organisation=(data.get("organisation") or "").strip(),
            contact=(data.get("contact") or "").strip(),
            owes=(data.get("owes") or "").strip(),
            added_by=actor,
            added_at=now,
        )
        if not contact.name:
            raise ValidationError(
                {"external_contacts": _("Contact %(n)s has no name.") % {"n": i + 1}}
            )
        key = (contact.name, contact.organisation, contact.contact, contact.owes)
        if key not in known:
            known.add(key)
            contacts.append(contact)

    old_owner = incident.owner
    old_helpers = sorted(u.username for u in incident.helpers.all())
    from_state = incident.state
    incident.owner = owner
    incident.goal = goal.strip() or _default_goal(incident)
    incident.time_limit = time_limit or incident.resolve_by
    fields = ["owner", "goal", "time_limit"]
    if incident.state == State.ACKNOWLEDGED:
        incident.state = State.ASSIGNED
        fields.append("state")
    if incident.assigned_at is None:
        incident.assigned_at = now
        fields.append("assigned_at")
    save(incident, fields, now)
    incident.helpers.set(helpers)
    assignment = Assignment.objects.create(
        incident=incident,
        owner=owner,
        goal=incident.goal,
        time_limit=incident.time_limit,
        assigned_by=actor,
        assigned_at=now,
    )
    assignment.helpers.set(helpers)
    ExternalContact.objects.bulk_create(contacts)
    diff = {}
    if old_owner != owner:
        diff["owner"] = (old_owner.username if old_owner else None, owner.username)
    new_helpers = sorted(u.username for u in helpers)
    if old_helpers != new_helpers:
        diff["helpers"] = (old_helpers, new_helpers)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.ASSIGNED,
        from_state=from_state if from_state != incident.state else "",
        to_state=incident.state if from_state != incident.state else "",
        changes=diff,
        message=incident.goal,
    )
    return incident
