import gzip
import os
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError, no_translations
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from incidents import backup


def _since(value: str) -> datetime:
    """A date (midnight in TIME_ZONE) or an ISO 8601 time with its zone."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: not a date: {value!r} (use YYYY-MM-DD)")
        moment = timezone.make_aware(datetime.combine(day, time.min))
    elif timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = (
        "Write the incident history as portable JSON (format version "
        f"{backup.VERSION}) to stdout or --output; import_incidents restores it. "
        "Included: " + "; ".join(backup.INCLUDED) + ". "
        "Not included: " + "; ".join(backup.EXCLUDED) + "."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            "-o",
            help="write to this file instead of stdout (gzip-compressed if it ends in .gz)",
        )
        parser.add_argument(
            "--team",
            action="append",
            dest="teams",
            metavar="SLUG",
            help="only this team's incidents, integrations and articles (repeatable); "
            "users are always all written",
        )
        parser.add_argument(
            "--since",
            help="only incidents received (and articles written) from this date on: "
            "YYYY-MM-DD (midnight in TIME_ZONE) or an ISO 8601 time",
        )

    @no_translations  # an operator's tool: English, whatever LANGUAGE_CODE says
    def handle(self, *args, output=None, teams=None, since=None, **options):
        since_at = _since(since) if since else None
        if not output:
            counts = self._export(self.stdout, teams, since_at)
        else:
            # Written next to the target and renamed at the end: a failed export
            # never leaves a half file under the real name.
            partial = f"{output}.partial"
            opener = gzip.open if output.endswith(".gz") else open
            try:
                with opener(partial, "wt", encoding="utf-8") as out:
                    counts = self._export(out, teams, since_at)
                os.replace(partial, output)
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc}") from exc
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
        summary = ", ".join(f"{counts[key]} {key}" for key in backup.sections())
        # The summary goes to stderr, so stdout holds nothing but the JSON.
        (self.stderr if not output else self.stdout).write(f"Exported {summary}.")

    def _export(self, out, teams, since_at):
        try:
            return backup.export(out, teams=teams, since=since_at)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
