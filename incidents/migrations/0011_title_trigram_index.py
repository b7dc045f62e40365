"""A trigram index for the archive's text filter, on PostgreSQL only.

The archive finds incidents whose title contains the words (`title__icontains`,
UPPER(title) LIKE '%…%'), which scanned every closed incident (60 ms at 100k,
twice a page with its count). pg_trgm's GIN index answers LIKE with a leading
wildcard, for Chinese as for English (C.UTF-8 keeps CJK characters in
trigrams). SQLite has no such index and scans, as before.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS incident_title_trgm "
            "ON incidents_incident USING gin (UPPER(title) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS incident_title_trgm")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0010_incident_owner_team_index")]
    operations = [migrations.RunPython(create, drop)]
