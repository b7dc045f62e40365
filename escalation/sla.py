"""Deadline arithmetic: the one place that turns a level into due times."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from escalation.models import SlaPolicy

# PROCESS.md's table; used only when an administrator deleted a level's policy,
# so a deadline is never missing. The data migration seeds the same numbers.
DEFAULT_MINUTES = {
    "P0": (5, 120, 30),
    "P1": (15, 240, 30),
    "P2": (30, 480, 60),
    "P3": (120, 1440, 60),
}


@dataclass(frozen=True)
class Windows:
    respond: timedelta
    resolve: timedelta
    update: timedelta
    warning_percent: int = 80


def windows_for(severity: str) -> Windows:
    policy = SlaPolicy.objects.filter(severity=severity).first()
    if policy is None:
        respond, resolve, update = DEFAULT_MINUTES[severity]
        warning = 80
    else:
        respond, resolve, update = (
            policy.respond_minutes,
            policy.resolve_minutes,
            policy.update_minutes,
        )
        warning = policy.warning_percent
    return Windows(
        respond=timedelta(minutes=respond),
        resolve=timedelta(minutes=resolve),
        update=timedelta(minutes=update),
        warning_percent=warning,
    )


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime
    resolve_by: datetime
    next_update_by: datetime | None


def compute_deadlines(
    *, severity: str, received_at: datetime, update_clock_from: datetime | None
) -> Deadlines:
    """Respond and resolve run from `received_at`; the update clock from its last restart."""
    w = windows_for(severity)
    return Deadlines(
        respond_by=received_at + w.respond,
        resolve_by=received_at + w.resolve,
        next_update_by=update_clock_from + w.update if update_clock_from else None,
    )
