"""The GIN index on search_document.vector, on PostgreSQL only (SQLite searches
with LIKE; see knowledge.search)."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS search_document_vector "
            "ON knowledge_searchdocument USING gin (vector)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS search_document_vector")


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_postmortem_actions_search")]
    operations = [migrations.RunPython(create, drop)]
