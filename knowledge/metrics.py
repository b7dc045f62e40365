"""The numbers managers judge the team by, for a date range and team.

Definitions (also in the README):

- Population: incidents *received* in the range (the site's time zone,
  TIME_ZONE, whoever looks), of the chosen team, that the user may see.
  Cancelled ones are counted apart and left out of every other figure.
- MTTA: received → acknowledged; MTTR: received → service restored (the
  resolution that passed verification). Median and p90 in minutes; p90 is
  the nearest-rank value (the ⌈0.9·n⌉-th smallest). Incidents not yet
  acknowledged / restored are left out of that figure. Each in wall time
  (`mtta_*`, `mttr_*`) and in SLA time (`mtta_sla_*`, `mttr_sla_*`): on a
  business-hours level only working time counts, and time paused while
  waiting on someone outside the team never counts (kept per incident when
  its clock stopped: Incident.respond_sla / resolve_sla).
- Compliance %: of the incidents whose deadline is decided (the clock stopped,
  or its deadline passed), the share that met it. Respond: acknowledged by
  respond_by; resolve: restored by resolve_by (both deadlines are in SLA time:
  the SLA compliance); update: no progress update was ever overdue (no
  "update" notice), among incidents that were acknowledged. The wall-time
  compliance (`*_wall_compliance_pct`) asks instead whether the wall time
  taken was within the level's window, pauses and nights included.
- Failed-verification rate: of the incidents verified at least once, the share
  with a failed verification (the process's reopen loop); reopened counts
  resolved/archived incidents taken back.
- Recurred within 7 days: incidents of the population (not cancelled) filed by
  monitoring as a recurrence of one resolved at most 7 days before they were
  received (Incident.recurrence_of).
- Root causes: post-mortem categories, most frequent first. Overdue actions:
  open improvement actions past their due date.
- Affected users' ratings (`affected_feedback`): the answers affected users
  gave through the status page's feedback link (UserFeedback by_affected_user
  with a rating 1–5; what staff wrote down is not counted), for the incidents of
  the population (not cancelled): their count and average rating per month the
  incident was received and per level, like the other tables.

How (compute): the finished incidents' figures are kept at write time
(incidents.figures: counts, duration histograms and root causes per day and
month, team and level; an incident carries its post-mortem's root-cause
category for that); the open ones, whose figures still move with "now", are
computed from their rows here and added (on PostgreSQL kept in memory while
none of them changed and "now" passed none of their deadlines: _add_live_in_sql).
Counts and percentages are exact; medians and p90
are within 1 minute or 5 % of the true value, whichever is larger (the median
of an even count: the mean of two such values). Up to EXACT_UP_TO finished
incidents, and while the kept rows were counted with a level's old windows,
compute_exact() answers instead: every figure from the incidents' rows.
"""

import hashlib
import json
import logging
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth

from common.people import name_of
from escalation.models import Clock, Notice
from escalation.sla import all_windows
from incidents import figures, fragments, rules, selectors
from incidents.figures import Figures, site_zone
from incidents.models import OPEN_STATES, IncidentFigures, Severity, State, UserFeedback
from knowledge.models import ActionItem, PostMortem, RootCause

logger = logging.getLogger(__name__)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    """Nearest rank: the ⌈0.9·n⌉-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def percent(hits: int, total: int) -> float | None:
    return round(100.0 * hits / total, 1) if total else None


@dataclass
class Cell:
    """The figures of one level in one month (or of all of them)."""

    count: int = 0
    mtta: list[float] = field(default_factory=list)
    mttr: list[float] = field(default_factory=list)
    mtta_sla: list[float] = field(default_factory=list)
    mttr_sla: list[float] = field(default_factory=list)
    respond: list[bool] = field(default_factory=list)
    resolve: list[bool] = field(default_factory=list)
    respond_wall: list[bool] = field(default_factory=list)
    resolve_wall: list[bool] = field(default_factory=list)
    update: list[bool] = field(default_factory=list)
    verified: int = 0
    failed_verification: int = 0
    reopened: int = 0

    def extend(self, other: "Cell") -> None:
        self.count += other.count
        for name in LISTS:
            getattr(self, name).extend(getattr(other, name))
        self.verified += other.verified
        self.failed_verification += other.failed_verification
        self.reopened += other.reopened

    def as_kept(self) -> Figures:
        """The same incidents as counts and histograms (incidents.figures)."""
        kept = Figures()
        kept.count = self.count
        for name in ("respond", "resolve", "respond_wall", "resolve_wall", "update"):
            values = getattr(self, name)
            setattr(kept, f"{name}_hits", sum(values))
            setattr(kept, f"{name}_decided", len(values))
        kept.verified = self.verified
        kept.failed_verification = self.failed_verification
        kept.reopened = self.reopened
        for name in figures.HISTOGRAMS:
            for value in getattr(self, name):
                kept.add_value(name, value)
        return kept

    def summary(self) -> dict:
        return {
            "count": self.count,
            "mtta_median_min": _round(median(self.mtta)),
            "mtta_p90_min": _round(p90(self.mtta)),
            "mttr_median_min": _round(median(self.mttr)),
            "mttr_p90_min": _round(p90(self.mttr)),
            "mtta_sla_median_min": _round(median(self.mtta_sla)),
            "mtta_sla_p90_min": _round(p90(self.mtta_sla)),
            "mttr_sla_median_min": _round(median(self.mttr_sla)),
            "mttr_sla_p90_min": _round(p90(self.mttr_sla)),
            "respond_compliance_pct": percent(sum(self.respond), len(self.respond)),
            "resolve_compliance_pct": percent(sum(self.resolve), len(self.resolve)),
            "respond_wall_compliance_pct": percent(sum(self.respond_wall), len(self.respond_wall)),
            "resolve_wall_compliance_pct": percent(sum(self.resolve_wall), len(self.resolve_wall)),
            "update_compliance_pct": percent(sum(self.update), len(self.update)),
            "failed_verification_pct": percent(self.failed_verification, self.verified),
            "reopened": self.reopened,
        }


LISTS = (
    "mtta",
    "mttr",
    "mtta_sla",
    "mttr_sla",
    "respond",
    "resolve",
    "respond_wall",
    "resolve_wall",
    "update",
)


def kept_summary(kept: Figures) -> dict:
    """Cell.summary() of figures kept as counts and histograms: percentiles within
    the precision of incidents.figures."""
    return {
        "count": kept.count,
        "mtta_median_min": _round(kept.median("mtta")),
        "mtta_p90_min": _round(kept.p90("mtta")),
        "mttr_median_min": _round(kept.median("mttr")),
        "mttr_p90_min": _round(kept.p90("mttr")),
        "mtta_sla_median_min": _round(kept.median("mtta_sla")),
        "mtta_sla_p90_min": _round(kept.p90("mtta_sla")),
        "mttr_sla_median_min": _round(kept.median("mttr_sla")),
        "mttr_sla_p90_min": _round(kept.p90("mttr_sla")),
        "respond_compliance_pct": percent(kept.respond_hits, kept.respond_decided),
        "resolve_compliance_pct": percent(kept.resolve_hits, kept.resolve_decided),
        "respond_wall_compliance_pct": percent(kept.respond_wall_hits, kept.respond_wall_decided),
        "resolve_wall_compliance_pct": percent(kept.resolve_wall_hits, kept.resolve_wall_decided),
        "update_compliance_pct": percent(kept.update_hits, kept.update_decided),
        "failed_verification_pct": percent(kept.failed_verification, kept.verified),
        "reopened": kept.reopened,
    }


def _round(value):
    return None if value is None else round(value, 1)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def date_range_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the site's time zone."""
    tz = site_zone()
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=tz),
        datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz),
    )


# The fields the figures read (incidents.figures' snapshot, without the team and
# the root cause, which is counted on its own).
FIELDS = tuple(f for f in figures.SNAPSHOT_FIELDS if f not in ("team_id", "root_cause_category"))


RECURRENCE_WINDOW = timedelta(days=7)


def _population(*, user, start: date, end: date, team=None):
    """The incidents `user` may see received in [start, end] (of `team`, if given)."""
    lower, upper = date_range_bounds(start, end)
    population = selectors.incident_list(user=user).filter(
        received_at__gte=lower, received_at__lt=upper
    )
    if team is not None:
        population = population.filter(team=team)
    return population


# Up to this many finished incidents in the range, compute() counts from the
# incidents' rows (exact, and as fast as the kept figures at that size).
EXACT_UP_TO = 1000


def compute(*, user, start: date, end: date, team=None, now: datetime) -> dict:
    """The metrics of the module docstring for incidents received in [start, end]:
    the finished incidents' figures as kept at write time (incidents.figures), the
    open ones (and other teams' incidents the user works on) computed live, added
    up. Counts are exact, percentiles within the precision of incidents.figures
    (exact for up to EXACT_UP_TO finished incidents)."""
    population = _population(user=user, start=start, end=end, team=team)
    ctx = rules.context(user)
    team_ids = None if ctx.sees_all else set(ctx.team_ids)
    if team is not None:
        team_ids = {team.pk} if team_ids is None else team_ids & {team.pk}
    today = now.astimezone(site_zone()).date()
    kept, counted_with = figures.read(start=start, end=end, team_ids=team_ids, today=today)
    windows = all_windows()
    if any((windows[s].respond, windows[s].resolve) != (r, v) for s, r, v in counted_with):
        logger.warning("metrics figures counted with old SLA windows: run rebuild_metrics")
        return compute_exact(user=user, start=start, end=end, team=team, now=now)
    if sum(c.count + c.cancelled for c in kept.values()) <= EXACT_UP_TO:
        return compute_exact(user=user, start=start, end=end, team=team, now=now)
    live = Q(state__in=OPEN_STATES)
    elsewhere = [] if ctx.sees_all else rules.cross_team_work(user)
    if elsewhere:
        live |= Q(pk__in=elsewhere) & ~Q(team_id__in=ctx.team_ids)
    causes: dict[str, int] = {}  # the live incidents' root causes
    rest = None
    if connection.vendor == "postgresql":
        cancelled = _add_live_in_sql(kept, causes, population.filter(live), windows, now)
        rest = _rest_in_sql(population, now)
    else:
        cancelled, cells = _live_cells(population.filter(live), windows, now)
        for key, cell in cells.items():
            kept.setdefault(key, Figures()).add(cell.as_kept())
        causes = dict(
            population.filter(live)
            .exclude(state=State.CANCELLED)
            .exclude(root_cause_category="")
            .order_by()
            .values_list("root_cause_category")
            .annotate(n=Count("id"))
        )
    by_level: dict[str, Figures] = {}
    total = Figures()
    total.causes = causes
    for (_month, severity), cell in kept.items():
        cancelled += cell.cancelled
        by_level.setdefault(severity, Figures()).add(cell)
        total.add(cell)
    figures_ = _arrange(
        cancelled,
        kept_summary(total),
        {s: kept_summary(c) for s, c in by_level.items() if c.count},
        {k: kept_summary(c) for k, c in kept.items() if c.count},
    )
    return _with_the_rest(
        population,
        figures_,
        start=start,
        end=end,
        team=team,
        now=now,
        causes=total.causes,
        rest=rest,
    )


def compute_exact(*, user, start: date, end: date, team=None, now: datetime) -> dict:
    """compute() from the incidents' rows alone, exact: the reference (and the way
    while the kept figures were counted with old SLA windows)."""
    population = _population(user=user, start=start, end=end, team=team)
    if connection.vendor == "postgresql":
        figures_ = _figures_in_sql(population, now)
    else:
        figures_ = _figures_in_python(population, now)
    return _with_the_rest(population, figures_, start=start, end=end, team=team, now=now)


def _with_the_rest(
    population, figures_: dict, *, start, end, team, now, causes=None, rest=None
) -> dict:
    """The figures with recurrences, root causes (`causes`, category → incidents, if
    given: else counted from the post-mortems), overdue actions and the affected
    users' ratings (`rest`, as _rest_in_sql reads them, if given: else read here)."""
    ids = population.exclude(state=State.CANCELLED).values("pk")
    if rest is None:
        rest = _rest_in_orm(population, ids, now)
    recurred, overdue_actions, ratings = rest
    if causes is None:
        # Counted by the database: thousands of post-mortems, a handful of categories.
        causes = (
            PostMortem.objects.filter(incident__in=ids)
            .exclude(root_cause_category="")
            .values_list("root_cause_category")
            .annotate(n=Count("id"))
            .order_by("-n", "root_cause_category")
        )
    else:
        causes = sorted(causes.items(), key=lambda c: (-c[1], c[0]))
    return {
        "start": start,
        "end": end,
        "team": team.slug if team is not None else None,
        **figures_,
        "recurred_within_7_days": recurred,
        "root_causes": [
            {"category": c, "label": str(RootCause(c).label), "count": n} for c, n in causes
        ],
        "overdue_action_items": [
            {
                "id": pk,
                "text": text,
                "owner": username,
                "owner_name": name_of(first_name, last_name, username),
                "due_date": due_date,
                "incident": number,
                "incident_id": incident_id,
            }
            for pk, text, username, first_name, last_name, due_date, number, incident_id in (
                overdue_actions
            )
        ],
        "affected_feedback": _ratings(ratings),
    }


def _rest_in_orm(population, ids, now) -> tuple[int, list[tuple], list[tuple]]:
    """(recurrences, overdue actions, the affected users' ratings: (month, level,
    answers, their sum) of the population: what _rest_in_sql reads, through the ORM
    (SQLite; the reference)."""
    recurred = (
        population.exclude(state=State.CANCELLED)
        .filter(
            # Said apart, so PostgreSQL starts from the few recurrences (their index)
            # instead of joining every incident of the range.
            recurrence_of__isnull=False,
            recurrence_of__resolved_at__isnull=False,
            recurrence_of__resolved_at__gte=F("received_at") - RECURRENCE_WINDOW,
            recurrence_of__resolved_at__lte=F("received_at"),
        )
        .count()
    )
    # The few fields shown, not three whole rows (a post-mortem's texts) per item.
    overdue_actions = (
        ActionItem.objects.filter(
            postmortem__incident__in=ids,
            done_at__isnull=True,
            due_date__lt=now.astimezone(site_zone()).date(),
        )
        .order_by("due_date", "id")
        .values_list(
            "pk",
            "text",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
            "due_date",
            "postmortem__incident__number",
            "postmortem__incident_id",
        )
    )
    return recurred, list(overdue_actions), _rating_rows(ids)


def _rating_rows(ids) -> list[tuple]:
    """(month, level, answers, their sum) of the affected users' ratings of `ids`."""
    rows = (
        UserFeedback.objects.filter(incident__in=ids, by_affected_user=True, rating__isnull=False)
        .annotate(month=TruncMonth("incident__received_at", tzinfo=site_zone()))
        .values_list("month", "incident__severity")
        .annotate(count=Count("id"), total=Sum("rating"))
        .order_by()
    )
    return [(month.strftime("%Y-%m"), severity, n, total) for month, severity, n, total in rows]


# Recurrences, overdue actions and the affected users' ratings of the population in
# one statement (PostgreSQL): the ORM took longer to compose the three than the
# database to answer them. `pop` is inlined into each part (NOT MATERIALIZED), so
# each is planned as the ORM's subquery was (recurrences from their index).
_REST_SQL = """
WITH pop AS NOT MATERIALIZED ({population})
SELECT
  (SELECT count(*) FROM pop p JOIN incidents_incident r ON r.id = p.recurrence_of_id
   WHERE p.state <> 'cancelled'
     -- Said apart, so it starts from the few recurrences (their index) instead of
     -- joining every incident of the range.
     AND p.recurrence_of_id IS NOT NULL AND r.resolved_at IS NOT NULL
     AND r.resolved_at >= p.received_at - %(week)s AND r.resolved_at <= p.received_at),
  (SELECT json_agg(json_build_array(a.id, a.text, u.username, u.first_name, u.last_name,
       a.due_date, p.number, p.pk) ORDER BY a.due_date, a.id)::text
   FROM knowledge_actionitem a
   JOIN knowledge_postmortem pm ON pm.id = a.postmortem_id
   JOIN pop p ON p.pk = pm.incident_id
   JOIN auth_user u ON u.id = a.owner_id
   WHERE p.state <> 'cancelled' AND a.done_at IS NULL AND a.due_date < %(today)s),
  (SELECT json_agg(json_build_array(t.month, t.severity, t.n, t.total))::text FROM (
     SELECT to_char(p.received_at AT TIME ZONE %(tz)s, 'YYYY-MM') AS month, p.severity,
       count(*) AS n, sum(f.rating) AS total
     FROM incidents_userfeedback f JOIN pop p ON p.pk = f.incident_id
     WHERE p.state <> 'cancelled' AND f.by_affected_user AND f.rating IS NOT NULL
     GROUP BY 1, 2) t)
"""


def _rest_in_sql(population, now) -> tuple[int, list[tuple], list[tuple]]:
    """What _rest_in_orm reads, in one statement."""
    fields = ("pk", "state", "received_at", "recurrence_of_id", "severity", "number")
    population_sql, params = _named(population.order_by().values(*fields))
    params |= {
        "week": RECURRENCE_WINDOW,
        "today": now.astimezone(site_zone()).date(),
        "tz": settings.TIME_ZONE,
    }
    with connection.cursor() as cursor:
        cursor.execute(_REST_SQL.format(population=population_sql), params)
        recurred, actions, ratings = cursor.fetchone()
    actions = [(*a[:5], date.fromisoformat(a[5]), *a[6:]) for a in json.loads(actions or "[]")]
    return recurred, actions, [tuple(r) for r in json.loads(ratings or "[]")]


def _named(queryset) -> tuple[str, dict]:
    """The queryset's SQL with its positional placeholders named (p0, p1, …), to be
    part of a statement with named parameters, and those parameters."""
    sql, params = queryset.query.sql_with_params()
    names = tuple(f"%(p{i})s" for i in range(len(params)))
    return sql.replace("%%", "%%%%") % names, {f"p{i}": v for i, v in enumerate(params)}


def _arrange(cancelled: int, total: dict, by_level: dict, cells: dict) -> dict:
    months = sorted({m for m, _s in cells}, reverse=True)
    return {
        "cancelled": cancelled,
        "total": total,
        "by_level": [{"severity": s, **by_level[s]} for s in Severity.values if s in by_level],
        "by_month": [
            {"month": m, "severity": s, **cells[(m, s)]}
            for m in months
            for s in Severity.values
            if (m, s) in cells
        ],
    }


def _live_cells(population, windows, now) -> tuple[int, dict[tuple[str, str], Cell]]:
    """(cancelled, (month, level) → Cell) of `population`, row by row."""
    rows = list(population.order_by().values_list(*FIELDS))
    late_updates = set(
        Notice.objects.filter(incident__in=population.values("pk"), clock=Clock.UPDATE)
        .order_by()
        .values_list("incident_id", flat=True)
        .distinct()
    )
    return _cells(rows, late_updates, windows, now)


def _cells(rows, late_updates, windows, now) -> tuple[int, dict[tuple[str, str], Cell]]:
    tz = site_zone()
    cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
    cancelled = 0
    for (
        pk,
        severity,
        state,
        received,
        acked,
        restored,
        respond_by,
        resolve_by,
        reopens,
        verifications,
        failed_verifications,
        respond_sla,
        resolve_sla,
    ) in rows:
        if state == State.CANCELLED:
            cancelled += 1
            continue
        local = received.astimezone(tz)
        cell = cells[(f"{local.year:04d}-{local.month:02d}", severity)]
        is_open = state not in (State.RESOLVED, State.ARCHIVED)
        window = windows[severity]
        cell.count += 1
        if acked is not None:
            cell.mtta.append(_minutes(acked - received))
            cell.mtta_sla.append(
                _minutes(respond_sla if respond_sla is not None else acked - received)
            )
            cell.respond.append(acked <= respond_by)
            cell.respond_wall.append(acked - received <= window.respond)
            cell.update.append(pk not in late_updates)
        else:
            if respond_by < now:
                cell.respond.append(False)
            if received + window.respond < now:
                cell.respond_wall.append(False)
        if restored is not None:
            cell.mttr.append(_minutes(restored - received))
            cell.mttr_sla.append(
                _minutes(resolve_sla if resolve_sla is not None else restored - received)
            )
            cell.resolve.append(restored <= resolve_by)
            cell.resolve_wall.append(restored - received <= window.resolve)
        elif is_open:
            if resolve_by < now:
                cell.resolve.append(False)
            if received + window.resolve < now:
                cell.resolve_wall.append(False)
        if verifications:
            cell.verified += 1
            cell.failed_verification += int(failed_verifications > 0)
        cell.reopened += int(reopens > 0)
    return cancelled, cells


# The live incidents' figures added up by PostgreSQL (as _cells does in Python), in
# one pass: per month and level the counts, the bucket of incidents.figures each
# duration falls in (width_bucket over the same lower bounds as bisect_right), as
# arrays counted in Python, and the root-cause categories named.
# date_part, not EXTRACT: a float at once, where EXTRACT's numeric is slower.
_LIVE_SQL = """
WITH pop AS ({population}),
w AS (SELECT * FROM (VALUES {windows}) AS w(severity, respond, resolve)),
x AS (
  SELECT
    to_char(l.received_at AT TIME ZONE %(tz)s, 'YYYY-MM') AS month,
    l.severity,
    l.state = 'cancelled' AS cancelled,
    date_part('epoch', l.acknowledged_at - l.received_at)::float8 / 60 AS mtta,
    date_part('epoch', l.restored_at - l.received_at)::float8 / 60 AS mttr,
    CASE WHEN l.acknowledged_at IS NOT NULL THEN date_part('epoch',
      COALESCE(l.respond_sla, l.acknowledged_at - l.received_at))::float8 / 60 END AS mtta_sla,
    CASE WHEN l.restored_at IS NOT NULL THEN date_part('epoch',
      COALESCE(l.resolve_sla, l.restored_at - l.received_at))::float8 / 60 END AS mttr_sla,
    CASE WHEN l.acknowledged_at IS NOT NULL THEN (l.acknowledged_at <= l.respond_by)::int
         WHEN l.respond_by < %(now)s THEN 0 END AS respond_ok,
    CASE WHEN l.restored_at IS NOT NULL THEN (l.restored_at <= l.resolve_by)::int
         WHEN l.resolve_by < %(now)s AND l.state NOT IN ('resolved', 'archived') THEN 0 END
      AS resolve_ok,
    CASE WHEN l.acknowledged_at IS NOT NULL
           THEN (l.acknowledged_at - l.received_at <= w.respond)::int
         WHEN l.received_at + w.respond < %(now)s THEN 0 END AS respond_wall_ok,
    CASE WHEN l.restored_at IS NOT NULL THEN (l.restored_at - l.received_at <= w.resolve)::int
         WHEN l.received_at + w.resolve < %(now)s AND l.state NOT IN ('resolved', 'archived')
           THEN 0 END AS resolve_wall_ok,
    CASE WHEN l.acknowledged_at IS NOT NULL THEN (NOT EXISTS (
      SELECT 1 FROM escalation_notice n WHERE n.clock = 'update' AND n.incident_id = l.pk
    ))::int END AS update_ok,
    (l.verification_count > 0)::int AS verified,
    (l.failed_verification_count > 0)::int AS failed,
    (l.reopen_count > 0)::int AS reopened,
    l.root_cause_category AS cause,
    -- The moments "now" passing would change one of the above (a deadline missed).
    CASE WHEN l.acknowledged_at IS NULL THEN l.respond_by END AS t_respond,
    CASE WHEN l.restored_at IS NULL AND l.state NOT IN ('resolved', 'archived')
      THEN l.resolve_by END AS t_resolve,
    CASE WHEN l.acknowledged_at IS NULL THEN l.received_at + w.respond END AS t_respond_wall,
    CASE WHEN l.restored_at IS NULL AND l.state NOT IN ('resolved', 'archived')
      THEN l.received_at + w.resolve END AS t_resolve_wall
  FROM pop l
  JOIN w ON w.severity = l.severity
)
SELECT month, severity,
  count(*) FILTER (WHERE NOT cancelled), count(*) FILTER (WHERE cancelled),
  coalesce(sum(respond_ok) FILTER (WHERE NOT cancelled), 0),
  count(respond_ok) FILTER (WHERE NOT cancelled),
  coalesce(sum(resolve_ok) FILTER (WHERE NOT cancelled), 0),
  count(resolve_ok) FILTER (WHERE NOT cancelled),
  coalesce(sum(respond_wall_ok) FILTER (WHERE NOT cancelled), 0),
  count(respond_wall_ok) FILTER (WHERE NOT cancelled),
  coalesce(sum(resolve_wall_ok) FILTER (WHERE NOT cancelled), 0),
  count(resolve_wall_ok) FILTER (WHERE NOT cancelled),
  coalesce(sum(update_ok) FILTER (WHERE NOT cancelled), 0),
  count(update_ok) FILTER (WHERE NOT cancelled),
  coalesce(sum(verified) FILTER (WHERE NOT cancelled), 0),
  coalesce(sum(failed) FILTER (WHERE NOT cancelled), 0),
  coalesce(sum(reopened) FILTER (WHERE NOT cancelled), 0),
  {buckets},
  array_agg(cause) FILTER (WHERE NOT cancelled AND cause <> ''),
  {passed},
  {ahead}
FROM x GROUP BY month, severity
"""
_MOMENTS = ("t_respond", "t_resolve", "t_respond_wall", "t_resolve_wall")
# The last of those moments already passed, and the first still ahead.
_PASSED_SQL = "greatest({})".format(
    ", ".join(f"max({t}) FILTER (WHERE NOT cancelled AND {t} < %(now)s)" for t in _MOMENTS)
)
_AHEAD_SQL = "least({})".format(
    ", ".join(f"min({t}) FILTER (WHERE NOT cancelled AND {t} >= %(now)s)" for t in _MOMENTS)
)

# What the live incidents' figures are computed from, in one small statement: which
# incidents, at which versions (every service's save moves it) and root causes,
# and the newest notice (a late progress update is one). While it reads the same,
# and "now" passes none of their deadlines, their figures are as last computed.
_LIVE_STATE_SQL = """
WITH pop AS ({population})
SELECT count(*),
  coalesce(sum(hashint8extended(pk * 1000003 + version, 0)
    # hashtextextended(root_cause_category, 0)), 0),
  (SELECT max(id) FROM escalation_notice)
FROM pop
"""
_BUCKET_SQL = (
    "array_agg(CASE WHEN {d} <= 0 THEN 0 ELSE width_bucket({d}, %(bounds)s::float8[]) END) "
    "FILTER (WHERE NOT cancelled AND {d} IS NOT NULL)"
)

# The columns of _LIVE_SQL after the count and the cancelled.
_LIVE_COUNTS = IncidentFigures.COUNTS[2:]


LIVE_KEPT_SECONDS = 600  # how long unused live figures stay in memory


def _add_live_in_sql(kept: dict, causes: dict, population, windows, now) -> int:
    """Add the live incidents' figures to `kept` ((month, level) → Figures) and their
    root causes to `causes`; returns how many of them were cancelled.

    Their sums are kept in this process's memory (the rows cache) with what they
    were computed from (_LIVE_STATE_SQL) and the span of "now" they hold for: a view
    that finds both unchanged adds them up from there, with one small statement
    instead of going through every open incident again."""
    fields = (*FIELDS, "root_cause_category", "version")
    population_sql, params = _named(population.order_by().values(*fields))
    levels = list(windows.items())
    params |= {
        f"w{i}": v for i, v in enumerate(v for s, w in levels for v in (s, w.respond, w.resolve))
    }
    params |= {"tz": settings.TIME_ZONE, "bounds": figures.BOUNDS}
    where = repr((population_sql, sorted(params.items())))
    key = "metrics-live:" + hashlib.blake2b(where.encode(), digest_size=16).hexdigest()
    cache = caches[fragments.CACHE]
    with connection.cursor() as cursor:
        cursor.execute(_LIVE_STATE_SQL.format(population=population_sql), params)
        state = cursor.fetchone()
        stored = cache.get(key)
        if stored is not None and stored[0] == state and stored[1] < now <= stored[2]:
            rows = stored[3]
        else:
            rows, passed, ahead = _live_rows(cursor, population_sql, params, levels, now)
            # Read after `state`: a change in between only makes the next view
            # compute them again.
            cache.set(key, (state, passed, ahead, rows), LIVE_KEPT_SECONDS)
    cancelled = 0
    histograms = len(figures.HISTOGRAMS)
    for month, severity, n, *counts in rows:
        *counts, named = counts
        cell = kept.get((month, severity))
        if cell is None:
            cell = kept[(month, severity)] = Figures()
        cell.count += n
        cancelled += counts[0]
        for name, value in zip(_LIVE_COUNTS, counts[1:-histograms], strict=True):
            setattr(cell, name, getattr(cell, name) + value)
        for name, counted in zip(figures.HISTOGRAMS, counts[-histograms:], strict=True):
            for index, k in counted:
                figures.bump(getattr(cell, name), index, k)
        for category, k in named:
            causes[category] = causes.get(category, 0) + k
    return cancelled


_EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def _live_rows(cursor, population_sql, params, levels, now):
    """(_LIVE_SQL's rows, their arrays as (value, how many) pairs and without the
    moments; the last moment passed and the first ahead, over all of them: the span
    of "now" the rows hold for)."""
    windows_sql = ", ".join(
        f"(%(w{3 * i})s, %(w{3 * i + 1})s::interval, %(w{3 * i + 2})s::interval)"
        for i in range(len(levels))
    )
    buckets = ", ".join(_BUCKET_SQL.format(d=name) for name in figures.HISTOGRAMS)
    sql = _LIVE_SQL.format(
        population=population_sql,
        windows=windows_sql,
        buckets=buckets,
        passed=_PASSED_SQL,
        ahead=_AHEAD_SQL,
    )
    cursor.execute(sql, {**params, "now": now})
    fetched = cursor.fetchall()
    passed = max((r[-2] for r in fetched if r[-2] is not None), default=_EVER[0])
    ahead = min((r[-1] for r in fetched if r[-1] is not None), default=_EVER[1])
    # The buckets and causes counted once, for every view that reads them.
    rows = tuple((*r[:-7], *(tuple(Counter(a or ()).items()) for a in r[-7:-2])) for r in fetched)
    return rows, passed, ahead


def _figures_in_python(population, now) -> dict:
    """The figures computed row by row (SQLite; the reference for _figures_in_sql)."""
    cancelled, cells = _live_cells(population, all_windows(), now)
    by_level: dict[str, Cell] = defaultdict(Cell)
    total = Cell()
    for (_month, severity), cell in cells.items():
        by_level[severity].extend(cell)
        total.extend(cell)
    return _arrange(
        cancelled,
        total.summary(),
        {s: c.summary() for s, c in by_level.items()},
        {k: c.summary() for k, c in cells.items()},
    )


# The same figures in one statement (PostgreSQL): GROUPING SETS give the
# month × level cells, the per-level rows and the total at once; medians with
# percentile_cont, nearest-rank p90 with percentile_disc.
_SQL = """
WITH pop AS ({population}),
live AS (SELECT * FROM pop WHERE state <> 'cancelled'),
upd AS (SELECT DISTINCT incident_id FROM escalation_notice WHERE clock = 'update'),
w AS (SELECT * FROM (VALUES {windows}) AS w(severity, respond, resolve)),
x AS (
  SELECT
    to_char(l.received_at AT TIME ZONE %s, 'YYYY-MM') AS month,
    l.severity,
    EXTRACT(EPOCH FROM l.acknowledged_at - l.received_at)::float8 / 60 AS mtta,
    EXTRACT(EPOCH FROM l.restored_at - l.received_at)::float8 / 60 AS mttr,
    CASE WHEN l.acknowledged_at IS NOT NULL THEN EXTRACT(EPOCH FROM
      COALESCE(l.respond_sla, l.acknowledged_at - l.received_at))::float8 / 60 END AS mtta_sla,
    CASE WHEN l.restored_at IS NOT NULL THEN EXTRACT(EPOCH FROM
      COALESCE(l.resolve_sla, l.restored_at - l.received_at))::float8 / 60 END AS mttr_sla,
    CASE WHEN l.acknowledged_at IS NOT NULL THEN (l.acknowledged_at <= l.respond_by)::int
         WHEN l.respond_by < %s THEN 0 END AS respond_ok,
    CASE WHEN l.restored_at IS NOT NULL THEN (l.restored_at <= l.resolve_by)::int
         WHEN l.resolve_by < %s AND l.state NOT IN ('resolved', 'archived') THEN 0 END
      AS resolve_ok,
    CASE WHEN l.acknowledged_at IS NOT NULL
           THEN (l.acknowledged_at - l.received_at <= w.respond)::int
         WHEN l.received_at + w.respond < %s THEN 0 END AS respond_wall_ok,
    CASE WHEN l.restored_at IS NOT NULL THEN (l.restored_at - l.received_at <= w.resolve)::int
         WHEN l.received_at + w.resolve < %s AND l.state NOT IN ('resolved', 'archived')
           THEN 0 END AS resolve_wall_ok,
    CASE WHEN l.acknowledged_at IS NOT NULL THEN (u.incident_id IS NULL)::int END AS update_ok,
    CASE WHEN l.verification_count > 0 THEN l.failed_verification_count > 0 END AS failed,
    (l.reopen_count > 0)::int AS reopened
  FROM live l
  JOIN w ON w.severity = l.severity
  LEFT JOIN upd u ON u.incident_id = l.pk
)
SELECT
  GROUPING(month), GROUPING(severity), month, severity, count(*),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY mtta),
  percentile_disc(0.9) WITHIN GROUP (ORDER BY mtta),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY mttr),
  percentile_disc(0.9) WITHIN GROUP (ORDER BY mttr),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY mtta_sla),
  percentile_disc(0.9) WITHIN GROUP (ORDER BY mtta_sla),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY mttr_sla),
  percentile_disc(0.9) WITHIN GROUP (ORDER BY mttr_sla),
  sum(respond_ok), count(respond_ok), sum(resolve_ok), count(resolve_ok),
  sum(respond_wall_ok), count(respond_wall_ok), sum(resolve_wall_ok), count(resolve_wall_ok),
  sum(update_ok), count(update_ok),
  count(failed), count(*) FILTER (WHERE failed), sum(reopened)
FROM x
GROUP BY GROUPING SETS ((month, severity), (severity), ())
"""


def _figures_in_sql(population, now) -> dict:
    pop_sql, pop_params = population.order_by().values(*FIELDS).query.sql_with_params()
    windows = list(all_windows().items())
    sql = _SQL.format(
        population=pop_sql,
        windows=", ".join(["(%s, %s::interval, %s::interval)"] * len(windows)),
    )
    params = [
        *pop_params,
        *[v for s, w in windows for v in (s, w.respond, w.resolve)],
        settings.TIME_ZONE,
        now,
        now,
        now,
        now,
    ]
    total = None
    by_level, cells = {}, {}
    with transaction.atomic(), connection.cursor() as cursor:
        # The estimates of this one statement are far off (it groups what it
        # joins), which makes PostgreSQL spend longer compiling it (JIT) than
        # running it; and its sorts fit in memory with a little more of it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            (
                g_month,
                g_severity,
                month,
                severity,
                count,
                mtta50,
                mtta90,
                mttr50,
                mttr90,
                mtta_sla50,
                mtta_sla90,
                mttr_sla50,
                mttr_sla90,
                resp_hits,
                resp_n,
                res_hits,
                res_n,
                resp_wall_hits,
                resp_wall_n,
                res_wall_hits,
                res_wall_n,
                upd_hits,
                upd_n,
                verified,
                failed,
                reopened,
            ) = row
            summary = {
                "count": count,
                "mtta_median_min": _round(mtta50),
                "mtta_p90_min": _round(mtta90),
                "mttr_median_min": _round(mttr50),
                "mttr_p90_min": _round(mttr90),
                "mtta_sla_median_min": _round(mtta_sla50),
                "mtta_sla_p90_min": _round(mtta_sla90),
                "mttr_sla_median_min": _round(mttr_sla50),
                "mttr_sla_p90_min": _round(mttr_sla90),
                "respond_compliance_pct": percent(resp_hits or 0, resp_n),
                "resolve_compliance_pct": percent(res_hits or 0, res_n),
                "respond_wall_compliance_pct": percent(resp_wall_hits or 0, resp_wall_n),
                "resolve_wall_compliance_pct": percent(res_wall_hits or 0, res_wall_n),
                "update_compliance_pct": percent(upd_hits or 0, upd_n),
                "failed_verification_pct": percent(failed, verified),
                "reopened": reopened or 0,
            }
            if g_month and g_severity:
                total = summary
            elif g_month:
                by_level[severity] = summary
            else:
                cells[(month, severity)] = summary
    cancelled = population.filter(state=State.CANCELLED).count()
    return _arrange(cancelled, total or Cell().summary(), by_level, cells)


def _rating(count: int, total: int) -> dict:
    return {"count": count, "average_rating": round(total / count, 2) if count else None}


def affected_feedback(*, user, start: date, end: date, team=None) -> dict:
    """The affected users' ratings of the incidents received in [start, end] (the
    module docstring; compute() gives them too, as "affected_feedback")."""
    population = _population(user=user, start=start, end=end, team=team)
    return _ratings(_rating_rows(population.exclude(state=State.CANCELLED).values("pk")))


def _ratings(rows) -> dict:
    """Count and average per month × level, per level and in all, of (month, level,
    answers, their sum) rows."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    levels: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    everything = [0, 0]
    for month, severity, count, total in rows:
        for target in (cells[(month, severity)], levels[severity], everything):
            target[0] += count
            target[1] += total
    months = sorted({m for m, _s in cells}, reverse=True)
    return {
        "total": _rating(*everything),
        "by_level": [
            {"severity": s, **_rating(*levels[s])} for s in Severity.values if s in levels
        ],
        "by_month": [
            {"month": m, "severity": s, **_rating(*cells[(m, s)])}
            for m in months
            for s in Severity.values
            if (m, s) in cells
        ],
    }


def monthly_series(result: dict, key: str) -> list[dict]:
    """Per month, the figure `key` of each level: for the charts."""
    series: dict[str, dict[str, float | None]] = defaultdict(dict)
    for row in result["by_month"]:
        series[row["month"]][row["severity"]] = row[key]
    return [{"month": m, "values": series[m]} for m in sorted(series)]


def default_range(now: datetime) -> tuple[date, date]:
    """The last 180 days up to today."""
    today = now.astimezone(site_zone()).date()
    return today - timedelta(days=179), today
