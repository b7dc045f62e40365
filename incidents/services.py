"""Every write to an incident: one function per step of the process.

Each service is keyword-only and atomic. It locks the incident row, checks the
actor's role (incidents.rules), the state (incidents.workflow) and the input,
changes the incident, bumps its version and writes a TimelineEvent in the same
transaction. A refusal raises before anything is written:

- PermissionDenied: the actor's role may not do this;
- TransitionNotAllowed: the incident's state forbids it;
- ValidationError: the input is wrong (field → messages);
- StaleVersion: `expected_version` is older than the stored version.

`actor=None` means the system itself (alert intake, tasks); it skips the role
check, never the state and input checks.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from common.errors import StaleVersion, TransitionNotAllowed
from escalation import deadlines, jobs
from escalation.sla import clock_for, compute_deadlines, windows_for
from incidents import rules, selectors, tallies
from incidents.models import (
    UPDATE_CLOCK_STATES,
    Assignment,
    Category,
    ExternalContact,
    Grading,
    Incident,
    IncidentSequence,
    LogEntry,
    Pause,
    Resolution,
    Service,
    Severity,
    State,
    Team,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    Verification,
)
from incidents.timeline import record_event
from incidents.workflow import Action, actions_allowed_in, check_state
from knowledge import services as knowledge

User = get_user_model()

# Clocks of reporters' machines drift; a received_at this far ahead of ours is
# taken as "now" rather than refused.
CLOCK_SKEW = timedelta(seconds=60)

# No incident of ours happened before this; older times are typing mistakes.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

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


# ---------------------------------------------------------------- helpers


def _lock(incident: Incident | int) -> Incident:
    """The incident's row, locked for this transaction (only that row: of=self)."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    locked = Incident.objects.select_for_update(of=("self",)).select_related("team").get(pk=pk)
    locked._tally_key = tallies.key_of(locked)
    return locked


def _check_version(incident: Incident, expected_version: int | None) -> None:
    if expected_version is None or incident.version == expected_version:
        return
    raise StaleVersion(
        _(
            "%(number)s was changed by someone else (your version %(expected)s, "
            "now %(current)s). Reload it and apply your change again."
        )
        % {"number": incident.number, "expected": expected_version, "current": incident.version},
        expected=expected_version,
        current=incident.version,
    )


def _authorize(actor, action: Action, incident: Incident | None = None) -> None:
    if actor is not None:
        rules.require(actor, action, incident)


def _save(incident: Incident, fields: Iterable[str]) -> None:
    incident.version += 1
    incident.save(update_fields=[*set(fields), "version", "updated_at"])
    tallies.move(incident._tally_key, tallies.key_of(incident))
    incident._tally_key = tallies.key_of(incident)
    deadlines.sync(incident)


def _required(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


def _check_not_future(value: datetime | None, field: str, now: datetime) -> None:
    if value is None:
        return
    if timezone.is_naive(value):
        raise ValidationError({field: _("Give a time zone with the time.")})
    if value > now + CLOCK_SKEW:
        raise ValidationError({field: _("This time is in the future.")})
    if value < EARLIEST:
        raise ValidationError({field: _("This time is too far in the past.")})


def _ended_pauses(incident: Incident) -> list[tuple[datetime, datetime]]:
    if incident.pk is None or not incident.paused_for:
        return []
    return list(
        incident.pauses.filter(ended_at__isnull=False).values_list("started_at", "ended_at")
    )


def _set_deadlines(incident: Incident) -> None:
    """Recompute the deadlines from the incident's level, clock starts and pauses, in
    the level's SLA time (24×7 or its business calendar, in the team's zone)."""
    running_update = incident.state in UPDATE_CLOCK_STATES
    deadlines = compute_deadlines(
        severity=incident.severity,
        received_at=incident.received_at,
        update_clock_from=incident.update_clock_from if running_update else None,
        team=incident.team,
        paused=_ended_pauses(incident),
    )
    incident.respond_by = deadlines.respond_by
    incident.resolve_by = deadlines.resolve_by
    incident.next_update_by = deadlines.next_update_by
    incident.resolve_warn_by = deadlines.resolve_warn_by


DEADLINE_FIELDS = (
    "respond_by",
    "resolve_by",
    "next_update_by",
    "update_clock_from",
    "resolve_warn_by",
)


def _sla_taken(incident: Incident, start: datetime, end: datetime, pauses=()) -> timedelta:
    """SLA time from `start` to `end`: working time of the level's calendar, less
    the SLA time of the pauses within it (metrics: "SLA time")."""
    _w, sla = clock_for(incident.severity, incident.team)
    held = sum((sla.elapsed(max(a, start), min(b, end)) for a, b in pauses), timedelta(0))
    return max(sla.elapsed(start, end) - held, timedelta(0))


def _next_number(at: datetime) -> str:
    day = timezone.localdate(at)
    IncidentSequence.objects.bulk_create([IncidentSequence(day=day, last=0)], ignore_conflicts=True)
    seq = IncidentSequence.objects.select_for_update().get(day=day)
    seq.last += 1
    seq.save(update_fields=["last"])
    return f"INC-{day:%Y%m%d}-{seq.last:04d}"


def _full_clean(obj, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


# ---------------------------------------------------------------- step 1


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
            _check_not_future(value, field, now)
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
    _authorize(actor, Action.FILE)
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
    _set_deadlines(incident)
    _full_clean(incident, exclude=["team", "reporter", "service"])
    incident.number = _next_number(now)
    incident.save()
    tallies.move(None, tallies.key_of(incident))
    deadlines.sync(incident)
    if urgent and severity == Severity.P0:
        # "Alert the tech lead by phone at once": page through every channel now.
        deadlines.page_now(incident, now)
        transaction.on_commit(jobs.sweep_soon)
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
    incident = _lock(incident)
    _authorize(actor, Action.EDIT, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.EDIT)
    if "received_at" in changes and actor is not None and not rules.is_lead_for(actor, incident):
        # received_at drives every deadline: moving it could erase a breach.
        raise PermissionDenied(_("Only a tech lead may change when the problem was received."))
    now = clock.now()
    for field in ("received_at", "occurred_at"):
        if field in changes:
            if field == "received_at" and changes[field] is None:
                raise ValidationError({field: _("This field is required.")})
            _check_not_future(changes[field], field, now)
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
    fields = set(diff)
    if "received_at" in diff:
        _set_deadlines(incident)
        fields |= set(DEADLINE_FIELDS)
    occurred, received = incident.occurred_at, incident.received_at
    if occurred and occurred > received + CLOCK_SKEW:
        raise ValidationError({"occurred_at": _("The problem cannot occur after it was received.")})
    _full_clean(incident, exclude=["team", "reporter", "service", "owner"])
    _save(incident, fields)
    record_event(incident, actor, TimelineEvent.Kind.UPDATED, changes=diff)
    return incident


# ---------------------------------------------------------------- step 2


@transaction.atomic
def incident_acknowledge(
    *, incident: Incident, actor, expected_version: int | None = None, note: str = ""
) -> Incident:
    """A tech lead takes the incident: stops the respond clock, starts updates."""
    incident = _lock(incident)
    _authorize(actor, Action.ACKNOWLEDGE, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.ACKNOWLEDGE)
    _save(incident, _acknowledge(incident, clock.now()))
    _record_acknowledged(incident, actor, note.strip())
    return incident


def _acknowledge(incident: Incident, now: datetime) -> list[str]:
    """Move a `new` incident to `acknowledged` (the respond clock stops, the
    update clock starts); returns the fields to save."""
    incident.state = State.ACKNOWLEDGED
    incident.acknowledged_at = now
    incident.respond_sla = _sla_taken(incident, incident.received_at, now)
    incident.update_clock_from = now
    _set_deadlines(incident)
    return ["state", "acknowledged_at", "respond_sla", *DEADLINE_FIELDS]


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
    incident = _lock(incident)
    _authorize(actor, Action.GRADE, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.GRADE)
    if severity not in Severity.values:
        raise ValidationError(
            {"severity": _("Choose one of %(levels)s.") % {"levels": ", ".join(Severity.values)}}
        )
    diagnosis = _required(diagnosis, "diagnosis", _("Write down the diagnosis."))
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
    if severity != previous:
        diff["severity"] = (previous, severity)
        before = (incident.respond_by, incident.resolve_by, incident.next_update_by)
        incident.severity = severity
        _set_deadlines(incident)
        if incident.acknowledged_at is not None:
            # The respond deadline was met or missed already: a regrade moves only
            # the pending ones, and must not rewrite how the response went.
            incident.respond_by = before[0]
        after = (incident.respond_by, incident.resolve_by, incident.next_update_by)
        for name, old, new in zip(
            ("respond_by", "resolve_by", "next_update_by"), before, after, strict=True
        ):
            if old != new:
                diff[name] = (old, new)
        fields = ["severity", *DEADLINE_FIELDS]
    acknowledging = incident.state == State.NEW
    if acknowledging:
        fields = [*fields, *_acknowledge(incident, now)]
    _save(incident, fields)
    record_event(incident, actor, TimelineEvent.Kind.GRADED, changes=diff, message=diagnosis)
    if acknowledging:
        _record_acknowledged(incident, actor, data={"by": "grading"})
    return incident


# ---------------------------------------------------------------- step 3


def _default_goal(incident: Incident) -> str:
    w = windows_for(incident.severity)
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
    incident = _lock(incident)
    _authorize(actor, Action.ASSIGN, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.ASSIGN)
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
    _save(incident, fields)
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


# ---------------------------------------------------------------- step 4


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
    incident = _lock(incident)
    _authorize(actor, Action.LOG, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.LOG)
    if kind not in LogEntry.Kind.values:
        raise ValidationError(
            {
                "kind": _("Unknown kind; use one of %(kinds)s.")
                % {"kinds": ", ".join(LogEntry.Kind.values)}
            }
        )
    text = _required(text, "text", _("Write what happened."))
    now = clock.now()
    _check_not_future(happened_at, "happened_at", now)
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
        transaction.on_commit(jobs.sweep_soon)
    if kind == LogEntry.Kind.PROGRESS and incident.state in UPDATE_CLOCK_STATES:
        old = incident.next_update_by
        incident.update_clock_from = now
        _set_deadlines(incident)
        fields += list(DEADLINE_FIELDS)
        diff["next_update_by"] = (old, incident.next_update_by)
    _save(incident, fields)
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
    incident = _lock(incident)
    now = clock.now()
    entry = LogEntry.objects.create(
        incident=incident,
        author=None,
        kind=LogEntry.Kind.NOTE,
        text=_required(text, "text", _("Empty note.")),
        happened_at=now,
        created_at=now,
    )
    _save(incident, [])
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
    incident = _lock(incident)
    _authorize(actor, Action.RESOLVE, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.RESOLVE)
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
    _save(incident, ["state", "resolution_submitted_at", "started_at"])
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.RESOLUTION_SUBMITTED,
        from_state=from_state,
        to_state=State.VERIFYING,
        data={"workaround": workaround, "fix": fix},
    )
    return incident


# ---------------------------------------------------------------- pause (step 4)


PAUSE_FIELDS = ("paused_at", "pause_reason", "pause_waiting_on", "paused_for")


def _end_pause(incident: Incident, actor, now: datetime) -> list[str]:
    """Close the open pause (resume, or the incident left the open states); the
    fields changed. The caller recomputes the deadlines and saves."""
    if incident.paused_at is None:
        return []
    Pause.objects.filter(incident=incident, ended_at__isnull=True).update(
        ended_at=now, resumed_by=actor
    )
    incident.paused_for += max(now - incident.paused_at, timedelta(0))
    incident.paused_at = None
    incident.pause_reason = ""
    incident.pause_waiting_on = ""
    return list(PAUSE_FIELDS)


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
    incident = _lock(incident)
    _authorize(actor, Action.PAUSE, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.PAUSE)
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
    reason = _required(reason, "reason", _("Say what the incident is waiting for."))
    waiting_on = (waiting_on or "").strip()
    now = clock.now()
    Pause.objects.create(
        incident=incident, started_at=now, reason=reason, waiting_on=waiting_on, paused_by=actor
    )
    incident.paused_at = now
    incident.pause_reason = reason
    incident.pause_waiting_on = waiting_on
    _save(incident, ["paused_at", "pause_reason", "pause_waiting_on"])
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
    incident = _lock(incident)
    _authorize(actor, Action.RESUME, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.RESUME)
    if incident.paused_at is None:
        raise TransitionNotAllowed(
            _("%(number)s is not paused.") % {"number": incident.number},
            state=incident.state,
            allowed=[a.value for a in actions_allowed_in(incident.state, False)],
        )
    now = clock.now()
    since, old_resolve_by = incident.paused_at, incident.resolve_by
    fields = _end_pause(incident, actor, now)
    if incident.state in UPDATE_CLOCK_STATES:
        incident.update_clock_from = now
    _set_deadlines(incident)
    _save(incident, [*fields, *DEADLINE_FIELDS])
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.RESUMED,
        changes={"resolve_by": (old_resolve_by, incident.resolve_by)},
        data={"paused_seconds": int(max(now - since, timedelta(0)).total_seconds())},
    )
    return incident


# ---------------------------------------------------------------- step 5


@transaction.atomic
def incident_verify(
    *,
    incident: Incident,
    actor,
    functional_ok: bool,
    regression_ok: bool,
    monitoring_ok: bool,
    functional_evidence: str = "",
    regression_evidence: str = "",
    monitoring_evidence: str = "",
    notes: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Record a verification attempt (step 5).

    All three checks passed → `resolved`, and the resolve clock stops at the
    submission that passed. Any failure → back to `in_progress` for the owner,
    the clock never stopped, the reasons go on the timeline, and the owner and
    the helpers are told at once (not the verifier: they know).
    """
    incident = _lock(incident)
    _authorize(actor, Action.VERIFY, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.VERIFY)
    checks = {
        "functional_ok": functional_ok,
        "regression_ok": regression_ok,
        "monitoring_ok": monitoring_ok,
    }
    missing = {k: _("Say whether this check passed.") for k, v in checks.items() if v is None}
    if missing:
        raise ValidationError(missing)
    now = clock.now()
    resolution = incident.resolutions.filter(outcome=Resolution.Outcome.PENDING).last()
    if resolution is None:  # data from before resolutions were recorded
        resolution = Resolution.objects.create(
            incident=incident,
            submitted_by=actor,
            submitted_at=incident.resolution_submitted_at or now,
        )
    passed = all(checks.values())
    verification = Verification.objects.create(
        incident=incident,
        resolution=resolution,
        functional_ok=functional_ok,
        functional_evidence=functional_evidence.strip(),
        regression_ok=regression_ok,
        regression_evidence=regression_evidence.strip(),
        monitoring_ok=monitoring_ok,
        monitoring_evidence=monitoring_evidence.strip(),
        notes=notes.strip(),
        passed=passed,
        verifier=actor,
        verified_at=now,
    )
    resolution.outcome = Resolution.Outcome.PASSED if passed else Resolution.Outcome.FAILED
    resolution.save(update_fields=["outcome"])
    incident.verification_count += 1
    incident.failed_verification_count += 0 if passed else 1
    evidence = {
        "functional": functional_evidence,
        "regression": regression_evidence,
        "monitoring": monitoring_evidence,
    }
    data = {}
    if passed:
        incident.state = State.RESOLVED
        ended = _end_pause(incident, actor, now)
        incident.restored_at = resolution.submitted_at
        incident.resolve_sla = _sla_taken(
            incident, incident.received_at, incident.restored_at, _ended_pauses(incident)
        )
        incident.resolved_at = now
        incident.update_clock_from = None
        _set_deadlines(incident)
        fields = ["state", "restored_at", "resolve_sla", "resolved_at", *DEADLINE_FIELDS]
        fields += ended
        fields += ["verification_count", "failed_verification_count"]
        kind = TimelineEvent.Kind.VERIFICATION_PASSED
        message = notes.strip()
    else:
        incident.state = State.IN_PROGRESS
        incident.resolution_submitted_at = None
        fields = ["state", "resolution_submitted_at"]
        fields += ["verification_count", "failed_verification_count"]
        kind = TimelineEvent.Kind.VERIFICATION_FAILED
        message = ""
        data = {
            "failed": [
                {"check": check, "evidence": text.strip()}
                for check, text in evidence.items()
                if not checks[f"{check}_ok"]
            ],
            "notes": notes.strip(),
        }
    _save(incident, fields)
    record_event(
        incident,
        actor,
        kind,
        from_state=State.VERIFYING,
        to_state=incident.state,
        message=message,
        data=data,
    )
    if not passed:
        deadlines.verification_failed(incident, verification, data, now)
    return incident


@transaction.atomic
def incident_notify_users(
    *, incident: Incident, actor, message: str, expected_version: int | None = None
) -> Incident:
    """Record that the affected users were told the problem is fixed."""
    incident = _lock(incident)
    _authorize(actor, Action.NOTIFY_USERS, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.NOTIFY_USERS)
    message = _required(message, "message", _("Write what the users were told."))
    UserNotification.objects.create(
        incident=incident, message=message, notified_by=actor, notified_at=clock.now()
    )
    _save(incident, [])
    record_event(incident, actor, TimelineEvent.Kind.USERS_NOTIFIED, message=message)
    return incident


@transaction.atomic
def incident_record_feedback(
    *,
    incident: Incident,
    actor,
    text: str,
    satisfied: bool | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Record what affected users said after the fix."""
    incident = _lock(incident)
    _authorize(actor, Action.FEEDBACK, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.FEEDBACK)
    text = _required(text, "text", _("Write down the users' feedback."))
    UserFeedback.objects.create(
        incident=incident,
        text=text,
        satisfied=satisfied,
        recorded_by=actor,
        recorded_at=clock.now(),
    )
    _save(incident, [])
    record_event(incident, actor, TimelineEvent.Kind.FEEDBACK_RECORDED, message=text)
    return incident


# ---------------------------------------------------------------- step 6 and exits


@transaction.atomic
def incident_archive(
    *, incident: Incident, actor, summary: str, expected_version: int | None = None
) -> Incident:
    """Close the record of a resolved incident with its summary (step 6)."""
    incident = _lock(incident)
    _authorize(actor, Action.ARCHIVE, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.ARCHIVE)
    summary = _required(
        summary,
        "summary",
        _("Write the archive summary: symptoms, diagnosis, solution and lessons."),
    )
    missing = knowledge.archive_missing(incident)
    if missing:
        raise ValidationError(
            {
                "postmortem": _(
                    "A %(level)s incident is archived after its post-mortem. Missing: %(missing)s."
                )
                % {"level": incident.severity, "missing": "; ".join(missing)}
            }
        )
    incident.state = State.ARCHIVED
    incident.archived_at = clock.now()
    incident.archive_summary = summary
    _save(incident, ["state", "archived_at", "archive_summary"])
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.ARCHIVED,
        from_state=State.RESOLVED,
        to_state=State.ARCHIVED,
        message=summary,
    )
    knowledge.index_incident(incident)
    return incident


@transaction.atomic
def incident_reopen(
    *, incident: Incident, actor, reason: str, expected_version: int | None = None
) -> Incident:
    """The problem is back: a resolved or archived incident returns to work.

    The resolve clock runs again from `received_at` (service was not really
    restored); the update clock restarts now.
    """
    incident = _lock(incident)
    _authorize(actor, Action.REOPEN, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.REOPEN)
    reason = _required(reason, "reason", _("Say why the incident is reopened."))
    now = clock.now()
    from_state = incident.state
    incident.state = State.IN_PROGRESS
    incident.restored_at = None
    incident.resolve_sla = None
    incident.resolved_at = None
    incident.archived_at = None
    incident.resolution_submitted_at = None
    incident.reopen_count += 1
    incident.update_clock_from = now
    _set_deadlines(incident)
    _save(
        incident,
        [
            "state",
            "restored_at",
            "resolved_at",
            "archived_at",
            "resolution_submitted_at",
            "reopen_count",
            *DEADLINE_FIELDS,
        ],
    )
    record_event(
        incident,
        actor,
        TimelineEvent.Kind.REOPENED,
        from_state=from_state,
        to_state=State.IN_PROGRESS,
        message=reason,
    )
    if from_state == State.ARCHIVED:
        knowledge.unindex_incident(incident)
    return incident


@transaction.atomic
def incident_cancel(
    *, incident: Incident, actor, reason: str, expected_version: int | None = None
) -> Incident:
    """Close an open incident that needs no work: duplicate or false alarm."""
    incident = _lock(incident)
    _authorize(actor, Action.CANCEL, incident)
    _check_version(incident, expected_version)
    check_state(incident, Action.CANCEL)
    reason = _required(reason, "reason", _("Say why: duplicate of which incident, or false alarm."))
    from_state = incident.state
    incident.state = State.CANCELLED
    incident.cancelled_at = clock.now()
    incident.cancel_reason = reason
    incident.update_clock_from = None
    ended = _end_pause(incident, actor, incident.cancelled_at)
    _set_deadlines(incident)
    incident.resolutions.filter(outcome=Resolution.Outcome.PENDING).update(
        outcome=Resolution.Outcome.WITHDRAWN
    )
    _save(incident, ["state", "cancelled_at", "cancel_reason", *DEADLINE_FIELDS, *ended])
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
