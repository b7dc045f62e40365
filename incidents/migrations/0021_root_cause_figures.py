"""The incident carries its post-mortem's root-cause category, and the kept figures
count root causes (knowledge's migration 0006 fills both from the post-mortems)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_incident_earliest_due"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="root_cause_category",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                max_length=20,
                verbose_name="root-cause category",
            ),
        ),
        migrations.AddField(
            model_name="incidentfigures",
            name="causes",
            field=models.JSONField(default=dict),
        ),
    ]
