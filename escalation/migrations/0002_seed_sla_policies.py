"""Seed PROCESS.md's P0–P3 table; administrators edit it in the admin afterwards."""

from django.db import migrations

LEVELS = [
    # severity, respond, resolve, update (minutes), goal
    ("P0", 5, 120, 30, "Restore availability, limit user loss"),
    ("P1", 15, 240, 30, "Restore the affected functions"),
    ("P2", 30, 480, 60, "Fix the fault, improve experience"),
    ("P3", 120, 1440, 60, "Polish details"),
]


def seed(apps, schema_editor):
    SlaPolicy = apps.get_model("escalation", "SlaPolicy")
    for severity, respond, resolve, update, goal in LEVELS:
        SlaPolicy.objects.get_or_create(
            severity=severity,
            defaults={
                "respond_minutes": respond,
                "resolve_minutes": resolve,
                "update_minutes": update,
                "warning_percent": 80,
                "goal": goal,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("escalation", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
