"""Maintenance windows, seen from escalation: the team hears of each occurrence
3 hours before it starts (a team notice, clock `window`), once.

The windows and their occurrences belong to the alert intake
(incidents.maintenance); this module only reads them.
"""

from datetime import datetime, timedelta

from django.db import transaction

from escalation import jobs
from escalation.models import Clock, Notice
from escalation.notices import write_deliveries
from incidents import maintenance
from incidents.models import MaintenanceWindow

REMIND_BEFORE = timedelta(hours=3)


def notice_cycle(window: MaintenanceWindow, start: datetime) -> int:
    """One reminder per (window, occurrence): the window's id and the occurrence's
    start in minutes, packed into the notice's cycle."""
    return window.pk * 2**32 + int(start.timestamp() // 60)


def remind_windows(now: datetime) -> int:
    """Send the reminder of every occurrence starting within 3 hours; returns how many.

    Each reminder is claimed with a conditional UPDATE of the window's
    `reminded_occurrence`, and the notice is unique on its cycle, so two sweeps
    never send it twice; an occurrence already running gets no reminder.
    """
    sent = 0
    candidates = MaintenanceWindow.objects.filter(starts_at__lte=now + REMIND_BEFORE).exclude(
        recurrence="", ends_at__lte=now
    )
    for window in candidates.select_related("team"):
        horizon = now + REMIND_BEFORE
        upcoming = [
            (start, end)
            for start, end in maintenance.occurrences(window, now, horizon + timedelta(seconds=1))
            if now < start <= horizon
        ]
        if not upcoming:
            continue
        start, end = upcoming[0]
        if window.reminded_occurrence == start:
            continue
        with transaction.atomic():
            claimed = (
                MaintenanceWindow.objects.filter(pk=window.pk)
                .exclude(reminded_occurrence=start)
                .update(reminded_occurrence=start)
            )
            if claimed and _remind(window, start, end, now):
                sent += 1
    return sent


def _remind(window: MaintenanceWindow, start: datetime, end: datetime, now: datetime) -> bool:
    names = sorted(
        {u.username for u in window.team.members.all() if u.is_active}
        | {u.username for u in window.team.tech_leads.all() if u.is_active}
    )
    notice, created = Notice.objects.get_or_create(
        incident=None,
        team=window.team,
        clock=Clock.MAINTENANCE,
        cycle=notice_cycle(window, start),
        level=1,
        defaults={
            "deadline": start,
            "due_at": end,
            "created_at": now,
            "recipients": names,
            "details": {
                "window": window.pk,
                "title": window.title,
                "mode": window.mode,
            },
        },
    )
    if created:
        pending = write_deliveries([notice], now)
        if pending:
            transaction.on_commit(lambda: jobs.deliver(pending))
    return created
