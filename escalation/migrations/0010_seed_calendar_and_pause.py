from datetime import time

from django.db import migrations


def seed(apps, schema_editor):
    """A ready calendar (every level stays 24×7 until an administrator picks it) and
    the pause-limit step.

    Existing incidents are not rewritten: an UPDATE of every row bloated the
    100k-incident bench table 3.7× and flipped a per-request plan to a
    sequential scan. Their empty resolve_warn_by, respond_sla and resolve_sla
    read as the wall-time values they would have had (no level had a calendar
    and nothing was paused): escalation.deadlines.desired, knowledge.metrics and
    knowledge.exports fall back to them.
    """
    BusinessCalendar = apps.get_model("escalation", "BusinessCalendar")
    WorkingHours = apps.get_model("escalation", "WorkingHours")
    LadderStep = apps.get_model("escalation", "LadderStep")

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


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0009_business_calendars"),
        ("incidents", "0013_sla_pause_and_team_zone"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
