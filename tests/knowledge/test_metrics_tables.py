"""The metrics page's table bodies (knowledge.metrics_tables), rendered in Python:
each figure shown as the template showed it, localized, "—" when it has none."""

from django.utils import translation

from knowledge import metrics_tables

FIGURES = {
    "count": 1,
    "mtta_median_min": 1.0,
    "mtta_p90_min": None,
    "mttr_median_min": 1234.5,
    "mttr_p90_min": 2.0,
    "mtta_sla_median_min": 0.5,
    "mttr_sla_median_min": None,
    "respond_compliance_pct": 100.0,
    "resolve_compliance_pct": None,
    "respond_wall_compliance_pct": 1.0,
    "resolve_wall_compliance_pct": 0.0,
    "update_compliance_pct": 57.9,
    "failed_verification_pct": 0.0,
    "reopened": 0,
}
RESULT = {
    "total": {**FIGURES, "count": 3},
    "by_level": [{"severity": "P1", **FIGURES}],
    "by_month": [{"month": "2026-11", "severity": "P1", **FIGURES}],
}
MAIN = (
    "<td>1</td><td>1.0 min</td><td>—</td><td>1234.5 min</td><td>2.0 min</td>"
    "<td>100.0 %</td><td>—</td><td>57.9 %</td><td>0.0 %</td><td>0</td>"
)


def test_it_shows_ints_and_floats_apart_and_a_dash_for_none():
    with translation.override("en"):
        html = metrics_tables.level_rows(RESULT)

    total = MAIN.replace("<td>1</td>", "<td>3</td>", 1)
    assert html == (
        f'<tr class=""><th scope="row">P1</th>{MAIN}</tr>'
        f'<tr class="fw-semibold"><th scope="row">All</th>{total}</tr>'
    )


def test_it_shows_the_month_rows():
    with translation.override("en"):
        html = metrics_tables.month_rows(RESULT)

    assert html == f'<tr><td>2026-11</td><th scope="row">P1</th>{MAIN}</tr>'


def test_it_shows_sla_and_wall_time_side_by_side():
    with translation.override("en"):
        html = metrics_tables.sla_rows(RESULT)

    assert html.startswith(
        '<tr class=""><th scope="row">P1</th><td>0.5 min</td><td>1.0 min</td>'
        "<td>—</td><td>1234.5 min</td><td>100.0 %</td><td>1.0 %</td><td>—</td><td>0.0 %</td></tr>"
    )


def test_it_speaks_the_users_language():
    with translation.override("zh-hans"):
        html = metrics_tables.level_rows(RESULT)
        minutes = translation.gettext("min")
        everything = translation.gettext("All")

    assert f"<td>1.0 {minutes}</td>" in html
    assert f'<th scope="row">{everything}</th>' in html
    assert everything != "All"


def test_it_shows_the_affected_users_ratings():
    feedback = {
        "total": {"count": 2, "average_rating": 4.5},
        "by_level": [{"severity": "P2", "count": 2, "average_rating": 4.5}],
        "by_month": [{"month": "2026-11", "severity": "P2", "count": 1, "average_rating": None}],
    }
    with translation.override("en"):
        levels = metrics_tables.feedback_level_rows(feedback)
        months = metrics_tables.feedback_month_rows(feedback)

    assert levels == (
        '<tr class=""><th scope="row">P2</th><td>2</td><td>4.5 of 5</td></tr>'
        '<tr class="fw-semibold"><th scope="row">All</th><td>2</td><td>4.5 of 5</td></tr>'
    )
    assert months == '<tr><td>2026-11</td><th scope="row">P2</th><td>1</td><td>—</td></tr>'


def test_it_escapes_a_label():
    result = {**RESULT, "by_level": [{"severity": "<b>", **FIGURES}]}
    with translation.override("en"):
        html = metrics_tables.level_rows(result)

    assert "&lt;b&gt;" in html
    assert "<b>" not in html


NUMBERS = [0, 1, -7, 123456789, 0.0, 1.0, -2.5, 1234.5, 57.9, 1 / 3, 1e-07, 1e22, 10**20 + 0.5]


def test_its_numbers_read_as_localize_reads_them_in_every_language(settings):
    """The tables' own number format equals Django's localize(): in the site's
    languages, in one that writes a decimal comma, and with digit grouping on."""
    from django.utils.formats import localize

    for grouping in (False, True):
        settings.USE_THOUSAND_SEPARATOR = grouping
        for language in ("en", "zh-hans", "de"):
            with translation.override(language):
                number = metrics_tables._number_format()
                for value in NUMBERS:
                    assert number(value) == str(localize(value)), (grouping, language, value)
    with translation.override("de"):
        settings.USE_THOUSAND_SEPARATOR = False
        assert metrics_tables._number_format()(1234.5) == "1234,5"
