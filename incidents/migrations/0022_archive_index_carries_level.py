"""The team/state/received index carries the level as its last column: the archive
filtered by level counts from the index alone. The new index is built before the
old one is dropped."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0021_root_cause_figures"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                fields=["team", "state", "-received_at", "severity"],
                name="incident_team_state_recv_sev",
            ),
        ),
        migrations.RemoveIndex(
            model_name="incident",
            name="incident_team_state_recv",
        ),
    ]
