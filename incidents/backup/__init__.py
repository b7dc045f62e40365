"""A portable JSON dump of the incident history, and its restore.

`manage.py export_incidents` writes one JSON object; `manage.py
import_incidents` reads it back into any database with the same migrations.
The dump names people by username and teams by slug, never by primary key, so
it restores into a database whose ids differ. What it holds (see INCLUDED and
EXCLUDED for the words the commands print):

    {"format": "responder-incidents", "version": 1, "exported_at": ..., "filters": ...,
     "users": [...], "teams": [...], "integrations": [...],
     "incidents": [{..., "log_entries": [...], "events": [...], "notices": [...]}],
     "articles": [...]}

Every incident carries all of its rows nested inside it. Which model fields
go into a row is declared once, in a `Part`: incidents' own in `format`,
escalation's and knowledge's in their `backup` modules, which add them to the
dump through `registry` (incidents imports neither app). A test holds every
model field either written or named as left out, so a new field cannot be
forgotten.

Import only inserts: an incident whose number exists is skipped with all of
its rows (the audit trail is append-only, and restoring twice must not
duplicate), existing users and teams are left exactly as they are. Derived
data is rebuilt afterwards: the tallies, the search documents, the per-day
number sequences. Both directions work in chunks, so a dump of 100k incidents
is never held in memory as model instances at once.

The modules: `format` (what a dump is and holds), `registry` (the parts other
apps add), `export` (writing it), `reader` (streaming it back in), `restore`
(the import).
"""

from incidents.backup.export import ExportChunk, Exporter, export
from incidents.backup.format import (
    CHUNK,
    EXCLUDED,
    INCLUDED,
    VERSION,
    BackupError,
    BadDump,
    Part,
    chunks,
)
from incidents.backup.reader import Reader
from incidents.backup.registry import Nested, Section, parts, register
from incidents.backup.registry import section_keys as sections
from incidents.backup.restore import ImportChunk, Importer, import_

__all__ = [
    "CHUNK",
    "EXCLUDED",
    "INCLUDED",
    "VERSION",
    "BackupError",
    "BadDump",
    "ExportChunk",
    "Exporter",
    "ImportChunk",
    "Importer",
    "Nested",
    "Part",
    "Reader",
    "Section",
    "chunks",
    "export",
    "import_",
    "parts",
    "register",
    "sections",
]
