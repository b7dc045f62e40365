import gzip
import sys

from django.core.management.base import BaseCommand, CommandError, no_translations
from django.db import DatabaseError

from common.statistics import analyze
from incidents import backup


class Command(BaseCommand):
    help = (
        "Restore a dump written by export_incidents, in one transaction: a bad or "
        "partial file changes nothing. Incidents whose number exists are skipped "
        "with all their rows, existing users and teams are left as they are, so "
        "importing twice adds nothing. New users get an unusable password. "
        "Tallies, metrics figures, search documents and number sequences are rebuilt, and the "
        "database's statistics refreshed (ANALYZE). "
        "Not in a dump: " + "; ".join(backup.EXCLUDED) + "."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the dump (.json, .json.gz, or - for stdin)")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="read and check everything, report the counts, write nothing",
        )

    @no_translations  # an operator's tool: English, whatever LANGUAGE_CODE says
    def handle(self, *args, file, dry_run=False, **options):
        try:
            if file == "-":
                result = backup.import_(sys.stdin, dry_run=dry_run)
            else:
                opener = gzip.open if file.endswith(".gz") else open
                with opener(file, "rt", encoding="utf-8") as stream:
                    result = backup.import_(stream, dry_run=dry_run)
        except backup.BadDump as exc:
            raise CommandError(f"{file}: {exc}. Nothing was imported.") from exc
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}. Nothing was imported.") from exc
        except DatabaseError as exc:
            raise CommandError(
                f"{file}: the database refused the data ({exc}). Nothing was imported."
            ) from exc
        if not dry_run and result.created["incidents"]:
            analyze()  # the planner would otherwise use the pre-import statistics
        for note in result.notes:
            self.stdout.write(f"Note: {note}")
        kinds = sorted(set(result.created) | set(result.skipped))
        for kind in kinds:
            self.stdout.write(
                f"{kind}: {result.created[kind]} created, {result.skipped[kind]} already present"
            )
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {result.created['incidents']} incidents "
                f"({result.skipped['incidents']} already present)"
                + (" - dry run, nothing written." if dry_run else ".")
            )
        )
