"""Calendar feed addresses are no longer stored: each feed keeps the SHA-256 of its
secret (to find it) and a nonce from which, with SECRET_KEY, the secret is worked
out again to show it to its owner. Existing addresses keep working: their hash is
kept, and having no nonce they are not shown again (the page offers a new one)."""

import hashlib

from django.db import migrations, models


def hash_tokens(apps, schema_editor):
    CalendarFeed = apps.get_model("escalation", "CalendarFeed")
    for feed in CalendarFeed.objects.all().only("pk", "token"):
        feed.token_hash = hashlib.sha256(feed.token.encode()).hexdigest()
        feed.save(update_fields=["token_hash"])


class Migration(migrations.Migration):
    dependencies = [("escalation", "0014_page_leads_at_once")]

    operations = [
        migrations.AddField(
            model_name="calendarfeed",
            name="token_hash",
            field=models.CharField(max_length=64, null=True, verbose_name="token hash"),
        ),
        migrations.AddField(
            model_name="calendarfeed",
            name="nonce",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Empty: made before addresses were stored hashed (it works, unshown).",
                max_length=32,
                verbose_name="nonce",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(hash_tokens, migrations.RunPython.noop, elidable=False),
        migrations.RemoveField(model_name="calendarfeed", name="token"),
        migrations.AlterField(
            model_name="calendarfeed",
            name="token_hash",
            field=models.CharField(max_length=64, unique=True, verbose_name="token hash"),
        ),
    ]
