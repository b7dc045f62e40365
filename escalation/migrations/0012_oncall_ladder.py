"""The ladder's defaults route to the duty roster: an urgent P0 pages the on-call
primary at once, the secondary after 5 minutes, then the tech leads; a missed
response goes to the on-call primary, then the tech leads, then the manager.

Only a ladder still as seeded is changed: an administrator's edits are kept.
"""

from django.db import migrations

SEEDED = {
    # clock: [(level, after, owner, leads, manager)] as 0004 seeded them
    "respond": [(1, 0, False, True, False), (2, 15, False, False, True)],
    "page": [(1, 0, False, True, False)],
}
# clock: [(level, after, owner, leads, manager, primary, secondary)]
ROUTED = {
    "respond": [
        (1, 0, False, False, False, True, False),
        (2, 5, False, True, False, False, False),
        (3, 15, False, False, True, False, False),
    ],
    "page": [
        (1, 0, False, False, False, True, False),
        (2, 5, False, False, False, False, True),
        (3, 10, False, True, False, False, False),
    ],
}


def _as_seeded(LadderStep, clock):
    rows = LadderStep.objects.filter(clock=clock).order_by("level")
    found = [
        (s.level, s.after_minutes, s.to_owner, s.to_tech_leads, s.to_manager)
        for s in rows
        if not (s.to_oncall_primary or s.to_oncall_secondary)
    ]
    return found == SEEDED[clock] and len(found) == rows.count()


def route(apps, schema_editor):
    LadderStep = apps.get_model("escalation", "LadderStep")
    for clock, steps in ROUTED.items():
        if not _as_seeded(LadderStep, clock):
            continue
        LadderStep.objects.filter(clock=clock).delete()
        for level, after, owner, leads, manager, primary, secondary in steps:
            LadderStep.objects.create(
                clock=clock,
                level=level,
                after_minutes=after,
                to_owner=owner,
                to_tech_leads=leads,
                to_manager=manager,
                to_oncall_primary=primary,
                to_oncall_secondary=secondary,
            )


def unroute(apps, schema_editor):
    LadderStep = apps.get_model("escalation", "LadderStep")
    for clock, steps in SEEDED.items():
        current = [
            (
                s.level,
                s.after_minutes,
                s.to_owner,
                s.to_tech_leads,
                s.to_manager,
                s.to_oncall_primary,
                s.to_oncall_secondary,
            )
            for s in LadderStep.objects.filter(clock=clock).order_by("level")
        ]
        if current != ROUTED[clock]:
            continue
        LadderStep.objects.filter(clock=clock).delete()
        for level, after, owner, leads, manager in steps:
            LadderStep.objects.create(
                clock=clock,
                level=level,
                after_minutes=after,
                to_owner=owner,
                to_tech_leads=leads,
                to_manager=manager,
            )


class Migration(migrations.Migration):
    dependencies = [("escalation", "0011_duty_rosters")]
    operations = [migrations.RunPython(route, unroute)]
