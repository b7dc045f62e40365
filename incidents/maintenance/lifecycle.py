"""The lifecycle of maintenance windows, run by the periodic sweep.

Each occurrence's start and end is written once on the team's timeline
(TeamEvent, unique per window, occurrence and kind). When an occurrence ends —
on time, or early by `end` — the alerts it held that still fire are processed
as if they had just arrived (incidents.alerts.alerts_release), and the
incidents it marked get their clocks back. Everything the sweep needs is in the
database (`started_occurrence`, the held alerts), so a restart during a window
loses nothing, and the end is one release per group, never a burst.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from incidents import alerts, maintenance, services
from incidents.maintenance.selectors import may_run_q
from incidents.models import OPEN_STATES, Incident, MaintenanceWindow, TeamEvent


def sweep_windows(now: datetime) -> dict[str, int]:
    """Announce occurrences that started, finish those that ended; returns counts."""
    counts = {"started": 0, "ended": 0, "released": 0}
    candidates = MaintenanceWindow.objects.filter(
        Q(started_occurrence__isnull=False) | may_run_q(now)
    ).select_related("team")
    for window in candidates:
        running = maintenance.current_occurrence(window, now)
        started = window.started_occurrence
        if started is not None and (running is None or running[0] != started):
            counts["released"] += window_finished(window=window, occurrence=started, now=now)
            counts["ended"] += 1
            started = None
        started_now = running is not None and started is None
        if started_now and window_started(window=window, occurrence=running, now=now):
            counts["started"] += 1
    return counts


def window_started(*, window: MaintenanceWindow, occurrence, now: datetime) -> bool:
    """Claim the occurrence's start (conditional UPDATE) and write it on the team's
    timeline; False if another sweep did."""
    start, end = occurrence
    with transaction.atomic():
        claimed = (
            MaintenanceWindow.objects.filter(pk=window.pk, started_occurrence__isnull=True)
            .exclude(ended_occurrence=start)
            .update(started_occurrence=start)
        )
        if not claimed:
            return False
        window.started_occurrence = start
        # When it really started, even if the sweep that notices runs later.
        _event(window, TeamEvent.Kind.MAINTENANCE_STARTED, start, start)
    return True


def window_finished(*, window: MaintenanceWindow, occurrence: datetime, now: datetime) -> int:
    """The occurrence that began at `occurrence` is over: write its end, release the
    alerts it held and the incidents it marked. Returns the alerts released."""
    with transaction.atomic():
        claimed = MaintenanceWindow.objects.filter(
            pk=window.pk, started_occurrence=occurrence
        ).update(started_occurrence=None)
        if not claimed:
            return 0
        window.started_occurrence = None
        _event(
            window, TeamEvent.Kind.MAINTENANCE_ENDED, occurrence, _ended(window, occurrence, now)
        )
    return window_release(window=window, now=now)


def window_release(*, window: MaintenanceWindow, now: datetime) -> int:
    """Process what the window holds: its held alerts still firing (as if they had
    just arrived) and its marked incidents still held. Returns the alerts released."""
    results = alerts.alerts_release(window=window, now=now)
    held = Incident.objects.filter(
        maintenance_window=window, state__in=OPEN_STATES, paused_at=F("received_at")
    ).values_list("pk", flat=True)
    for pk in list(held):
        services.incident_release_from_window(incident=Incident(pk=pk), now=now)
    return sum(r.alerts for r in results)


def _ended(window: MaintenanceWindow, occurrence: datetime, now: datetime) -> datetime:
    """When the occurrence that began at `occurrence` ended: on time, or early by
    `end` (its end is cut then); `now` if the schedule no longer has it (edited)."""
    found = maintenance.occurrences(window, occurrence, occurrence + timedelta(seconds=1))
    ends = [end for start, end in found if start == occurrence]
    return min(ends[0], now) if ends else now


def _event(window: MaintenanceWindow, kind: str, occurrence: datetime, at: datetime) -> None:
    """One entry on the team's timeline; its words are the kind's label and the
    window's title at the time, translated when shown."""
    text = window.title
    try:
        with transaction.atomic():
            TeamEvent.objects.create(
                team=window.team, kind=kind, at=at, text=text, window=window, occurrence=occurrence
            )
    except IntegrityError:
        pass  # written by an earlier sweep
