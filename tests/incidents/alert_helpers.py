"""Shared by the alert tests: integrations and Alertmanager deliveries."""

from incidents import alerts, services
from incidents.api.alerts import AlertmanagerPayload, GenericAlert
from incidents.models import AlertIntegration, Incident, LogEntry

ENDED = "2026-11-26T02:30:00Z"
NO_END = "0001-01-01T00:00:00Z"  # what Alertmanager sends for a firing alert


def integration(team, name="prometheus", **settings) -> AlertIntegration:
    created, token = alerts.integration_create(name=name, team=team, rate_limit_per_minute=10_000)
    if settings:
        AlertIntegration.objects.filter(pk=created.pk).update(**settings)
        created.refresh_from_db()
    created.token = token
    return created


def am(group: str, batch, *, labels=None, starts="2026-11-26T01:50:00Z") -> dict:
    """An Alertmanager v4 delivery of one group; `batch` holds (fingerprint, status)."""
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "status": "firing",
        "receiver": "responder",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group, "severity": "critical"},
        "commonAnnotations": {"summary": f"{group} fires"},
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": group,
                    "severity": "critical",
                    "instance": fingerprint,
                    **(labels or {}),
                },
                "annotations": {"summary": f"{group} fires"},
                "startsAt": starts,
                "endsAt": "2026-11-26T02:30:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
            for fingerprint, status in batch
        ],
    }


def parsed(body: dict) -> list[alerts.ParsedAlert]:
    if alerts.is_alertmanager(body):
        serializer = AlertmanagerPayload(data=body)
        serializer.is_valid(raise_exception=True)
        return alerts.from_alertmanager(serializer.validated_data)
    serializer = GenericAlert(data=body)
    serializer.is_valid(raise_exception=True)
    return alerts.from_generic(serializer.validated_data)


def receive(integration, body: dict):
    return alerts.alerts_receive(integration=integration, alerts=parsed(body))


def firing(*fingerprints):
    return [(f, "firing") for f in fingerprints]


def resolved(*fingerprints):
    return [(f, "resolved") for f in fingerprints]


def notes(incident: Incident) -> list[str]:
    return list(
        incident.log_entries.filter(author=None, kind=LogEntry.Kind.NOTE)
        .order_by("pk")
        .values_list("text", flat=True)
    )


def close(incident: Incident, *, lead, owner, tester) -> Incident:
    """Take an incident through to resolved (verified)."""
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_resolve(incident=incident, actor=owner, fix="fixed")
    services.incident_verify(
        incident=incident, actor=tester, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    incident.refresh_from_db()
    return incident
