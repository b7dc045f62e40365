"""Reads of alerts: an incident's alerts, the alerts waiting for their group's Nth firing."""

from django.db.models import QuerySet

from incidents import rules
from incidents.models import Alert, Incident

ALERT_FIELDS = (
    "pk",
    "fingerprint",
    "status",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "events",
    "flapping",
    "first_seen",
    "last_seen",
)


def incident_alerts(*, incident: Incident) -> QuerySet[Alert]:
    """The incident's alerts, first seen first (the caller checked it may see it)."""
    return Alert.objects.filter(incident=incident).order_by("first_seen", "pk").only(*ALERT_FIELDS)


def pending_alerts(*, user) -> QuerySet[Alert]:
    """Alerts waiting for their group's Nth firing (open after N), of the teams
    the user sees, newest first."""
    queryset = Alert.objects.filter(pending=True, incident__isnull=True)
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    ctx = rules.context(user)
    if not ctx.sees_all:
        queryset = queryset.filter(integration__team_id__in=ctx.team_ids)
    return queryset.select_related("integration__team").order_by("-first_seen", "-pk")
