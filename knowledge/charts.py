"""Small server-side SVG charts for the metrics page: no JavaScript, no CDN."""

from django.utils.html import escape
from django.utils.safestring import mark_safe

COLOURS = {"P0": "#b02a37", "P1": "#dc6b1f", "P2": "#997404", "P3": "#495057"}


def grouped_bars(series: list[dict], *, title: str, unit: str, levels=("P0", "P1", "P2", "P3")):
    """Bars per month (groups) and level (colours); `series` from metrics.monthly_series."""
    width, height, left, bottom, top = 640, 220, 44, 28, 24
    values = [v for row in series for v in row["values"].values() if v is not None]
    peak = max(values, default=0) or 1
    plot_w, plot_h = width - left - 8, height - bottom - top
    group_w = plot_w / max(len(series), 1)
    bar_w = max(2.0, min(18.0, (group_w - 6) / len(levels)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="14" font-size="12" fill="#212529">'
        f"{escape(title)} ({escape(unit)})</text>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#adb5bd"/>',
        f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end" fill="#6c757d">'
        f"{peak:g}</text>",
    ]
    for i, row in enumerate(series):
        x0 = left + i * group_w + 3
        for j, level in enumerate(levels):
            value = row["values"].get(level)
            if value is None:
                continue
            h = plot_h * value / peak
            x = x0 + j * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS.get(level, "#0d6efd")}">'
                f"<title>{escape(row['month'])} {level}: {value:g} {escape(unit)}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group_w / 2 - 3:.1f}" y="{height - 10}" font-size="10" '
            f'text-anchor="middle" fill="#495057">{escape(row["month"])}</text>'
        )
    legend_x = width - 8 - 52 * len(levels)
    for j, level in enumerate(levels):
        x = legend_x + j * 52
        parts.append(
            f'<rect x="{x}" y="5" width="10" height="10" fill="{COLOURS.get(level, "#0d6efd")}"/>'
            f'<text x="{x + 14}" y="14" font-size="11" fill="#212529">{level}</text>'
        )
    parts.append("</svg>")
    # Every interpolated text went through escape() above.
    return mark_safe("".join(parts))  # nosec B308 B703
