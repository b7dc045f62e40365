"""Exact incident counts per (team, state, severity), moved with every write.

Services call `move()` in the same transaction as the change they make, so the
tallies are always exact; list endpoints add them up instead of counting rows.
Counter rows are updated in key order, so two transactions touching the same
two counters cannot deadlock.
"""

from django.db import transaction
from django.db.models import Count, F, Sum

from common import sql
from incidents.models import Incident, IncidentTally

Key = tuple[int, str, str]  # team_id, state, severity


def key_of(incident: Incident) -> Key:
    return (incident.team_id, incident.state, incident.severity)


def move(before: Key | None, after: Key | None) -> None:
    """One incident went from `before` to `after` (None: did not exist)."""
    if before == after:
        return
    changes = {}
    if before is not None:
        changes[before] = -1
    if after is not None:
        changes[after] = changes.get(after, 0) + 1
    for key in sorted(changes):
        team_id, state, severity = key
        IncidentTally.objects.bulk_create(
            [IncidentTally(team_id=team_id, state=state, severity=severity, count=0)],
            ignore_conflicts=True,
        )
        IncidentTally.objects.filter(team_id=team_id, state=state, severity=severity).update(
            count=F("count") + changes[key]
        )


def total(*, team_ids=None, states=None, severities=None) -> int:
    qs = IncidentTally.objects.all()
    if team_ids is not None:
        qs = qs.filter(team_id__in=team_ids)
    if states:
        qs = qs.filter(state__in=states)
    if severities:
        qs = qs.filter(severity__in=severities)
    return qs.aggregate(n=Sum("count"))["n"] or 0


def by_severity_and_state(*, team_ids=None, states=None) -> dict[tuple[str, str], int]:
    """(severity, state) → count, of `team_ids` (None: every team) in `states`."""
    if team_ids is not None and not team_ids:
        return {}
    # Written out: the dashboard asks on every view.
    severity, state, count = (sql.column(IncidentTally, f) for f in ("severity", "state", "count"))
    query = (
        f"SELECT {severity}, {state}, {count} FROM {sql.table(IncidentTally)} "  # nosec B608
        f"WHERE {count} > 0"
    )
    params: list = []
    if team_ids is not None:
        query += f" AND {sql.column(IncidentTally, 'team')} IN ({sql.among(team_ids)})"
        params += sorted(team_ids)
    if states:
        query += f" AND {state} IN ({sql.among(states)})"
        params += sorted(states)
    counts: dict[tuple[str, str], int] = {}
    for level, status, n in sql.rows(query, params):
        counts[(level, status)] = counts.get((level, status), 0) + n
    return counts


@transaction.atomic
def rebuild() -> int:
    """Recount everything from the incidents; returns how many counters were written."""
    IncidentTally.objects.all().delete()
    rows = (
        Incident.objects.order_by().values("team_id", "state", "severity").annotate(n=Count("id"))
    )
    tallies = [
        IncidentTally(team_id=r["team_id"], state=r["state"], severity=r["severity"], count=r["n"])
        for r in rows
    ]
    IncidentTally.objects.bulk_create(tallies)
    return len(tallies)
