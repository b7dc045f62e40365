"""The metrics page's table bodies, rendered in Python.

The page has up to a few hundred cells (each month × level); one template
include per row made rendering them the page's largest cost. Values are shown
as the template would show them: localized, "—" for a figure with no value.
"""

from django.conf import settings
from django.utils.formats import get_format, localize
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

# The cells of the "by level" and "by month" tables after the level, and their unit.
MAIN = (
    ("count", ""),
    ("mtta_median_min", "min"),
    ("mtta_p90_min", "min"),
    ("mttr_median_min", "min"),
    ("mttr_p90_min", "min"),
    ("respond_compliance_pct", "%"),
    ("resolve_compliance_pct", "%"),
    ("update_compliance_pct", "%"),
    ("failed_verification_pct", "%"),
    ("reopened", ""),
)
SLA = (
    ("mtta_sla_median_min", "min"),
    ("mtta_median_min", "min"),
    ("mttr_sla_median_min", "min"),
    ("mttr_median_min", "min"),
    ("respond_compliance_pct", "%"),
    ("respond_wall_compliance_pct", "%"),
    ("resolve_compliance_pct", "%"),
    ("resolve_wall_compliance_pct", "%"),
)


def _cells(row: dict, columns, units: dict) -> str:
    shown = units["shown"]
    out = []
    for key, unit in columns:
        value = row[key]
        if value is None:
            out.append("<td>—</td>")
            continue
        # Keyed by type too: 1 and 1.0 are equal keys but read "1" and "1.0".
        text = shown.get((type(value), value))
        if text is None:  # a localized number holds no markup
            text = shown[(type(value), value)] = units["number"](value)
        out.append(f"<td>{text}{units[unit]}</td>")
    return "".join(out)


def _number_format():
    """localize() for this language's numbers, its settings read once per table.

    localize() reads the language's separators again for every number: a month
    of a manager's teams has a few hundred cells, and that was most of the
    tables' time. Without digit grouping an int or a float reads as Python
    writes it, with the language's decimal separator (what Django's
    numberformat does then); anything else goes to localize().
    """
    if settings.USE_THOUSAND_SEPARATOR:
        return localize
    separator = get_format("DECIMAL_SEPARATOR")

    def number(value) -> str:
        if type(value) is int:
            return str(value)
        if type(value) is float:
            text = str(value)
            if "e" not in text and "n" not in text:  # not 1e-07, nan or inf
                return text.replace(".", separator)
        return localize(value)

    return number


def _units() -> dict:
    """The units' text, and a cache of the numbers shown (in this language)."""
    return {
        "": "",
        "min": " " + escape(_("min")),
        "%": " %",
        "shown": {},
        "number": _number_format(),
    }


def _row(label, row: dict, columns, units: dict, *, bold: bool = False) -> str:
    css = "fw-semibold" if bold else ""
    return (
        f'<tr class="{css}"><th scope="row">{escape(label)}</th>{_cells(row, columns, units)}</tr>'
    )


def level_rows(result: dict, columns=MAIN) -> SafeString:
    """One row per level, then the total in bold."""
    units = _units()
    rows = [_row(r["severity"], r, columns, units) for r in result["by_level"]]
    rows.append(_row(_("All"), result["total"], columns, units, bold=True))
    return mark_safe("".join(rows))  # nosec B308 B703: cells escaped


def sla_rows(result: dict) -> SafeString:
    return level_rows(result, SLA)


def month_rows(result: dict) -> SafeString:
    units = _units()
    return mark_safe(  # nosec B308 B703: cells escaped
        "".join(
            f'<tr><td>{escape(r["month"])}</td><th scope="row">{escape(r["severity"])}</th>'
            f"{_cells(r, MAIN, units)}</tr>"
            for r in result["by_month"]
        )
    )


def _average(row: dict) -> str:
    if row["average_rating"] is None:
        return "—"
    return escape(_("%(average)s of 5") % {"average": localize(row["average_rating"])})


def feedback_level_rows(feedback: dict) -> SafeString:
    rows = [(r["severity"], r, "") for r in feedback["by_level"]]
    rows.append((_("All"), feedback["total"], "fw-semibold"))
    return mark_safe(  # nosec B308 B703: cells escaped
        "".join(
            f'<tr class="{css}"><th scope="row">{escape(label)}</th>'
            f"<td>{escape(localize(r['count']))}</td><td>{_average(r)}</td></tr>"
            for label, r, css in rows
        )
    )


def feedback_month_rows(feedback: dict) -> SafeString:
    return mark_safe(  # nosec B308 B703: cells escaped
        "".join(
            f'<tr><td>{escape(r["month"])}</td><th scope="row">{escape(r["severity"])}</th>'
            f"<td>{escape(localize(r['count']))}</td><td>{_average(r)}</td></tr>"
            for r in feedback["by_month"]
        )
    )
