"""The roster pages' day-by-day grid: one row per day in the team's zone, each
layer's shifts that day, clipped to it.

Each row's HTML is written here rather than in a template: the grid is four
weeks of rows (eight at most) with a few shifts each, and rendering them with
Django's template engine took over a quarter of the team page's rendering time
(3 ms at 4 weeks). `_oncall_grid.html` holds the table around them.
"""

from datetime import date, timedelta
from html import escape

from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.people import display_name, display_names
from escalation.roster.arithmetic import LAYERS, REACH, Roster, midnight


def day_grid(roster: Roster, first: date, days: int, now) -> list[dict]:
    """One row per day in the team's zone: each layer's shifts that day, clipped;
    `html`, the row as the grid shows it (row_html)."""
    zone = roster.zone
    start = midnight(first, zone)
    end = midnight(first + timedelta(days=days), zone)
    # Looked at beyond the grid's edges, so a shift that began before its first
    # day (or ends after its last) shows as running on, not as starting there.
    layers = roster.shifts(start - REACH, end + REACH)
    texts = _Texts()
    rows = []
    a = start
    for i in range(days):
        day = first + timedelta(days=i)
        b = midnight(day + timedelta(days=1), zone)
        cells = []
        for layer in LAYERS:
            parts = []
            for shift in layers[layer]:
                if shift.end <= a or shift.start >= b:
                    continue
                parts.append(
                    {
                        "shift": shift,
                        "from": max(shift.start, a),
                        "until": min(shift.end, b),
                        "whole": shift.start <= a and shift.end >= b,
                        "starts": shift.start >= a,
                        "ends": shift.end <= b,
                        "now": shift.start <= now < shift.end and a <= now < b,
                    }
                )
            cells.append({"layer": layer, "parts": parts})
        row = {"day": day, "cells": cells, "today": a <= now < b, "weekend": day.weekday() >= 5}
        row["html"] = row_html(row, zone, texts)
        rows.append(row)
        a = b
    return rows


class _Texts:
    """The grid's words in the active language, escaped, looked up once per grid."""

    def __init__(self):
        self.today = escape(_("today"))
        self.override = escape(_("override"))
        self.nobody = escape(_("nobody"))
        self.weekdays = {n: escape(str(name)) for n, name in WEEKDAYS_ABBR.items()}


def _part_html(part: dict, zone, texts: _Texts) -> str:
    shift = part["shift"]
    classes = "shift"
    if shift.is_override:
        classes += " override"
    if part["now"]:
        classes += " now"
    time = ""
    if not part["whole"]:
        a = f"{part['from'].astimezone(zone):%H:%M}" if part["starts"] else ""
        b = f"{part['until'].astimezone(zone):%H:%M}" if part["ends"] else ""
        time = f'<span class="shift-time">{a}–{b}</span> '
    badge = ""
    if shift.is_override:
        badge = f' <span class="badge text-bg-warning">{texts.override}</span>'
        if shift.covers:
            names = _("for %(names)s") % {"names": display_names(shift.covers)}
            badge += f' <span class="small text-body-secondary covers">{escape(names)}</span>'
    return (
        f'<span class="{classes}" data-user="{escape(shift.user.username)}">'
        f"{time}{escape(display_name(shift.user))}{badge}</span>"
    )


def row_html(row: dict, zone, texts: _Texts | None = None) -> SafeString:
    """One day of the grid as a table row (the markup _oncall_grid.html had), every
    text escaped."""
    texts = texts or _Texts()
    day = row["day"]
    classes = " ".join(
        name for name, on in (("weekend", row["weekend"]), ("today", row["today"])) if on
    )
    today = f' <span class="badge text-bg-primary">{texts.today}</span>' if row["today"] else ""
    cells = "".join(
        f'<td data-layer="{escape(cell["layer"])}">'
        + (
            "".join(_part_html(p, zone, texts) for p in cell["parts"])
            or f'<span class="text-danger small">{texts.nobody}</span>'
        )
        + "</td>"
        for cell in row["cells"]
    )
    # Every text above is escaped.
    return mark_safe(  # nosec B308 B703
        f'<tr class="{classes}" data-day="{day.isoformat()}">'
        f'<th scope="row" class="text-nowrap">{day:%m-%d} {texts.weekdays[day.weekday()]}'
        f"{today}</th>{cells}</tr>\n"
    )


def rotations_html(rotations, members: dict, *, slug: str, csrf_input: str | None) -> SafeString:
    """The team page's list of rotations (the markup oncall_team.html had), every text
    escaped; `csrf_input` (the CSRF field) when the viewer may edit them, else None.
    Written here for the grid's reason: the template's translations, dates and URLs
    took a fifth of the page's rendering for two rotations."""
    edit_url = reverse("oncall-rotation", args=[slug, 0]).removesuffix("0/")
    delete_url = reverse("oncall-rotation-delete", args=[slug, 0]).removesuffix("0/delete/")
    edit, delete = escape(_("Edit")), escape(_("Delete"))
    confirm = escape(_("Delete this rotation?"))
    items = []
    for rotation in rotations:
        days = rotation.shift_days
        shifts = ngettext(
            "Shifts of %(days)s day, handed over at %(at)s, from %(start)s",
            "Shifts of %(days)s days, handed over at %(at)s, from %(start)s",
            days,
        ) % {
            "days": days,
            "at": f"{rotation.handoff_time:%H:%M}",
            "start": f"{rotation.start_date:%Y-%m-%d}",
        }
        if rotation.weekday_names:
            shifts += f"; {escape(rotation.weekday_names)}"
        if rotation.day_start:
            a = f"{rotation.day_start:%H:%M}"
            if rotation.day_start == rotation.day_end:
                shifts += "; " + _("24 h from %(a)s each day") % {"a": a}
            else:
                shifts += "; " + _("daily %(a)s–%(b)s") % {"a": a, "b": f"{rotation.day_end:%H:%M}"}
        people = " → ".join(
            f"{i}. {escape(display_name(user))}"
            for i, user in enumerate(members.get(rotation.pk, []), start=1)
        )
        html = (
            f'    <li class="list-group-item" data-rotation="{rotation.pk}">\n'
            f'      <div class="d-flex"><strong class="me-auto">{escape(rotation.name)}</strong>'
            f'<span class="badge text-bg-secondary">{escape(rotation.get_layer_display())}'
            "</span></div>\n"
            f"      <div>{shifts}</div>\n"
            f'      <div class="text-body-secondary">{people}</div>\n      '
        )
        if csrf_input is not None:
            html += (
                '<div class="mt-1 d-flex gap-2"><a class="btn btn-sm btn-outline-primary" '
                f'href="{edit_url}{rotation.pk}/">{edit}</a>\n'
                f'        <form method="post" action="{delete_url}{rotation.pk}/delete/" '
                f'data-confirm="{confirm}">{csrf_input}<button class="btn btn-sm '
                f'btn-outline-danger" type="submit">{delete}</button></form></div>'
            )
        items.append(f"\n{html}\n    </li>\n  ")
    # Every text above is escaped (the numbers, dates and times are ours).
    return mark_safe("".join(items))  # nosec B308 B703
