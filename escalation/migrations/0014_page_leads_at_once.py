"""An urgent P0 pages the team's tech leads and the on-call primary at once (level 1),
then the secondary after 5 minutes: DESIGN's "a P0 filed as urgent pages the tech
leads at once". 0012 had put the tech leads at level 3, ten minutes later.

Only a page ladder still as 0012 left it is changed: an administrator's edits are kept.
"""

from django.db import migrations

FIELDS = ("level", "after_minutes", "to_owner", "to_tech_leads", "to_manager")
FIELDS += ("to_oncall_primary", "to_oncall_secondary")
# (level, after, owner, leads, manager, primary, secondary)
ROUTED = [
    (1, 0, False, False, False, True, False),
    (2, 5, False, False, False, False, True),
    (3, 10, False, True, False, False, False),
]
AT_ONCE = [
    (1, 0, False, True, False, True, False),
    (2, 5, False, False, False, False, True),
]


def _replace(apps, was, becomes):
    LadderStep = apps.get_model("escalation", "LadderStep")
    rows = LadderStep.objects.filter(clock="page").order_by("level")
    if [tuple(getattr(s, f) for f in FIELDS) for s in rows] != was:
        return
    rows.delete()
    for values in becomes:
        LadderStep.objects.create(clock="page", **dict(zip(FIELDS, values, strict=True)))


def forwards(apps, schema_editor):
    _replace(apps, ROUTED, AT_ONCE)


def backwards(apps, schema_editor):
    _replace(apps, AT_ONCE, ROUTED)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0013_rotation_turns")]
    operations = [migrations.RunPython(forwards, backwards)]
