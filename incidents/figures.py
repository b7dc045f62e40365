"""The metrics' figures of finished incidents, kept at write time (IncidentFigures).

An incident's figures (knowledge.metrics' definitions) are final once it is
resolved, archived or cancelled, until a reopen takes it back; open incidents
keep changing with "now" (a deadline passing counts as missed), so the metrics
page computes those live and adds them to these rows.

One row per (day received in the site's time zone, team, level) and one per
(month, team, level), so a range reads whole months from month rows, and a
month it cuts from its day rows in the range or from its month row less the
day rows outside it (whichever is fewer). Each holds the counts every figure
needs, a histogram of each duration (MTTA, MTTR, in wall and in SLA time) and
the incidents per root-cause category (the post-mortem's, which knowledge copies
to Incident.root_cause_category).

Precision: a percentile read from a histogram is within 1 minute or 5 % of the
true value, whichever is larger, for durations up to a year (the median of an
even count is the mean of its two middle values, each within that). Bucket 0
holds exactly 0 (and any negative time, read as 0); then 2-minute buckets up to
20 minutes, read at their middle (±1 min); then buckets 10 % wide read at their
middle (±5 %); durations over a year fall in the last bucket, read as a year.

Counts are exact. The wall-time compliance compares with the level's windows,
which an administrator may edit: each row records the windows it was counted
with, every contribution to a row uses them, and a row whose windows are no
longer the level's is stale (knowledge.metrics then computes from the
incidents until `manage.py rebuild_metrics` runs). A closed incident never
acknowledged (no service makes one; only an import can) counts as having
missed both response figures.

`move()` runs in base.save(), in the same transaction as the change, after the
clocks were stored. Rows are locked in key order, so two transactions touching
the same rows cannot deadlock (as incidents.tallies).
"""

import bisect
import json
import operator
import zoneinfo
from collections import namedtuple
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from common import sql
from escalation import deadlines
from incidents.models import Incident, IncidentFigures, State

FINISHED = frozenset({State.RESOLVED, State.ARCHIVED})
FINAL = FINISHED | {State.CANCELLED}

SNAPSHOT_FIELDS = (
    "pk",
    "team_id",
    "severity",
    "state",
    "received_at",
    "acknowledged_at",
    "restored_at",
    "respond_by",
    "resolve_by",
    "reopen_count",
    "verification_count",
    "failed_verification_count",
    "respond_sla",
    "resolve_sla",
    "root_cause_category",
)
Snapshot = namedtuple("Snapshot", SNAPSHOT_FIELDS)

COUNTS = IncidentFigures.COUNTS
HISTOGRAMS = IncidentFigures.HISTOGRAMS


def _bounds() -> list[float]:
    """Lower bounds (minutes) of buckets 1…: 0, 2, …, 20, then ×1.1 up to a year."""
    bounds = [float(m) for m in range(0, 22, 2)]
    while bounds[-1] < 525_600:
        bounds.append(bounds[-1] * 1.1)
    return bounds


BOUNDS = _bounds()


def bucket(minutes: float) -> int:
    if minutes <= 0:
        return 0
    return bisect.bisect_right(BOUNDS, minutes)


def value_of(index: int) -> float:
    """The value a bucket is read as: its middle (the last one: its lower bound)."""
    if index <= 0:
        return 0.0
    if index >= len(BOUNDS):
        return BOUNDS[-1]
    return (BOUNDS[index - 1] + BOUNDS[index]) / 2


def site_zone():
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


# ---------------------------------------------------------------- reading


class Figures:
    """Counts and duration histograms of a set of incidents; adds up.

    A histogram is a list: incidents per bucket index, trailing zeros left out."""

    __slots__ = (*COUNTS, *HISTOGRAMS, "causes")

    def __init__(self):
        for name in COUNTS:
            setattr(self, name, 0)
        for name in HISTOGRAMS:
            setattr(self, name, [])
        self.causes: dict[str, int] = {}  # root-cause category → incidents

    def add(self, other: "Figures") -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in HISTOGRAMS:
            setattr(self, name, _sum(getattr(self, name), getattr(other, name)))
        add_causes(self.causes, other.causes)

    def add_row(self, values, sign: int = 1) -> None:
        """Add (sign -1: take off) a row of ROW_FIELDS' values (counts, histograms,
        then causes)."""
        for name, value in zip(COUNTS, values, strict=False):
            setattr(self, name, getattr(self, name) + sign * value)
        *histograms, causes = values[len(COUNTS) :]
        for name, value in zip(HISTOGRAMS, histograms, strict=True):
            if sign < 0:
                value = [-n for n in value]
            setattr(self, name, _sum(getattr(self, name), value))
        add_causes(self.causes, causes, sign)

    def add_value(self, histogram: str, minutes: float) -> None:
        counts = getattr(self, histogram)
        bump(counts, bucket(minutes), 1)

    def median(self, histogram: str) -> float | None:
        counts = getattr(self, histogram)
        n = sum(counts)
        if not n:
            return None
        if n % 2:
            return _at_rank(counts, n // 2 + 1)
        return (_at_rank(counts, n // 2) + _at_rank(counts, n // 2 + 1)) / 2

    def p90(self, histogram: str) -> float | None:
        counts = getattr(self, histogram)
        n = sum(counts)
        if not n:
            return None
        return _at_rank(counts, -(-9 * n // 10))  # ⌈0.9·n⌉, in integers


def add_causes(causes: dict[str, int], other: dict[str, int], sign: int = 1) -> None:
    """causes += sign × other, leaving out the categories that come to 0."""
    for category, n in other.items():
        total = causes.get(category, 0) + sign * n
        if total:
            causes[category] = total
        else:
            causes.pop(category, None)


def _sum(a: list[int], b: list[int]) -> list[int]:
    if len(a) < len(b):
        a, b = b, a
    return [*map(operator.add, a, b), *a[len(b) :]]


def bump(counts: list[int], index: int, n: int) -> None:
    """counts[index] += n, growing the list or trimming its trailing zeros."""
    if index >= len(counts):
        counts.extend([0] * (index + 1 - len(counts)))
    counts[index] += n
    while counts and not counts[-1]:
        counts.pop()


def _at_rank(counts: list[int], rank: int) -> float:
    """The value of the rank-th smallest (1-based) in the histogram."""
    seen = 0
    for index, n in enumerate(counts):
        seen += n
        if seen >= rank:
            return value_of(index)
    raise ValueError(rank)


JSON_FIELDS = (*HISTOGRAMS, "causes")
ROW_FIELDS = (*COUNTS, *JSON_FIELDS)
READ_FIELDS = ("span", "start", "severity", "respond_window", "resolve_window", *ROW_FIELDS)


# What a written-out statement returns: SQLite gives dates as text, durations as
# microseconds, JSON as text; PostgreSQL gives dates, intervals and (as Django
# sets it up) JSON as text.
def _date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _duration(value) -> timedelta:
    return timedelta(microseconds=value) if isinstance(value, int) else value


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def read(*, start: date, end: date, team_ids=None, today: date | None = None) -> tuple[dict, set]:
    """(month "YYYY-MM", severity) → Figures of the finished incidents received from
    `start` to `end` (site's zone) of `team_ids` (None: every team), and the set of
    (severity, respond window, resolve window) the rows were counted with.

    Whole months are read from month rows. A month the range cuts is read from the
    day rows inside the range, or from its month row less the day rows outside it,
    whichever is fewer days to read (after `today` no incident was received).
    Either way the counts are exact: a month row is the sum of its day rows."""
    if start > end:
        return {}, set()
    day, month = IncidentFigures.Span.DAY, IncidentFigures.Span.MONTH
    span_, start_col = sql.column(IncidentFigures, "span"), sql.column(IncidentFigures, "start")
    match, params = [], []  # (span and days) conditions, ORed
    whole = set()  # the months read from their month row
    first = start.replace(day=1)
    while first <= end:
        following = (first + timedelta(days=32)).replace(day=1)
        last = following - timedelta(days=1)
        lo, hi = max(start, first), min(end, last)
        known = last if today is None else max(min(last, today), hi)
        outside = (lo - first).days + (known - hi).days
        if outside < (hi - lo).days + 1:
            whole.add(first)
            if lo > first:
                match.append(f"{span_} = %s AND {start_col} >= %s AND {start_col} < %s")
                params += [day, sql.day(first), sql.day(lo)]
            if hi < last:  # (none after `today`, unless a clock was wrong)
                match.append(f"{span_} = %s AND {start_col} > %s AND {start_col} <= %s")
                params += [day, sql.day(hi), sql.day(last)]
        else:
            match.append(f"{span_} = %s AND {start_col} >= %s AND {start_col} <= %s")
            params += [day, sql.day(lo), sql.day(hi)]
        first = following
    if whole:
        match.append(f"{span_} = %s AND {start_col} IN ({sql.among(whole)})")
        params += [month, *(sql.day(m) for m in sorted(whole))]
    # Written out (the ORM took longer to compose it than the database to answer),
    # the histograms and causes as their stored text, decoded in one go below.
    columns = ", ".join(sql.column(IncidentFigures, f) for f in READ_FIELDS)
    query = (
        f"SELECT {columns} FROM {sql.table(IncidentFigures)} "  # nosec B608: names from the model
        f"WHERE ({' OR '.join(f'({m})' for m in match)})"
    )
    if team_ids is not None:
        if not team_ids:
            return {}, set()
        query += f" AND {sql.column(IncidentFigures, 'team')} IN ({sql.among(team_ids)})"
        params += sorted(team_ids)
    rows = sql.rows(query, params)
    n = len(JSON_FIELDS)
    decoded = json.loads(
        "[" + ",".join("[" + ",".join(_text(v) for v in r[-n:]) + "]" for r in rows) + "]"
    )
    cells: dict[tuple[str, str], Figures] = {}
    windows = set()
    for (span, first_day, severity, respond, resolve, *counts), json_values in zip(
        rows, decoded, strict=True
    ):
        first_day = _date(first_day)
        key = (f"{first_day.year:04d}-{first_day.month:02d}", severity)
        if key not in cells:
            cells[key] = Figures()
        # A day row read with its month's row is outside the range: taken off.
        off = span == day and first_day.replace(day=1) in whole
        cells[key].add_row([*counts[: len(COUNTS)], *json_values], -1 if off else 1)
        windows.add((severity, _duration(respond), _duration(resolve)))
    return cells, windows


# ---------------------------------------------------------------- writing


def snapshot(incident: Incident) -> Snapshot:
    return Snapshot(*(getattr(incident, f) for f in SNAPSHOT_FIELDS))


def _keys(s: Snapshot) -> list[tuple]:
    day = s.received_at.astimezone(site_zone()).date()
    return [
        (IncidentFigures.Span.DAY, day, s.team_id, s.severity),
        (IncidentFigures.Span.MONTH, day.replace(day=1), s.team_id, s.severity),
    ]


def contribution(s: Snapshot, respond_window, resolve_window, late_update: bool):
    """(counts, histogram buckets) a finished incident adds to its rows; its root
    cause goes in as bins["causes"]."""
    if s.state == State.CANCELLED:
        return {"cancelled": 1}, {}
    counts = dict.fromkeys(COUNTS, 0)
    counts["count"] = 1
    bins = {"causes": s.root_cause_category} if s.root_cause_category else {}
    counts["respond_decided"] = counts["respond_wall_decided"] = 1
    if s.acknowledged_at is not None:
        taken = s.acknowledged_at - s.received_at
        bins["mtta"] = bucket(_minutes(taken))
        bins["mtta_sla"] = bucket(_minutes(s.respond_sla if s.respond_sla is not None else taken))
        counts["respond_hits"] = int(s.acknowledged_at <= s.respond_by)
        counts["respond_wall_hits"] = int(taken <= respond_window)
        counts["update_decided"] = 1
        counts["update_hits"] = int(not late_update)
    if s.restored_at is not None:
        taken = s.restored_at - s.received_at
        bins["mttr"] = bucket(_minutes(taken))
        bins["mttr_sla"] = bucket(_minutes(s.resolve_sla if s.resolve_sla is not None else taken))
        counts["resolve_decided"] = counts["resolve_wall_decided"] = 1
        counts["resolve_hits"] = int(s.restored_at <= s.resolve_by)
        counts["resolve_wall_hits"] = int(taken <= resolve_window)
    if s.verification_count:
        counts["verified"] = 1
        counts["failed_verification"] = int(s.failed_verification_count > 0)
    counts["reopened"] = int(s.reopen_count > 0)
    return counts, bins


def _apply(row: IncidentFigures, counts: dict, bins: dict, sign: int) -> None:
    for name, n in counts.items():
        setattr(row, name, getattr(row, name) + sign * n)
    for name, index in bins.items():
        if name == "causes":
            add_causes(row.causes, {index: 1}, sign)
        else:
            bump(getattr(row, name), index, sign)


def move(incident: Incident, before: Snapshot | None) -> None:
    """The incident went from `before` (None: new) to its current fields: take the
    finished incident's share out of its rows and put the new one in."""
    after = snapshot(incident)
    if before == after:
        return
    sides = [(s, sign) for s, sign in ((before, -1), (after, 1)) if s and s.state in FINAL]
    if not sides:
        return
    late = False
    if any(s.acknowledged_at is not None and s.state != State.CANCELLED for s, _ in sides):
        late = bool(deadlines.late_update_ids([incident.pk]))
    windows = None
    keys = sorted({k for s, _ in sides for k in _keys(s)})
    if any(k[3] != incident.severity for k in keys):
        windows = deadlines.level_windows()
    own = deadlines.windows(incident)

    def window_of(severity):
        return own if severity == incident.severity else windows[severity]

    rows = _locked(keys, window_of)
    for s, sign in sides:
        for key in _keys(s):
            row = rows[key]
            counts, bins = contribution(s, row.respond_window, row.resolve_window, late)
            _apply(row, counts, bins, sign)
    IncidentFigures.objects.bulk_update(rows.values(), list(ROW_FIELDS))


def _locked(keys: list[tuple], window_of) -> dict[tuple, IncidentFigures]:
    """The rows of `keys`, created if missing (with the level's windows now), locked
    in key order."""
    new = []
    for span, start, team_id, severity in keys:
        w = window_of(severity)
        new.append(
            IncidentFigures(
                span=span,
                start=start,
                team_id=team_id,
                severity=severity,
                respond_window=w.respond,
                resolve_window=w.resolve,
            )
        )
    IncidentFigures.objects.bulk_create(new, ignore_conflicts=True)
    match = Q()
    for span, start, team_id, severity in keys:
        match |= Q(span=span, start=start, team_id=team_id, severity=severity)
    locked = (
        IncidentFigures.objects.select_for_update()
        .filter(match)
        .order_by("span", "start", "team_id", "severity")
    )
    return {(r.span, r.start, r.team_id, r.severity): r for r in locked}


@transaction.atomic
def rebuild() -> int:
    """Recompute every row from the incidents (run when no one writes: after a bulk
    load, or after a level's windows changed); returns how many rows were written."""
    IncidentFigures.objects.all().delete()
    windows = deadlines.level_windows()
    finished = Incident.objects.filter(state__in=FINAL).order_by()
    late = deadlines.late_update_ids(finished.values("pk"))
    rows: dict[tuple, IncidentFigures] = {}
    for values in finished.values_list(*SNAPSHOT_FIELDS).iterator(chunk_size=5000):
        s = Snapshot(*values)
        w = windows[s.severity]
        counts, bins = contribution(s, w.respond, w.resolve, s.pk in late)
        for key in _keys(s):
            row = rows.get(key)
            if row is None:
                span, start, team_id, severity = key
                row = rows[key] = IncidentFigures(
                    span=span,
                    start=start,
                    team_id=team_id,
                    severity=severity,
                    respond_window=w.respond,
                    resolve_window=w.resolve,
                )
            _apply(row, counts, bins, 1)
    IncidentFigures.objects.bulk_create(rows.values(), batch_size=1000)
    return len(rows)


def day_of(received_at: datetime) -> date:
    return received_at.astimezone(site_zone()).date()
