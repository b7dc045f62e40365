from datetime import time, timedelta

from django.db import migrations
from django.db.models import DurationField, ExpressionWrapper, F


def seed(apps, schema_editor):
    """A ready calendar (every level stays 24×7 until an administrator picks it), the
    pause-limit step, and the values the new fields would have had (no level had a
    calendar and no incident was paused, so SLA time is wall time)."""
    BusinessCalendar = apps.get_model("escalation", "BusinessCalendar")
    WorkingHours = apps.get_model("escalation", "WorkingHours")
    LadderStep = apps.get_model("escalation", "LadderStep")
    SlaPolicy = apps.get_model("escalation", "SlaPolicy")
    Incident = apps.get_model("incidents", "Incident")

    calendar, created = BusinessCalendar.objects.get_or_create(
        name="Mainland China working days", defaults={"china_holidays": True}
    )
    if created:
        WorkingHours.objects.bulk_create(
            WorkingHours(calendar=calendar, weekday=day, start=time(9), end=time(18))
            for day in range(5)
        )
    LadderStep.objects.get_or_create(
        clock="pause", level=1, defaults={"after_minutes": 0, "to_tech_leads": True}
    )

    for policy in SlaPolicy.objects.all():
        share = timedelta(minutes=policy.resolve_minutes) * policy.warning_percent / 100
        Incident.objects.filter(severity=policy.severity, resolve_warn_by=None).update(
            resolve_warn_by=F("received_at") + share
        )
    Incident.objects.filter(acknowledged_at__isnull=False, respond_sla=None).update(
        respond_sla=ExpressionWrapper(
            F("acknowledged_at") - F("received_at"), output_field=DurationField()
        )
    )
    Incident.objects.filter(restored_at__isnull=False, resolve_sla=None).update(
        resolve_sla=ExpressionWrapper(
            F("restored_at") - F("received_at"), output_field=DurationField()
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0009_business_calendars"),
        ("incidents", "0013_sla_pause_and_team_zone"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
