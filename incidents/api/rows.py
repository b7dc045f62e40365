"""The incident list's fast path: the same JSON as IncidentSummarySerializer, from .values().

A page of 50 incidents through DRF's ModelSerializer builds 50 model instances
and runs ~2,000 field objects; reading plain values and formatting them here
costs a fraction of that (see bench/api.py). tests/incidents/api/test_rows.py
holds the output equal to the serializer's, field for field.
"""

from datetime import datetime

from django.utils import timezone

from incidents.api.serializers import IncidentSummarySerializer
from incidents.models import OPEN_STATES, UPDATE_CLOCK_STATES, Incident

RELATED = {
    "team": "team__slug",
    "service": "service__slug",
    "reporter": "reporter__username",
    "owner": "owner__username",
}
COMPUTED = {"helpers", "overdue"}
FIELDS = IncidentSummarySerializer.Meta.fields
# Output columns, plus what `overdue` reads.
COLUMNS = list(
    dict.fromkeys(
        [RELATED.get(f, f) for f in FIELDS if f not in COMPUTED]
        + ["state", "acknowledged_at", "restored_at", "respond_by", "resolve_by", "next_update_by"]
    )
)
DATETIME_FIELDS = {
    f.name
    for f in Incident._meta.concrete_fields
    if f.get_internal_type() == "DateTimeField" and f.name in FIELDS
}
# (output field, how to render it, source column), in the serializer's order.
PLAN = [
    (
        f,
        "helpers"
        if f == "helpers"
        else "overdue"
        if f == "overdue"
        else "time"
        if f in DATETIME_FIELDS
        else "value",
        RELATED.get(f, f),
    )
    for f in FIELDS
]


def _iso(value: datetime | None, zone) -> str | None:
    # DRF's DateTimeField.to_representation: the current time zone, ISO 8601, Z for UTC.
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _overdue(row: dict, now: datetime) -> list[str]:
    state = row["state"]
    late = []
    if state in OPEN_STATES and row["acknowledged_at"] is None and row["respond_by"] < now:
        late.append("respond")
    if state in OPEN_STATES and row["restored_at"] is None and row["resolve_by"] < now:
        late.append("resolve")
    if state in UPDATE_CLOCK_STATES and row["next_update_by"] and row["next_update_by"] < now:
        late.append("update")
    return late


def incident_values(queryset):
    """The columns incident_rows needs, joined in one query."""
    return queryset.values(*COLUMNS)


def incident_rows(rows: list[dict], *, now: datetime) -> list[dict]:
    """Serialized incidents from incident_values() rows (one more query: helpers)."""
    ids = [row["id"] for row in rows]
    helpers: dict[int, list[str]] = {pk: [] for pk in ids}
    through = Incident.helpers.through.objects.filter(incident_id__in=ids).order_by("pk")
    for incident_id, username in through.values_list("incident_id", "user__username"):
        helpers[incident_id].append(username)
    zone = timezone.get_current_timezone()
    out = []
    for row in rows:
        item = {}
        for field, kind, column in PLAN:
            if kind == "value":
                item[field] = row[column]
            elif kind == "time":
                value = row[column]
                item[field] = None if value is None else _iso(value, zone)
            elif kind == "helpers":
                item[field] = helpers[row["id"]]
            else:
                item[field] = _overdue(row, now)
        out.append(item)
    return out
