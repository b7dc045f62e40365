"""Reads: what a user sees, with the joins a list page needs."""

from django.db.models import QuerySet

from incidents import rules
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
