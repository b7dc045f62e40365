"""Copy each post-mortem's root-cause category to its incident, and count the
finished incidents' root causes into the kept figures (incidents.figures: one
row per day and per month, team and level; cancelled incidents count none)."""

import zoneinfo
from collections import Counter, defaultdict

from django.conf import settings
from django.db import migrations

FINISHED = ("resolved", "archived")


def forwards(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    IncidentFigures = apps.get_model("incidents", "IncidentFigures")
    PostMortem = apps.get_model("knowledge", "PostMortem")
    categories = (
        PostMortem.objects.exclude(root_cause_category="")
        .order_by()
        .values_list("root_cause_category", flat=True)
        .distinct()
    )
    for category in list(categories):
        Incident.objects.filter(
            pk__in=PostMortem.objects.filter(root_cause_category=category).values("incident_id")
        ).update(root_cause_category=category)
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    rows = defaultdict(Counter)
    finished = (
        Incident.objects.filter(state__in=FINISHED)
        .exclude(root_cause_category="")
        .order_by()
        .values_list("team_id", "severity", "received_at", "root_cause_category")
    )
    for team_id, severity, received_at, category in finished.iterator(chunk_size=5000):
        day = received_at.astimezone(zone).date()
        rows[("day", day, team_id, severity)][category] += 1
        rows[("month", day.replace(day=1), team_id, severity)][category] += 1
    # A missing row: the figures were never built; `rebuild_metrics` counts it all.
    for (span, start, team_id, severity), causes in rows.items():
        IncidentFigures.objects.filter(
            span=span, start=start, team_id=team_id, severity=severity
        ).update(causes=dict(causes))


def backwards(apps, schema_editor):
    apps.get_model("incidents", "IncidentFigures").objects.update(causes={})


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0021_root_cause_figures"),
        ("knowledge", "0005_search_index_version"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
