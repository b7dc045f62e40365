"""Reads of alerts: an incident's alerts, the alerts waiting for their group's Nth firing."""

from django.db.models import QuerySet

from common import sql
from incidents import rules
from incidents.models import Alert, AlertIntegration, Incident

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


def any_pending_alerts(*, user) -> bool:
    """pending_alerts(user=user).exists(), written out: the dashboard asks on every view."""
    if not user.is_authenticated or not user.is_active:
        return False
    ctx = rules.context(user)
    query = (
        f"SELECT 1 FROM {sql.table(Alert)} a "  # nosec B608: names from the models
        f"JOIN {sql.table(AlertIntegration)} i ON i.id = a.{sql.column(Alert, 'integration')} "
        f"WHERE a.{sql.column(Alert, 'pending')} = %s AND a.{sql.column(Alert, 'incident')} IS NULL"
    )
    params = [True]
    if not ctx.sees_all:
        if not ctx.team_ids:
            return False
        query += f" AND i.{sql.column(AlertIntegration, 'team')} IN ({sql.among(ctx.team_ids)})"
        params += sorted(ctx.team_ids)
    return bool(sql.rows(query + " LIMIT 1", params))
