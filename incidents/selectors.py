"""Reads: what a user sees, with the joins a list page needs."""

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from django.db import connection
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import Upper
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from common import clock
from common.people import name_of
from incidents import rules, tallies
from incidents.models import (
    CLOCK_FIELDS,
    OPEN_STATES,
    UPDATE_CLOCK_STATES,
    Incident,
    IncidentSearchRow,
    State,
    Team,
)
from incidents.workflow import Action


def incident_list(*, user, open_only: bool = False) -> QuerySet[Incident]:
    qs = rules.visible_incidents(user).select_related("team", "owner", "reporter")
    if open_only:
        qs = qs.filter(state__in=OPEN_STATES)
    return qs


def incident_get(*, user, pk: int) -> Incident:
    """The incident if `user` may see it; Incident.DoesNotExist otherwise (never 403)."""
    return incident_list(user=user).get(pk=pk)


def incident_or_404(user, pk) -> Incident:
    """The incident if `user` may see it; Http404 otherwise (a page never says 403)."""
    try:
        return incident_get(user=user, pk=pk)
    except Incident.DoesNotExist:
        raise Http404(_("No such incident, or you cannot see it.")) from None


def visible_teams(user) -> QuerySet[Team]:
    """The teams the user belongs to or leads (managers and admins: all), by name."""
    ctx = rules.context(user)
    teams = Team.objects.order_by("name")
    return teams if ctx.sees_all else teams.filter(pk__in=ctx.team_ids)


def default_team(user) -> Team | None:
    """The team an incident filed by `user` without a team belongs to."""
    if user is None:
        return None
    return (
        Team.objects.filter(members=user).order_by("name").first()
        or Team.objects.filter(tech_leads=user).order_by("name").first()
    )


# List parameters that do not narrow the set beyond what the tallies know.
_TALLY_PARAMS = {"state", "severity", "team", "ordering", "page", "page_size", "format"}


def incident_total(*, user, params, queryset) -> int:
    """How many incidents `queryset` (the user's filtered list) holds.

    Filtered only by state, severity and team, the answer comes from the
    exact tallies (a few rows) plus the user's cross-team work; any other
    filter counts the rows.
    """
    if not set(params) <= _TALLY_PARAMS:
        return queryset.count()
    wanted = None
    if params.getlist("team"):
        wanted = set(
            Team.objects.filter(slug__in=params.getlist("team")).values_list("pk", flat=True)
        )
    return _tallied(
        user=user,
        queryset=queryset,
        team_ids=wanted,
        states=params.getlist("state") or None,
        severities=params.getlist("severity") or None,
    )


def _tallied(*, user, queryset, team_ids, states, severities) -> int:
    """The tallies' count of the user's incidents in `team_ids` (None: every team
    the user sees), plus those of the user's cross-team work `queryset` holds."""
    team_ids, elsewhere = _tally_scope(user, team_ids)
    total = tallies.total(team_ids=team_ids, states=states, severities=severities)
    if elsewhere:
        total += queryset.filter(pk__in=elsewhere).count()
    return total


def _tally_scope(user, team_ids) -> tuple[set[int] | None, list[int]]:
    """(the teams among `team_ids` — None: every team — whose tallies the user
    may count, the ids of their work on other teams' incidents, which the tallies
    of those teams do not give them)."""
    ctx = rules.context(user)
    if ctx.sees_all:
        # Users who see every team have no work "elsewhere": the tallies hold it all.
        return team_ids, []
    mine = set(ctx.team_ids)
    return (mine if team_ids is None else team_ids & mine), rules.cross_team_work(user)


def overdue_q(now) -> Q:
    """Incidents with at least one running clock past its deadline at `now`.

    The SQL form of models.overdue_clocks; the dashboard's and the API's
    `overdue` filter both use it.
    """
    # A pause holds the resolve and update clocks (a maintenance hold, the only pause
    # before the acknowledgement, the respond clock too).
    respond = Q(
        state__in=OPEN_STATES,
        acknowledged_at__isnull=True,
        respond_by__lt=now,
        paused_at__isnull=True,
    )
    resolve = Q(
        state__in=OPEN_STATES, restored_at__isnull=True, resolve_by__lt=now, paused_at__isnull=True
    )
    update = Q(state__in=UPDATE_CLOCK_STATES, next_update_by__lt=now, paused_at__isnull=True)
    return respond | resolve | update


def filter_incidents(
    queryset: QuerySet[Incident],
    *,
    states: Collection[str] = (),
    severities: Collection[str] = (),
    teams: Collection[Team | int] = (),
    owner: str = "",
    overdue: bool | None = None,
    words: str = "",
    now: datetime | None = None,
) -> QuerySet[Incident]:
    """The incident filters of the dashboard and the API list, in one place.

    Each argument left empty filters nothing. A state, level or team matches
    any one given; `owner` is a username; `overdue` True keeps the incidents
    with a running clock past its deadline at `now` (overdue_q), False those
    without; each of the first ten of `words` must appear in the number, title,
    symptoms or impact scope. The caller has checked the values: a team it
    names is one the user may name.
    """
    if states:
        queryset = queryset.filter(state__in=states)
    if severities:
        queryset = queryset.filter(severity__in=severities)
    if teams:
        queryset = queryset.filter(team__in=teams)
    if owner:
        queryset = queryset.filter(owner__username=owner)
    if overdue is not None:
        condition = overdue_q(now or clock.now())
        queryset = queryset.filter(condition) if overdue else queryset.exclude(condition)
    for word in words.split()[:10]:
        queryset = queryset.filter(
            Q(number__icontains=word)
            | Q(title__icontains=word)
            | Q(symptoms__icontains=word)
            | Q(impact_scope__icontains=word)
        )
    return queryset


class Row(SimpleNamespace):
    """A list row as plain values: what its cached HTML is keyed by and what the
    page decides by (incidents/fragments.py), without building an Incident, its
    team and its owner for it. Rows whose HTML is not cached yet are read in full
    (dashboard_incidents_by_pk, archive_incidents_by_pk) and rendered once."""


# What decides a dashboard row beside its key: the late clocks and quick actions
# (views.dashboard); the ETag of the 30-second refresh.
DASHBOARD_ROW_VALUES = (*CLOCK_FIELDS, "severity", "team_id")

# What a dashboard row shows; not the long texts.
DASHBOARD_ROW_FIELDS = (
    *CLOCK_FIELDS,
    "number",
    "title",
    "severity",
    "version",
    "updated_at",
    "received_at",
    "pause_reason",
    "pause_waiting_on",
    "maintenance_window_id",
    "team__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
)


def list_rows(ids: list[int], values: tuple[str, ...] = ()) -> list[Row]:
    """The incidents `ids` as Rows in that order: the key of their cached HTML
    (pk, version, updated_at, the team's name, the owner's id and name) and
    `values`, in one narrow query."""
    head = ("pk", "version", "updated_at", "owner_id", *values)
    by_pk = {}
    for *read, team, username, first, last in (
        Incident.objects.filter(pk__in=ids)
        .order_by()
        .values_list(
            *head, "team__name", "owner__username", "owner__first_name", "owner__last_name"
        )
    ):
        row = Row(**dict(zip(head, read, strict=True)))
        row.team_name = team or ""
        row.owner_name = None if username is None else name_of(first, last, username)
        by_pk[row.pk] = row
    return [by_pk[pk] for pk in ids if pk in by_pk]


def dashboard_rows(queryset: QuerySet[Incident], limit: int) -> list[Row]:
    """The first `limit` incidents of `queryset` (dashboard_incidents, filtered), as Rows.

    Their ids in the dashboard's order first, then those rows: sorting 2,000 open
    incidents' ids is a narrow sort, where sorting the rows themselves carried
    every column through it (6 ms of 12 at 100k incidents).
    """
    return list_rows(list(queryset.values_list("pk", flat=True)[:limit]), DASHBOARD_ROW_VALUES)


def dashboard_incidents_by_pk(pks: Collection[int]) -> dict[int, Incident]:
    """The incidents `pks` with what a dashboard row shows (rows not cached yet)."""
    return (
        Incident.objects.filter(pk__in=pks)
        .select_related("team", "owner")
        .only(*DASHBOARD_ROW_FIELDS)
        .order_by()
        .in_bulk()
    )


def dashboard_incidents(*, user, now: datetime | None = None) -> QuerySet[Incident]:
    """Open incidents the user sees: the overdue ones first, by level (P0 first),
    then by how far over; then the rest by their nearest deadline.

    A P3 whose update is hours late must not sit above a P0 nobody has
    acknowledged yet; the order is SQL, so the page stays one query however many.
    """
    now = now or clock.now()
    late = Q(earliest_due__lt=now)
    return (
        incident_list(user=user, open_only=True)
        .select_related(None)  # the ids first: dashboard_rows
        .annotate(
            overdue_rank=Case(When(late, then=Value(0)), default=Value(1)),
            # Levels sort as text ("P0" < "P3"); among the rest the level does not count.
            overdue_level=Case(When(late, then=F("severity")), default=Value("")),
        )
        .order_by("overdue_rank", "overdue_level", "earliest_due", "received_at", "id")
    )


def open_counts(*, user, teams: Collection[Team] = ()) -> dict[tuple[str, str], int]:
    """(severity, state) → how many open incidents the user sees (of `teams`, if
    given): from the exact tallies (a few rows, where counting grouped 2,000 open
    incidents), plus the user's work on other teams' incidents."""
    team_ids, elsewhere = _tally_scope(user, {team.pk for team in teams} or None)
    counts = tallies.by_severity_and_state(team_ids=team_ids, states=OPEN_STATES)
    if elsewhere:
        extra = Incident.objects.filter(pk__in=elsewhere, state__in=OPEN_STATES)
        if teams:
            extra = extra.filter(team__in=teams)
        grouped = extra.order_by().values_list("severity", "state").annotate(n=Count("id"))
        for severity, state, n in grouped:
            counts[(severity, state)] = counts.get((severity, state), 0) + n
    return counts


def my_work(*, user) -> QuerySet[Incident]:
    """Open incidents the user owns or helps with, next update due first."""
    return (
        Incident.objects.filter(Q(owner=user) | Q(helpers=user), state__in=OPEN_STATES)
        .distinct()
        .select_related("team", "owner")
        .order_by("earliest_due", "id")
    )


def archive_incidents(*, user) -> QuerySet[Incident]:
    """Resolved and archived incidents the user sees, newest first."""
    return incident_list(user=user).filter(state__in=[State.RESOLVED, State.ARCHIVED])


def archive_search(*, user, **filters) -> QuerySet[Incident]:
    """The archive list with its filters (_archive_filters), newest first: the
    archive page and its exports.

    Managers and tech leads only (PermissionDenied otherwise). Dates are days
    of `received_at` in the current time zone; `q` is a title fragment or an
    incident number.
    """
    rules.require(user, Action.VIEW_ARCHIVE)
    qs = archive_incidents(user=user).order_by("-received_at", "-id")
    return _archive_filters(qs, **filters)


def _archive_filters(
    qs,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    team: Team | None = None,
    severity: str = "",
    category: str = "",
    state: str = "",
    q: str = "",
):
    """The archive's filters (archive_search), on incidents or on their
    IncidentSearchRows (the same columns under the same names)."""
    # Days as a range of received_at (not received_at::date), so the indexes serve it.
    if date_from:
        qs = qs.filter(received_at__gte=_start_of_day(date_from))
    if date_to:
        qs = qs.filter(received_at__lt=_start_of_day(date_to + timedelta(days=1)))
    if team:
        qs = qs.filter(team_id=team.pk)
    if severity:
        qs = qs.filter(severity=severity)
    if category:
        qs = qs.filter(category=category)
    if state:
        qs = qs.filter(state=state)
    if q:
        # Numbers are stored upper-case: an equality the unique index answers. The
        # title's trigram index (PostgreSQL) answers the contains; the search rows
        # hold the title upper-case already (UPPER() of the words, by the database).
        if qs.model is IncidentSearchRow:
            title = Q(title_upper__contains=Upper(Value(q)))
        else:
            title = Q(title__icontains=q)
        qs = qs.filter(title | Q(number=q.strip().upper()))
    return qs


# What an archive row shows (templates/incidents/_archive_row.html) and what its
# cached HTML is keyed by (incidents/fragments.py): not the long texts.
ARCHIVE_ROW_FIELDS = (
    "number",
    "title",
    "severity",
    "state",
    "category",
    "received_at",
    "resolved_at",
    "version",
    "updated_at",
    "team__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
)


def _in_search_rows(filters) -> bool:
    """Is this a text search the search rows answer (PostgreSQL's trigger keeps them)?"""
    return bool(filters.get("q")) and connection.vendor == "postgresql"


def archive_order(*, user, queryset: QuerySet[Incident], **filters) -> QuerySet:
    """What the archive page takes its ids from, in its order: for a text search
    on PostgreSQL, the incidents' IncidentSearchRows with the same filters (a
    common word's newest matches come from their index alone, where the
    incidents' own walk visited the table for each incident it passed);
    otherwise `queryset` (archive_search with these `filters`)."""
    if not _in_search_rows(filters):
        return queryset
    rows = IncidentSearchRow.objects.filter(state__in=[State.RESOLVED, State.ARCHIVED])
    rows = _archive_filters(rules.visible_incidents(user, rows), **filters)
    return rows.order_by("-received_at", "-id")


def archive_rows(queryset: QuerySet, start: int, stop: int) -> list[Row]:
    """The incidents at positions [start, stop) of `queryset` (archive_order), as Rows.

    Their ids first, then those rows: the deep page's OFFSET walks ids alone
    instead of joined, full-width rows (page 20 read 1,000 joined rows to show 50).
    """
    if stop <= start:
        return []
    return list_rows(list(queryset.values_list("pk", flat=True)[start:stop]))


def archive_incidents_by_pk(pks: Collection[int]) -> dict[int, Incident]:
    """The incidents `pks` with what an archive row shows (rows not cached yet)."""
    return (
        Incident.objects.filter(pk__in=pks)
        .select_related("team", "owner")
        .only(*ARCHIVE_ROW_FIELDS)
        .order_by()
        .in_bulk()
    )


def archive_total(
    *, user, queryset, team=None, severity: str = "", state: str = "", **narrowing
) -> int:
    """How many incidents `queryset` (archive_search with these filters) holds.

    With no filter but team, level and state, from the tallies (a few rows
    instead of counting tens of thousands); any other filter counts the rows,
    a text search on PostgreSQL in their narrow IncidentSearchRows.
    """
    if _in_search_rows(narrowing):
        # The matches of a word counted in the narrow copy of the incidents the
        # trigger keeps: counting them in the incidents visited a wide page per match.
        return archive_order(
            user=user, queryset=queryset, team=team, severity=severity, state=state, **narrowing
        ).count()
    if any(narrowing.values()):
        return queryset.count()
    return _tallied(
        user=user,
        queryset=queryset,
        team_ids=None if team is None else {team.pk},
        states=[state] if state else [State.RESOLVED, State.ARCHIVED],
        severities=[severity] if severity else None,
    )


def _start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def team_people_by_team(team_ids) -> dict[int, list]:
    """team id → its active members and tech leads (two queries for all teams)."""
    people: dict[int, dict[int, object]] = {tid: {} for tid in team_ids}
    for through in (Team.members.through, Team.tech_leads.through):
        for link in through.objects.filter(
            team_id__in=team_ids, user__is_active=True
        ).select_related("user"):
            people[link.team_id][link.user_id] = link.user
    return {tid: sorted(users.values(), key=lambda u: u.username) for tid, users in people.items()}
