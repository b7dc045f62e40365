from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from escalation.calendar_import import MAX_BYTES, calendar_import
from escalation.models import BusinessCalendar


class Command(BaseCommand):
    help = (
        "Import a year's holidays and make-up working days into a business calendar "
        "from a CSV (date,kind,name) or an .ics file; see escalation/calendar_import.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("calendar", help="the calendar's name or id")
        parser.add_argument("file", help="a .csv or .ics file")

    def handle(self, *args, calendar, file, **opts):
        found = BusinessCalendar.objects.filter(name=calendar).first()
        if found is None and calendar.isdigit():
            found = BusinessCalendar.objects.filter(pk=int(calendar)).first()
        if found is None:
            names = ", ".join(
                f"{pk}: {name}" for pk, name in BusinessCalendar.objects.values_list("pk", "name")
            )
            raise CommandError(
                _("No business calendar “%(calendar)s”. The calendars: %(names)s")
                % {"calendar": calendar, "names": names or "—"}
            )
        path = Path(file)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": file, "error": exc.strerror}
            ) from None
        try:
            result = calendar_import(calendar=found, data=data, filename=path.name)
        except ValidationError as exc:
            raise CommandError(
                _("Nothing imported from %(file)s:") % {"file": file}
                + "\n"
                + "\n".join(exc.messages)
            ) from None
        self.stdout.write(
            _(
                "Imported %(holidays)s holidays and %(workdays)s working days for %(years)s "
                "into “%(calendar)s” (%(created)s new, %(updated)s changed)."
            )
            % {
                "holidays": result.holidays,
                "workdays": result.workdays,
                "years": ", ".join(str(y) for y in result.years),
                "calendar": found.name,
                "created": result.created,
                "updated": result.updated,
            }
        )
