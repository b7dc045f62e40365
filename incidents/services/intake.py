"""Step 1, intake: file an incident and correct its intake details."""

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common import clock
from escalation import deadlines
from incidents import rules, selectors, tallies
from incidents.models import Category, Incident, Service, Severity, State, Team, TimelineEvent
from incidents.services.base import (
    CLOCK_SKEW,
    authorize,
    begin,
    check_not_future,
    full_clean,
    next_number,
    save,
)
from incidents.timeline import record_event
from incidents.workflow import Action

# Intake fields that may be corrected later through incident_update.
EDITABLE_FIELDS = (
    "title",
    "symptoms",
    "impact_scope",
    "affected_users",
    "source",
    "category",
    "service",
    "received_at",
    "occurred_at",
)


def intake_time_errors(
    *,
    received_at: datetime,
    occurred_at: datetime | None = None,
    phone_call_at: datetime | None = None,
    now: datetime,
) -> dict[str, list[str]]:
    """Step 1's rules on its times, field → messages: none in the future (beyond
    the clock skew) or before EARLIEST, and not occurred after received. The
    intake form shows them together with its other errors, in one round."""
    errors: dict[str, list[str]] = {}
    for field, value in (
        ("received_at", received_at),
        ("occurred_at", occurred_at),
        ("phone_call_at", phone_call_at),
    ):
        try:
            check_not_future(value, field, now)
        except ValidationError as e:
            errors.update(e.message_dict)
    times_ok = "received_at" not in errors and "occurred_at" not in errors
    if times_ok and occurred_at and occurred_at > min(received_at, now) + CLOCK_SKEW:
        errors["occurred_at"] = [_("The problem cannot occur after it was received.")]
    return errors


@transaction.atomic
def incident_create(
    *,
    actor,
    title: str,
    symptoms: str,
    severity: str,
    source: str,
    impact_scope: str,
    affected_users: int = 0,
    received_at: datetime | None = None,
    occurred_at: datetime | None = None,
    team: Team | None = None,
    category: str = Category.PRODUCTION,
    service: Service | None = None,
    urgent: bool = False,
    phone_call_to: str = "",
    phone_call_at: datetime | None = None,
) -> Incident:
    """File an incident (step 1) and start its respond and resolve clocks.

    Any signed-in user may file, into a team they belong to (managers and
    admins into any team); without a team it goes to the reporter's team.
    `received_at` defaults to now and may be in the past, never the future.
    `phone_call_to` records that the tech lead was phoned about an urgent one.
    """
    now = clock.now()
    authorize(actor, Action.FILE)
    received_at = received_at or now
    errors = intake_time_errors(
        received_at=received_at, occurred_at=occurred_at, phone_call_at=phone_call_at, now=now
    )
    if "received_at" not in errors and received_at > now:
        received_at = now  # within the allowed skew
    if team is None:
        team = selectors.default_team(actor)
        if team is None:
            errors["team"] = [_("Choose the team that owns this incident.")]
    elif (
        actor is not None
        and not rules.context(actor).sees_all
        and team.pk not in rules.context(actor).team_ids
    ):
        errors["team"] = [_("You can only file incidents for your own teams.")]
    if service is not None and team is not None and service.team_id != team.pk:
        errors["service"] = [_("This service belongs to another team.")]
    if severity not in Severity.values:
        errors["severity"] = [
            _("Choose one of %(levels)s.") % {"levels": ", ".join(Severity.values)}
        ]
    if (affected_users or 0) < 0:
        errors["affected_users"] = [_("The number of affected users cannot be negative.")]
    if errors:
        raise ValidationError(errors)

    incident = Incident(
        number="pending",
        title=(title or "").strip(),
        symptoms=(symptoms or "").strip(),
        impact_scope=(impact_scope or "").strip(),
        affected_users=affected_users or 0,
        source=source,
        category=category,
        team=team,
        service=service,
        reporter=actor,
        received_at=received_at,
        occurred_at=occurred_at,
        initial_severity=severity,
        severity=severity,
        urgent=urgent,
        phone_call_made=bool(phone_call_to.strip()),
        phone_call_to=phone_call_to.strip(),
        phone_call_at=(phone_call_at or now) if phone_call_to.strip() else None,
        state=State.NEW,
    )
    # The deadlines are worked out, not typed: the seam sets them as it inserts.
    full_clean(incident, exclude=["team", "reporter", "service", *deadlines.DEADLINE_FIELDS])
    incident.number = next_number(now)
    deadlines.sync(incident, now)
    tallies.move(None, tallies.key_of(incident))
    if urgent and severity == Severity.P0:
        # "Alert the tech lead by phone at once": page through every channel now.
        deadlines.page_now(incident, now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.CREATED,
        to_state=State.NEW,
        data={"severity": severity, "source": source},
    )
    if incident.phone_call_made:
        record_event(
            incident,
            actor,
            TimelineEvent.Kind.PHONE_CALL,
            data={"who": incident.phone_call_to},
            at=incident.phone_call_at,
        )
    return incident


@transaction.atomic
def incident_update(
    *, incident: Incident, actor, expected_version: int | None = None, **changes: Any
) -> Incident:
    """Correct intake details; a new `received_at` moves the deadlines."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in sorted(unknown)})
    incident = begin(incident, actor, Action.EDIT, expected_version)
    if "received_at" in changes and actor is not None and not rules.is_lead_for(actor, incident):
        # received_at drives every deadline: moving it could erase a breach.
        raise PermissionDenied(_("Only a tech lead may change when the problem was received."))
    now = clock.now()
    for field in ("received_at", "occurred_at"):
        if field in changes:
            if field == "received_at" and changes[field] is None:
                raise ValidationError({field: _("This field is required.")})
            check_not_future(changes[field], field, now)
    if changes.get("affected_users") is not None and changes["affected_users"] < 0:
        raise ValidationError(
            {"affected_users": _("The number of affected users cannot be negative.")}
        )
    if changes.get("service") is not None and changes["service"].team_id != incident.team_id:
        raise ValidationError({"service": _("This service belongs to another team.")})

    diff = {}
    for field, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        old = getattr(incident, field)
        if old != value:
            diff[field] = (old, value)
            setattr(incident, field, value)
    if not diff:
        return incident
    occurred, received = incident.occurred_at, incident.received_at
    if occurred and occurred > received + CLOCK_SKEW:
        raise ValidationError({"occurred_at": _("The problem cannot occur after it was received.")})
    full_clean(incident, exclude=["team", "reporter", "service", "owner"])
    save(incident, diff, now)
    record_event(incident, actor, TimelineEvent.Kind.UPDATED, changes=diff)
    return incident
