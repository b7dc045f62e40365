"""Small server-side SVG charts for the metrics page: no JavaScript, no CDN."""

from django.utils.html import escape
from django.utils.safestring import mark_safe

COLOURS = {"P0": "#b02a37", "P1": "#dc6b1f", "P2": "#997404", "P3": "#495057"}


# Drawn 360 units wide with 13-unit text: on a 375 px phone the chart is about
# 330 px wide, so the text renders at 12 px (a 640-unit chart drew it at 5 px);
# responder.css keeps it from growing past 28rem on wide screens.
WIDTH, HEIGHT = 360, 230
LEFT, RIGHT, TOP, BOTTOM = 36, 6, 34, 38
FONT = 13


def _month_label(month: str, *, short: bool, first: bool) -> tuple[str, str]:
    """("11", "2026") for a crowded chart (the year under the first month and each
    January), else ("2026-11", "")."""
    if not short:
        return month, ""
    year, _sep, number = month.partition("-")
    return number or month, year if (first or number == "01") else ""


def grouped_bars(series: list[dict], *, title: str, unit: str, levels=("P0", "P1", "P2", "P3")):
    """Bars per month (groups) and level (colours); `series` from metrics.monthly_series.

    A figure: its caption is HTML (it wraps on a phone, where SVG text cannot), the
    legend and axes are SVG. Each month's bars are centred over its label.
    """
    values = [v for row in series for v in row["values"].values() if v is not None]
    peak = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP
    base = TOP + plot_h
    group_w = plot_w / max(len(series), 1)
    bar_w = max(2.0, min(18.0, (group_w - 6) / len(levels)))
    short = len(series) > 4  # "2026-11" is ~50 units wide at 13
    caption = f"{escape(title)} ({escape(unit)})"
    parts = [
        f'<figure class="chart-figure"><figcaption class="chart-caption">{caption}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{caption}" class="chart">',
        f"<title>{caption}</title>",
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#adb5bd"/>',
        f'<text x="{LEFT - 4}" y="{TOP + FONT - 2}" font-size="{FONT}" text-anchor="end" '
        f'fill="#6c757d">{peak:g}</text>',
    ]
    for i, row in enumerate(series):
        month = escape(row["month"])
        present = [(lv, row["values"][lv]) for lv in levels if row["values"].get(lv) is not None]
        centre = LEFT + i * group_w + group_w / 2
        x0 = centre - len(present) * bar_w / 2
        for j, (level, value) in enumerate(present):
            h = plot_h * value / peak
            parts.append(
                f'<rect data-month="{month}" x="{x0 + j * bar_w + 0.5:.1f}" y="{base - h:.1f}" '
                f'width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{COLOURS.get(level, "#0d6efd")}">'
                f"<title>{month} {level}: {value:g} {escape(unit)}</title></rect>"
            )
        label, year = _month_label(row["month"], short=short, first=i == 0)
        parts.append(
            f'<text data-month="{month}" x="{centre:.1f}" y="{base + FONT + 3}" '
            f'font-size="{FONT}" text-anchor="middle" fill="#495057">{escape(label)}</text>'
        )
        if year:
            parts.append(
                f'<text x="{centre:.1f}" y="{base + 2 * FONT + 5}" font-size="{FONT}" '
                f'text-anchor="middle" fill="#6c757d">{escape(year)}</text>'
            )
    for j, level in enumerate(levels):
        x = LEFT + j * 48
        parts.append(
            f'<rect x="{x}" y="6" width="11" height="11" fill="{COLOURS.get(level, "#0d6efd")}"/>'
            f'<text x="{x + 15}" y="16" font-size="{FONT}" fill="#212529">{level}</text>'
        )
    parts.append("</svg></figure>")
    # Every interpolated text went through escape() above.
    return mark_safe("".join(parts))  # nosec B308 B703
