"""The archive's text search counts its matches in a narrow copy of the incidents.

incidents_incident_search holds, per incident, the columns the archive filters
on; on PostgreSQL a trigger keeps it, whatever writes the incident (services,
the admin, a bulk UPDATE, a restore, raw SQL). It holds the title upper-case,
with a trigram index, as incident_title_trgm indexes UPPER(title) on the
incidents, and an index newest first that holds every column, for a page's ids.
SQLite (the embedded default) gets the empty table only: the archive counts and
pages the incidents themselves there.
"""

from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION incidents_search_row() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM incidents_incident_search WHERE id = OLD.id;
    ELSE
        INSERT INTO incidents_incident_search
            (id, team_id, state, severity, category, received_at, number, title_upper)
        VALUES (NEW.id, NEW.team_id, NEW.state, NEW.severity, NEW.category,
                NEW.received_at, NEW.number, UPPER(NEW.title))
        ON CONFLICT (id) DO UPDATE SET
            (team_id, state, severity, category, received_at, number, title_upper)
            = ROW(EXCLUDED.team_id, EXCLUDED.state, EXCLUDED.severity, EXCLUDED.category,
                  EXCLUDED.received_at, EXCLUDED.number, EXCLUDED.title_upper);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_incident_search_insert_delete
    AFTER INSERT OR DELETE ON incidents_incident
    FOR EACH ROW EXECUTE FUNCTION incidents_search_row();
-- A save writes every column: only a change of one the search reads costs a write.
CREATE TRIGGER incidents_incident_search_update
    AFTER UPDATE ON incidents_incident FOR EACH ROW
    WHEN ((OLD.id, OLD.team_id, OLD.state, OLD.severity, OLD.category, OLD.received_at,
           OLD.number, OLD.title)
          IS DISTINCT FROM (NEW.id, NEW.team_id, NEW.state, NEW.severity, NEW.category,
           NEW.received_at, NEW.number, NEW.title))
    EXECUTE FUNCTION incidents_search_row();
INSERT INTO incidents_incident_search
    (id, team_id, state, severity, category, received_at, number, title_upper)
    SELECT id, team_id, state, severity, category, received_at, number, UPPER(title)
    FROM incidents_incident;
CREATE INDEX incident_search_title_trgm
    ON incidents_incident_search USING gin (title_upper gin_trgm_ops);
-- The page's ids, newest first, from the index alone: a common word's newest
-- matches without a visit to the table.
CREATE INDEX incident_search_recent ON incidents_incident_search
    (received_at DESC, id DESC) INCLUDE (team_id, state, severity, category, number, title_upper);
"""
DROP = """
DROP TRIGGER IF EXISTS incidents_incident_search_insert_delete ON incidents_incident;
DROP TRIGGER IF EXISTS incidents_incident_search_update ON incidents_incident;
DROP FUNCTION IF EXISTS incidents_search_row();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0022_archive_index_carries_level"),
    ]

    operations = [
        migrations.CreateModel(
            name="IncidentSearchRow",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("team_id", models.BigIntegerField()),
                ("state", models.CharField(max_length=20)),
                ("severity", models.CharField(max_length=2)),
                ("category", models.CharField(max_length=20)),
                ("received_at", models.DateTimeField()),
                ("number", models.CharField(max_length=32)),
                ("title_upper", models.CharField(max_length=200)),
            ],
            options={
                "db_table": "incidents_incident_search",
                "indexes": [models.Index(fields=["number"], name="incident_search_number")],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
