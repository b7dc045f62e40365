"""Seed DESIGN.md's ladder; administrators edit it in the admin afterwards."""

from django.db import migrations

# clock, level, minutes after the deadline, owner, tech leads, manager
LADDER = [
    ("respond", 1, 0, False, True, False),
    ("respond", 2, 15, False, False, True),
    ("resolve", 1, 0, True, True, False),
    ("resolve", 2, 60, False, False, True),
    ("update", 1, 0, True, False, False),
    ("update", 2, 30, False, True, False),
    ("warning", 1, 0, True, False, False),
    ("page", 1, 0, False, True, False),
]


def seed(apps, schema_editor):
    LadderStep = apps.get_model("escalation", "LadderStep")
    for clock, level, after, owner, leads, manager in LADDER:
        LadderStep.objects.get_or_create(
            clock=clock,
            level=level,
            defaults={
                "after_minutes": after,
                "to_owner": owner,
                "to_tech_leads": leads,
                "to_manager": manager,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("escalation", "0003_escalation_engine")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
