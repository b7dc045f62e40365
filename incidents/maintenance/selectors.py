"""Reads of maintenance windows: which run now, which one an alert falls under,
who sees which, what is coming up."""

import re
from datetime import datetime
from functools import lru_cache

from django.db.models import Q, QuerySet

from common import sql
from incidents import rules
from incidents.maintenance.schedule import is_active, iter_occurrences
from incidents.models import MaintenanceWindow


def may_run_q(at: datetime) -> Q:
    """Windows that may have an occurrence running at `at` (the SQL sieve; the
    schedule decides): started, and recurring or not yet over."""
    return Q(starts_at__lte=at) & (
        ~Q(recurrence="") | Q(ends_at__gt=at) & (Q(ended_at__isnull=True) | Q(ended_at__gt=at))
    )


def active_windows(*, team_id: int, at: datetime) -> list[MaintenanceWindow]:
    """The team's windows with an occurrence running at `at` (two queries: the
    candidates with their team, then their services)."""
    candidates = (
        MaintenanceWindow.objects.filter(may_run_q(at), team_id=team_id)
        .select_related("team")
        .prefetch_related("services")
        .order_by("created_at", "id")
    )
    return [window for window in candidates if is_active(window, at)]


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern:
    return re.compile(text)


def matches(window: MaintenanceWindow, labels: dict) -> bool:
    """Every matcher matches (equality, or a regex matching the whole value; a
    missing label reads as ""), and with services the alert's `service` label is
    one of theirs. A window with neither matches every alert of its team."""
    for matcher in window.matchers or ():
        value = str(labels.get(matcher.get("name", ""), ""))
        expected = str(matcher.get("value", ""))
        if matcher.get("is_regex"):
            try:
                if _pattern(expected).fullmatch(value) is None:
                    return False
            except re.error:
                return False
        elif value != expected:
            return False
    slugs = {service.slug for service in window.services.all()}
    return not slugs or str(labels.get("service", "")) in slugs


def window_matching(windows, *, labels: dict) -> MaintenanceWindow | None:
    """The window an alert with `labels` falls under, among `windows` (already
    known to be active): `suppress` windows win over `mark`, then the earliest
    created."""
    found = [window for window in windows if matches(window, labels)]
    if not found:
        return None
    return min(
        found,
        key=lambda w: (w.mode != MaintenanceWindow.Mode.SUPPRESS, w.created_at, w.pk or 0),
    )


def windows_visible_to(user) -> QuerySet:
    """Windows of the user's teams (managers and admins: every team's)."""
    qs = MaintenanceWindow.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    ctx = rules.context(user)
    if ctx.sees_all:
        return qs
    return qs.filter(team_id__in=ctx.team_ids)


def any_upcoming(*, team_ids, since: datetime, until: datetime) -> bool:
    """Whether upcoming() has any window to read: written out, because the
    dashboard's banner asks on every view and most teams have none."""
    if not team_ids:
        return False
    w = MaintenanceWindow
    found = sql.rows(
        f"SELECT 1 FROM {sql.table(w)} WHERE {sql.column(w, 'team')} IN ({sql.among(team_ids)}) "  # nosec B608
        f"AND {sql.column(w, 'starts_at')} < %s "
        f"AND ({sql.column(w, 'recurrence')} <> '' OR {sql.column(w, 'ends_at')} > %s) LIMIT 1",
        [*sorted(team_ids), sql.moment(until), sql.moment(since)],
    )
    return bool(found)


def upcoming(*, team_ids, since: datetime, until: datetime, services: bool = True) -> list[tuple]:
    """(window, start, end) of every occurrence overlapping [since, until) of the
    teams' windows, in order of start — what a calendar shows (with each window's
    services read too, unless `services` is False)."""
    windows = (
        MaintenanceWindow.objects.filter(team_id__in=list(team_ids), starts_at__lt=until)
        .filter(~Q(recurrence="") | Q(ends_at__gt=since))
        .select_related("team")
    )
    if services:
        windows = windows.prefetch_related("services")
    rows = []
    for window in windows:
        for start, end in iter_occurrences(window, since, until):
            if start >= until:
                break
            rows.append((window, start, end))
    rows.sort(key=lambda row: (row[1], row[0].pk))
    return rows
