"""Reads: what a user sees, with the joins a list page needs."""

from django.db.models import QuerySet

from incidents import rules, tallies
from incidents.models import OPEN_STATES, Incident, Team


def incident_list(*, user, open_only: bool = False) -> QuerySet[Incident]:
    qs = rules.visible_incidents(user).select_related("team", "owner", "reporter")
    if open_only:
        qs = qs.filter(state__in=OPEN_STATES)
    return qs


def incident_get(*, user, pk: int) -> Incident:
    """The incident if `user` may see it; Incident.DoesNotExist otherwise (never 403)."""
    return incident_list(user=user).get(pk=pk)


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
    ctx = rules.context(user)
    states = params.getlist("state") or None
    severities = params.getlist("severity") or None
    team_ids = None if ctx.sees_all else set(ctx.team_ids)
    if params.getlist("team"):
        wanted = set(
            Team.objects.filter(slug__in=params.getlist("team")).values_list("pk", flat=True)
        )
        team_ids = wanted if team_ids is None else team_ids & wanted
    total = tallies.total(team_ids=team_ids, states=states, severities=severities)
    # Users who see every team have no work "elsewhere": the tallies hold it all.
    elsewhere = [] if ctx.sees_all else rules.cross_team_work(user)
    if elsewhere:
        total += queryset.filter(pk__in=elsewhere).count()
    return total
