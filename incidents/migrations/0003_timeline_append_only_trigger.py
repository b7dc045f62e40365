"""On PostgreSQL, make the audit trail append-only in the database itself.

The model refuses edits and deletes; this trigger also stops raw SQL and any
code path that bypasses the ORM. SQLite (the embedded demo) relies on the model.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION incidents_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timeline events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_timelineevent_append_only
    BEFORE UPDATE OR DELETE ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS incidents_timelineevent_append_only ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timeline_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the SQL holds a literal % that must not be formatted.
        schema_editor.execute(CREATE, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_seed_role_groups")]
    operations = [migrations.RunPython(forward, backward)]
