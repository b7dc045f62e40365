"""The subscribe throttle's table: a database cache (settings.CACHES
"status-throttle"), so every web process counts the same attempts."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    # Creates every database cache table the settings name that is missing.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0020_status_page")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
