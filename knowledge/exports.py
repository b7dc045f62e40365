"""CSV and XLSX of a list of incidents (the archive pages' export views hand it the
filtered archive from incidents.selectors.archive_search).

Text that a spreadsheet would run as a formula (starting with = + - @, a tab
or a carriage return) is written inert: CSV cells get a leading apostrophe,
XLSX cells are typed as plain strings.
"""

import csv
import io
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from common import clock

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def columns():
    """(header, function of the incident) for every exported column."""

    def at(value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    def minutes(a, b):
        return round((b - a).total_seconds() / 60, 1) if a and b else ""

    def duration(value):
        return round(value.total_seconds() / 60, 1) if value is not None else ""

    def postmortem(incident):
        # A missing reverse one-to-one raises an AttributeError subclass.
        return getattr(incident, "postmortem", None)

    def cause_category(incident):
        pm = postmortem(incident)
        return pm.get_root_cause_category_display() if pm else ""

    return [
        (_("Number"), lambda i: i.number),
        (_("Title"), lambda i: i.title),
        (_("Level"), lambda i: i.severity),
        (_("Level filed"), lambda i: i.initial_severity),
        (_("State"), lambda i: i.get_state_display()),
        (_("Team"), lambda i: i.team.name),
        (_("Category"), lambda i: i.get_category_display()),
        (_("Source"), lambda i: i.get_source_display()),
        (_("Affected users"), lambda i: i.affected_users),
        (_("Impact scope"), lambda i: i.impact_scope),
        (_("Received at"), lambda i: at(i.received_at)),
        (_("Acknowledged at"), lambda i: at(i.acknowledged_at)),
        (_("Restored at"), lambda i: at(i.restored_at)),
        (_("Resolved at"), lambda i: at(i.resolved_at)),
        (_("Archived at"), lambda i: at(i.archived_at)),
        (
            _("Minutes to acknowledge (wall time)"),
            lambda i: minutes(i.received_at, i.acknowledged_at),
        ),
        (_("Minutes to restore (wall time)"), lambda i: minutes(i.received_at, i.restored_at)),
        # SLA time: working time of a business-hours level, paused time left out.
        # Kept since SLA time existed; before, it was the wall time.
        (
            _("Minutes to acknowledge (SLA time)"),
            lambda i: (
                duration(i.respond_sla)
                if i.respond_sla is not None
                else minutes(i.received_at, i.acknowledged_at)
            ),
        ),
        (
            _("Minutes to restore (SLA time)"),
            lambda i: (
                duration(i.resolve_sla)
                if i.resolve_sla is not None
                else minutes(i.received_at, i.restored_at)
            ),
        ),
        (_("Minutes paused"), lambda i: duration(i.paused_for) if i.paused_for else 0),
        (_("Respond deadline met"), lambda i: _met(i.acknowledged_at, i.respond_by)),
        (_("Resolve deadline met"), lambda i: _met(i.restored_at, i.resolve_by)),
        (_("Owner"), lambda i: i.owner.username if i.owner else ""),
        (_("Reporter"), lambda i: i.reporter.username if i.reporter else ""),
        (_("Times reopened"), lambda i: i.reopen_count),
        (_("Root-cause category"), cause_category),
        (_("Root cause"), lambda i: postmortem(i).root_cause if postmortem(i) else ""),
        (_("Archive summary"), lambda i: i.archive_summary),
    ]


def _met(at, deadline):
    if at is None:
        return ""
    return _("yes") if at <= deadline else _("no")


def inert(value):
    """A cell value no spreadsheet will run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# What the columns read: not the incidents' and post-mortems' other long texts.
READ = (
    "number",
    "title",
    "severity",
    "initial_severity",
    "state",
    "category",
    "source",
    "affected_users",
    "impact_scope",
    "received_at",
    "acknowledged_at",
    "restored_at",
    "resolved_at",
    "archived_at",
    "respond_sla",
    "resolve_sla",
    "paused_for",
    "respond_by",
    "resolve_by",
    "reopen_count",
    "archive_summary",
    "team__name",
    "owner__username",
    "reporter__username",
    "postmortem__root_cause_category",
    "postmortem__root_cause",
)


def _rows(incidents: QuerySet) -> Iterable:
    qs = incidents.select_related("team", "owner", "reporter", "postmortem").only(*READ)
    return qs.iterator(chunk_size=2000)


def filename(ext: str) -> str:
    return f"responder-archive-{timezone.localtime(clock.now()):%Y%m%d-%H%M}.{ext}"


class _Echo:
    def write(self, value):
        return value


def csv_lines(incidents: QuerySet) -> Iterator[str]:
    """The CSV file, line by line (to stream): a BOM, the header, a row per incident."""
    cols = columns()
    rows = _rows(incidents)
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so spreadsheet programs read the Chinese text as UTF-8
    yield writer.writerow([str(h) for h, _f in cols])
    for incident in rows:
        yield writer.writerow([inert(f(incident)) for _h, f in cols])


def _xlsx_value(sheet, value):
    """A cell's value as the sheet takes it: text is always text.

    openpyxl reads text starting with "=" as a formula and "#N/A" and the like as
    errors: those go in as cells typed as plain strings. Everything else goes in
    as the value itself (a cell object per value doubled the export's time).
    """
    if not isinstance(value, str):
        return value
    # XML cannot hold control characters (a terminal's colour codes).
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("=") or value in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever it starts with
        return cell
    return value


def xlsx_bytes(incidents: QuerySet) -> bytes:
    """The XLSX workbook: one sheet, a bold header, a row per incident."""
    cols = columns()
    rows = _rows(incidents)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_("Archive")[:31])
    header = []
    for title, _f in cols:
        cell = WriteOnlyCell(sheet, value=str(title))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for incident in rows:
        sheet.append([_xlsx_value(sheet, f(incident)) for _h, f in cols])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
