"""Seed the role groups of DESIGN.md; incidents.rules reads them by name."""

from django.db import migrations

ROLES = ["on-duty", "engineer", "tester", "tech lead", "manager", "admin"]


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
