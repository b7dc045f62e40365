"""The incident list's fast path: the same JSON as IncidentSummarySerializer.

A page of 50 incidents through DRF's ModelSerializer builds 50 model instances
and runs ~1,500 field objects, and a page query joining team, service,
reporter and owner costs PostgreSQL more to plan than to run. So the page is
read as plain values without joins, and the names it refers to (team and
service slugs, usernames, helpers) come back in one UNION query.
tests/incidents/api/test_rows.py holds the output equal to the serializer's,
field for field (bench/api.py measures the gain).
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from incidents.api.serializers import IncidentSummarySerializer
from incidents.models import Incident, Service, Team, overdue_clocks

User = get_user_model()

# Output field → (id column, kind of name it refers to).
REFERENCES = {
    "team": ("team_id", "team"),
    "service": ("service_id", "service"),
    "reporter": ("reporter_id", "user"),
    "owner": ("owner_id", "user"),
}
COMPUTED = {"helpers", "overdue", "paused", "paused_since"}
FIELDS = IncidentSummarySerializer.Meta.fields
DATETIME_FIELDS = {
    f.name
    for f in Incident._meta.concrete_fields
    if f.get_internal_type() == "DateTimeField" and f.name in FIELDS
}
# Output columns, plus what `overdue` reads.
COLUMNS = list(
    dict.fromkeys(
        [REFERENCES[f][0] if f in REFERENCES else f for f in FIELDS if f not in COMPUTED]
        + ["state", "acknowledged_at", "restored_at", "respond_by", "resolve_by", "next_update_by"]
        + ["paused_at"]
    )
)
# (output field, how to render it, source column, kind of name), in the serializer's order.
PLAN = []
for _field in FIELDS:
    if _field in REFERENCES:
        PLAN.append((_field, "name", *REFERENCES[_field]))
    elif _field in COMPUTED:
        PLAN.append((_field, _field, None, None))
    elif _field in DATETIME_FIELDS:
        PLAN.append((_field, "time", _field, None))
    else:
        PLAN.append((_field, "value", _field, None))


def _iso(value: datetime, zone) -> str:
    # DRF's DateTimeField.to_representation: the current time zone, ISO 8601, Z for UTC.
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _overdue(row: dict, now: datetime) -> list[str]:
    return overdue_clocks(
        state=row["state"],
        acknowledged_at=row["acknowledged_at"],
        restored_at=row["restored_at"],
        respond_by=row["respond_by"],
        resolve_by=row["resolve_by"],
        next_update_by=row["next_update_by"],
        now=now,
        paused_at=row["paused_at"],
    )


def incident_values(queryset):
    """The page's own columns, no joins."""
    return queryset.values(*COLUMNS)


def _names(rows: list[dict]) -> tuple[dict, dict[int, list[str]]]:
    """{(kind, id): name} for the page's references, and each incident's helpers."""
    ids = {"team": set(), "service": set(), "user": set()}
    for row in rows:
        for column, kind in REFERENCES.values():
            if row[column] is not None:
                ids[kind].add(row[column])
    incident_ids = [row["id"] for row in rows]
    q = connection.ops.quote_name
    parts, params = [], []

    def add(sql: str, values) -> None:
        values = sorted(values)
        if values:
            parts.append(sql.format(marks=", ".join(["%s"] * len(values))))
            params.extend(values)

    # Table names come from the models and every value is a parameter.
    add(
        f"SELECT 'team', id, slug, 0 FROM {q(Team._meta.db_table)} WHERE id IN ({{marks}})",  # nosec B608
        ids["team"],
    )
    add(
        f"SELECT 'service', id, slug, 0 FROM {q(Service._meta.db_table)} WHERE id IN ({{marks}})",  # nosec B608
        ids["service"],
    )
    add(
        f"SELECT 'user', id, username, 0 FROM {q(User._meta.db_table)} WHERE id IN ({{marks}})",  # nosec B608
        ids["user"],
    )
    add(
        f"SELECT 'helper', h.incident_id, u.username, h.id "  # nosec B608
        f"FROM {q(Incident.helpers.through._meta.db_table)} h "
        f"JOIN {q(User._meta.db_table)} u ON u.id = h.user_id "
        "WHERE h.incident_id IN ({marks})",
        incident_ids,
    )
    names: dict = {}
    helpers: dict[int, list[str]] = {pk: [] for pk in incident_ids}
    if not parts:
        return names, helpers
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        found = cursor.fetchall()
    # Helpers in the order they were added, as the serializer's prefetch gives them.
    for kind, pk, name, _order in sorted(found, key=lambda r: r[3]):
        if kind == "helper":
            helpers[pk].append(name)
        else:
            names[(kind, pk)] = name
    return names, helpers


def incident_rows(rows: list[dict], *, now: datetime) -> list[dict]:
    """Serialized incidents from incident_values() rows (one more query: the names)."""
    names, helpers = _names(rows)
    zone = timezone.get_current_timezone()
    out = []
    for row in rows:
        item = {}
        for field, how, column, kind in PLAN:
            if how == "value":
                item[field] = row[column]
            elif how == "time":
                value = row[column]
                item[field] = None if value is None else _iso(value, zone)
            elif how == "name":
                value = row[column]
                item[field] = None if value is None else names[(kind, value)]
            elif how == "helpers":
                item[field] = helpers[row["id"]]
            elif how == "paused":
                item[field] = row["paused_at"] is not None
            elif how == "paused_since":
                value = row["paused_at"]
                item[field] = None if value is None else _iso(value, zone)
            else:
                item[field] = _overdue(row, now)
        out.append(item)
    return out
