"""Step 4, handling: the process log, the resolution submitted for verification,
and pauses while the incident waits on someone outside the team."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from common.errors import TransitionNotAllowed
from escalation import deadlines
from incidents.models import (
    UPDATE_CLOCK_STATES,
    Incident,
    LogEntry,
    Pause,
    Resolution,
    State,
    TimelineEvent,
)
from incidents.services.base import begin, check_not_future, end_pause, lock, required, save
from incidents.timeline import record_event
from incidents.workflow import Action, actions_allowed_in


@transaction.atomic
def incident_log(
    *,
    incident: Incident,
    actor,
    kind: str,
    text: str,
    happened_at: datetime | None = None,
    expected_version: int | None = None,
) -> LogEntry:
    """Add a process-log entry (step 4).

    The first entry by the owner or a helper moves `assigned` to
    `in_progress`; a `progress` entry restarts the update clock. `happened_at`
    may be earlier than now (logging after the fact), never later.
    """
    incident = begin(incident, actor, Action.LOG, expected_version)
    if kind not in LogEntry.Kind.values:
        raise ValidationError(
            {
                "kind": _("Unknown kind; use one of %(kinds)s.")
                % {"kinds": ", ".join(LogEntry.Kind.values)}
            }
        )
    text = required(text, "text", _("Write what happened."))
    now = clock.now()
    check_not_future(happened_at, "happened_at", now)
    if happened_at and happened_at < incident.received_at - timedelta(days=1):
        raise ValidationError({"happened_at": _("This is long before the incident was received.")})
    entry = LogEntry.objects.create(
        incident=incident,
        author=actor,
        kind=kind,
        text=text,
        happened_at=min(happened_at or now, now),
        created_at=now,
    )
    fields: list[str] = []
    diff = {}
    from_state = incident.state
    is_worker = actor is not None and (
        incident.owner_id == actor.pk or incident.helpers.filter(pk=actor.pk).exists()
    )
    if incident.state == State.ASSIGNED and is_worker:
        incident.state = State.IN_PROGRESS
        incident.started_at = now
        fields += ["state", "started_at"]
    if kind == LogEntry.Kind.BLOCKER:
        # "Any blocker goes to the tech lead at once."
        deadlines.alert_blocker(incident, entry.pk, now)
    progress = kind == LogEntry.Kind.PROGRESS and incident.state in UPDATE_CLOCK_STATES
    old = incident.next_update_by
    save(incident, fields, now, progress=progress)
    if progress:
        diff["next_update_by"] = (old, incident.next_update_by)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.LOGGED,
        from_state=from_state if fields and "state" in fields else "",
        to_state=incident.state if fields and "state" in fields else "",
        changes=diff,
        data={"kind": kind, "text": text},
    )
    entry.incident = incident
    return entry


@transaction.atomic
def incident_note_from_monitoring(*, incident: Incident, text: str) -> LogEntry:
    """Monitoring's own note (alert fired again, resolved at the source).

    Allowed in any state: a resolved alert is recorded even on a closed
    incident, and never changes its state — a person verifies.
    """
    incident = lock(incident)
    now = clock.now()
    entry = LogEntry.objects.create(
        incident=incident,
        author=None,
        kind=LogEntry.Kind.NOTE,
        text=required(text, "text", _("Empty note.")),
        happened_at=now,
        created_at=now,
    )
    save(incident, [], now)
    record_event(
        incident, None, TimelineEvent.Kind.LOGGED, data={"kind": "monitoring", "text": entry.text}
    )
    entry.incident = incident
    return entry


@transaction.atomic
def incident_resolve(
    *,
    incident: Incident,
    actor,
    workaround: str = "",
    fix: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Submit the workaround and/or fix; the incident waits for verification.

    The resolve clock keeps running until a verification passes; then it
    counts as stopped at this submission.
    """
    incident = begin(incident, actor, Action.RESOLVE, expected_version)
    workaround, fix = (workaround or "").strip(), (fix or "").strip()
    if not workaround and not fix:
        raise ValidationError(
            {"fix": _("Describe the temporary workaround, the long-term fix, or both.")}
        )
    now = clock.now()
    Resolution.objects.create(
        incident=incident,
        workaround=workaround,
        fix=fix,
        submitted_by=actor,
        submitted_at=now,
    )
    from_state = incident.state
    incident.state = State.VERIFYING
    incident.resolution_submitted_at = now
    if incident.started_at is None:
        incident.started_at = now
    save(incident, ["state", "resolution_submitted_at", "started_at"], now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.RESOLUTION_SUBMITTED,
        from_state=from_state,
        to_state=State.VERIFYING,
        data={"workaround": workaround, "fix": fix},
    )
    return incident


@transaction.atomic
def incident_pause(
    *,
    incident: Incident,
    actor,
    reason: str,
    waiting_on: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Hold the resolve and update clocks while the incident waits on someone outside
    the team (a vendor, the customer, another team); the respond clock runs on.

    Only the owner or a tech lead pauses, only an open incident, and only once at a
    time. No resolve, warning or update notice is sent while paused; a pause longer
    than SLA_PAUSE_LIMIT_HOURS tells the tech leads once.
    """
    incident = begin(incident, actor, Action.PAUSE, expected_version)
    if incident.paused_at is not None:
        raise TransitionNotAllowed(
            _("%(number)s is already paused (since %(since)s).")
            % {
                "number": incident.number,
                "since": timezone.localtime(incident.paused_at).strftime("%Y-%m-%d %H:%M"),
            },
            state=incident.state,
            allowed=[a.value for a in actions_allowed_in(incident.state, True)],
        )
    reason = required(reason, "reason", _("Say what the incident is waiting for."))
    waiting_on = (waiting_on or "").strip()
    now = clock.now()
    Pause.objects.create(
        incident=incident, started_at=now, reason=reason, waiting_on=waiting_on, paused_by=actor
    )
    incident.paused_at = now
    incident.pause_reason = reason
    incident.pause_waiting_on = waiting_on
    save(incident, ["paused_at", "pause_reason", "pause_waiting_on"], now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.PAUSED,
        data={"reason": reason, "waiting_on": waiting_on},
    )
    return incident


@transaction.atomic
def incident_resume(*, incident: Incident, actor, expected_version: int | None = None) -> Incident:
    """Restart the held clocks: the resolve deadline moves later by the SLA time spent
    paused, and the next progress update is due one cadence after the resume."""
    incident = begin(incident, actor, Action.RESUME, expected_version)
    if incident.paused_at is None:
        raise TransitionNotAllowed(
            _("%(number)s is not paused.") % {"number": incident.number},
            state=incident.state,
            allowed=[a.value for a in actions_allowed_in(incident.state, False)],
        )
    now = clock.now()
    since, old_resolve_by = incident.paused_at, incident.resolve_by
    # Ending the pause restarts the update clock (escalation.deadlines).
    save(incident, end_pause(incident, actor, now), now)
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.RESUMED,
        changes={"resolve_by": (old_resolve_by, incident.resolve_by)},
        data={"paused_seconds": int(max(now - since, timedelta(0)).total_seconds())},
    )
    return incident


@transaction.atomic
def incident_hold_for_window(*, incident: Incident, window, now: datetime) -> Incident:
    """An incident a maintenance window in mode "mark" let through opens marked with
    the window and held: its respond, resolve and update clocks wait (a pause from
    the moment it was received) until the window ends. Pages nobody meanwhile."""
    incident = lock(incident)
    if not incident.is_open or incident.paused_at is not None:
        return incident
    reason = _("Maintenance window: %(title)s") % {"title": window.title}
    Pause.objects.create(incident=incident, started_at=incident.received_at, reason=reason)
    incident.maintenance_window = window
    incident.paused_at = incident.received_at
    incident.pause_reason = reason
    save(incident, ["maintenance_window", "paused_at", "pause_reason"], now)
    record_event(
        incident, None, TimelineEvent.Kind.PAUSED, data={"reason": reason, "waiting_on": ""}
    )
    return incident


@transaction.atomic
def incident_release_from_window(*, incident: Incident, now: datetime) -> Incident:
    """The window that held the incident ended: its clocks run from now on (the held
    time is added to the respond and resolve windows). Idempotent; an incident
    whose hold a person already ended is left as it is."""
    incident = lock(incident)
    if not incident.held_by_window:
        return incident
    since = incident.paused_at
    save(incident, end_pause(incident, None, now), now)
    record_event(
        incident,
        None,
        TimelineEvent.Kind.RESUMED,
        data={"paused_seconds": int(max(now - since, timedelta(0)).total_seconds())},
    )
    return incident
