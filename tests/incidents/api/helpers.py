"""Paths of the HTTP API (fixed by DESIGN.md) and small readers shared by its tests."""

from datetime import datetime

from incidents.models import Incident, TimelineEvent

LIST_URL = "/api/v1/incidents/"


def detail_url(incident_or_pk) -> str:
    pk = getattr(incident_or_pk, "pk", incident_or_pk)
    return f"{LIST_URL}{pk}/"


def action_url(incident_or_pk, action: str) -> str:
    return f"{detail_url(incident_or_pk)}{action}/"


def etag_of(incident: Incident) -> str:
    """The ETag the API should send for the incident as stored now."""
    row = Incident.objects.get(pk=incident.pk)
    return f'"{row.pk}-{row.version}"'


def reload(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def event_kinds(incident: Incident) -> list[str]:
    return list(
        TimelineEvent.objects.filter(incident=incident)
        .order_by("created_at", "id")
        .values_list("kind", flat=True)
    )


def when(value: str) -> datetime:
    """An API timestamp (ISO 8601 with offset) as an aware datetime."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"naive timestamp from the API: {value}"
    return parsed
