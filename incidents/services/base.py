"""What every incident service does around its change: one prologue, one save.

`begin()` locks the incident's row and refuses, before anything is written, an
actor whose role may not take the action (PermissionDenied), a version older
than the stored one (StaleVersion) and a state that forbids the action
(TransitionNotAllowed), in that order. `save()` bumps the version and stores the
change with the incident's clocks through the one seam, escalation.deadlines.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from common.errors import StaleVersion
from escalation import deadlines
from incidents import figures, rules, tallies
from incidents.models import Incident, IncidentSequence, Pause
from incidents.workflow import Action, check_state

# Clocks of reporters' machines drift; a received_at this far ahead of ours is
# taken as "now" rather than refused.
CLOCK_SKEW = timedelta(seconds=60)

# No incident of ours happened before this; older times are typing mistakes.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def begin(
    incident: Incident | int, actor, action: Action, expected_version: int | None = None
) -> Incident:
    """The incident's row, locked for this transaction, once `actor` may take
    `action` on it (actor None: the system, no role check), `expected_version` (if
    given) is still current, and its state allows `action`."""
    incident = lock(incident)
    authorize(actor, action, incident)
    _check_version(incident, expected_version)
    check_state(incident, action)
    return incident


def lock(incident: Incident | int) -> Incident:
    """The incident's row, locked for this transaction (only that row: of=self)."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    locked = Incident.objects.select_for_update(of=("self",)).select_related("team").get(pk=pk)
    locked._tally_key = tallies.key_of(locked)
    locked._figures = figures.snapshot(locked)
    return locked


def authorize(actor, action: Action, incident: Incident | None = None) -> None:
    if actor is not None:
        rules.require(actor, action, incident)


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


def save(
    incident: Incident,
    fields: Iterable[str],
    now: datetime | None = None,
    *,
    progress: bool = False,
) -> None:
    """Store a locked incident's change: the version moves on, the clocks follow
    (escalation.deadlines.sync; `progress`: a progress report was made), the
    open-incident tallies and the finished incidents' figures follow."""
    incident.version += 1
    deadlines.sync(
        incident, now or clock.now(), [*fields, "version", "updated_at"], progress=progress
    )
    tallies.move(incident._tally_key, tallies.key_of(incident))
    incident._tally_key = tallies.key_of(incident)
    figures.move(incident, incident._figures)
    incident._figures = figures.snapshot(incident)


@transaction.atomic
def set_root_cause(incident_id: int, category: str) -> None:
    """Copy a post-mortem's root-cause category ("" once it has none) to its incident,
    moving the incident's kept figures with it (knowledge calls this in the
    transaction that writes, changes or deletes the post-mortem). The incident's own
    facts do not change: not its version, clocks or row caches."""
    locked = Incident.objects.select_for_update(of=("self",)).filter(pk=incident_id).first()
    if locked is None or locked.root_cause_category == category:
        return
    before = figures.snapshot(locked)
    locked.root_cause_category = category
    locked.save(update_fields=["root_cause_category"])
    figures.move(locked, before)


PAUSE_FIELDS = ("paused_at", "pause_reason", "pause_waiting_on", "paused_for")


def end_pause(incident: Incident, actor, now: datetime) -> list[str]:
    """Close the open pause (resume, or the incident left the open states); the
    fields changed, for the caller's save() (which restarts the update clock)."""
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


def required(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


def check_not_future(value: datetime | None, field: str, now: datetime) -> None:
    if value is None:
        return
    if timezone.is_naive(value):
        raise ValidationError({field: _("Give a time zone with the time.")})
    if value > now + CLOCK_SKEW:
        raise ValidationError({field: _("This time is in the future.")})
    if value < EARLIEST:
        raise ValidationError({field: _("This time is too far in the past.")})


def next_number(at: datetime) -> str:
    day = timezone.localdate(at)
    IncidentSequence.objects.bulk_create([IncidentSequence(day=day, last=0)], ignore_conflicts=True)
    seq = IncidentSequence.objects.select_for_update().get(day=day)
    seq.last += 1
    seq.save(update_fields=["last"])
    return f"INC-{day:%Y%m%d}-{seq.last:04d}"


def full_clean(obj, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
