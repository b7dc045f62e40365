"""The search index's version (knowledge.search keeps ranked pages while it holds)."""

from django.db import migrations, models


def first_row(apps, schema_editor):
    apps.get_model("knowledge", "SearchIndexVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0004_search_document_recent_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchIndexVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveBigIntegerField(default=0, verbose_name="version")),
            ],
        ),
        migrations.RunPython(first_row, migrations.RunPython.noop),
    ]
