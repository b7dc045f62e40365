"""/archive/export.csv and /archive/export.xlsx: the archive list with its
filters, Chinese text intact, and no cell a spreadsheet would run as a formula."""

import csv
import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import LogEntry
from knowledge import services as knowledge
from tests.factories import IncidentFactory, in_progress_incident, resolved_incident

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")

HEADER = [
    "Number",
    "Title",
    "Level",
    "Level filed",
    "State",
    "Team",
    "Category",
    "Source",
    "Affected users",
    "Impact scope",
    "Received at",
    "Acknowledged at",
    "Restored at",
    "Resolved at",
    "Archived at",
    "Minutes to acknowledge (wall time)",
    "Minutes to restore (wall time)",
    "Minutes to acknowledge (SLA time)",
    "Minutes to restore (SLA time)",
    "Minutes paused",
    "Respond deadline met",
    "Resolve deadline met",
    "Owner",
    "Reporter",
    "Times reopened",
    "Root-cause category",
    "Root cause",
    "Archive summary",
]

NUMERIC = {
    HEADER.index(name)
    for name in (
        "Affected users",
        "Minutes to acknowledge (wall time)",
        "Minutes to restore (wall time)",
        "Minutes to acknowledge (SLA time)",
        "Minutes to restore (SLA time)",
        "Minutes paused",
        "Times reopened",
    )
}

FORMULAS = ['=HYPERLINK("http://evil")', "+1+1", "@SUM(A1)", "-2+3"]


def at(clock, stamp: str) -> None:
    """Move the clock to `stamp`, a wall-clock time in Shanghai: "2026-11-20 09:00"."""
    clock.move_to(datetime.fromisoformat(stamp).replace(tzinfo=SHANGHAI))


def work(clock, incident, *, lead, owner, ack, start, submit, verify):
    """Acknowledge, assign and start, submit a fix and pass verification at these times."""
    at(clock, ack)
    services.incident_acknowledge(incident=incident, actor=lead)
    at(clock, start)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.ACTION, text="Rolled back."
    )
    at(clock, submit)
    services.incident_resolve(incident=incident, actor=owner, fix="Pool size raised.")
    at(clock, verify)
    services.incident_verify(
        incident=incident, actor=lead, functional_ok=True, regression_ok=True, monitoring_ok=True
    )


@pytest.fixture
def archive(clock, onduty, lead, owner):
    """R: a P2, resolved. Z: a Chinese P1, archived with its post-mortem."""
    at(clock, "2026-11-20 09:00")
    r = IncidentFactory(actor=onduty, title="Checkout returns 502", severity="P2")
    work(
        clock,
        r,
        lead=lead,
        owner=owner,
        ack="2026-11-20 09:04",
        start="2026-11-20 09:20",
        submit="2026-11-20 13:30",
        verify="2026-11-20 13:40",
    )

    at(clock, "2026-11-21 14:00")
    z = IncidentFactory(
        actor=onduty,
        title="支付网关超时",
        impact_scope="华东区全部用户",
        affected_users=3500,
        severity="P1",
    )
    work(
        clock,
        z,
        lead=lead,
        owner=owner,
        ack="2026-11-21 14:10",
        start="2026-11-21 14:20",
        submit="2026-11-21 15:00",
        verify="2026-11-21 15:05",
    )
    at(clock, "2026-11-21 16:00")
    knowledge.postmortem_save(
        incident=z,
        actor=lead,
        summary="支付失败三成。",
        root_cause_category="change_config",
        root_cause="配置推送把连接池减半",
        contributing_factors="连接池没有告警",
        lessons="为连接池饱和加告警",
        meeting_date=date(2026, 11, 21),
        attendees=[lead, owner],
    )
    knowledge.action_item_add(
        incident=z, actor=lead, text="加连接池告警", owner=owner, due_date=date(2026, 11, 28)
    )
    at(clock, "2026-11-21 16:10")
    knowledge.incident_archive(incident=z, actor=lead, summary="连接池耗尽；已扩容并加告警")
    at(clock, "2026-11-26 10:00")
    r.refresh_from_db()
    z.refresh_from_db()
    return {"R": r, "Z": z}


def csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheets read it as UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8")[1:], newline="")))


def xlsx_sheet(response):
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Archive"]
    return book["Archive"]


def xlsx_rows(response) -> list[list]:
    return [[cell.value for cell in row] for row in xlsx_sheet(response).iter_rows()]


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def numbers(rows) -> set[str]:
    return {row[0] for row in rows[1:]}


# ---------------------------------------------------------------- contents


def test_it_writes_a_header_and_a_row_per_resolved_or_archived_incident(
    clock, client, manager, archive, lead, owner, onduty
):
    r, z = archive["R"], archive["Z"]
    working = in_progress_incident(lead=lead, owner=owner, reporter=onduty)
    client.force_login(manager)

    response = client.get("/archive/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="responder-archive-20261126-1000.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == HEADER
    assert numbers(rows) == {r.number, z.number}  # not the one still in progress
    assert working.number not in {row[0] for row in rows}
    assert rows[1:] == [  # newest first; times in Shanghai
        [
            z.number,
            "支付网关超时",
            "P1",
            "P1",
            "Archived",
            "Platform",
            "Production system failure",
            "Monitoring alert",
            "3500",
            "华东区全部用户",
            "2026-11-21 14:00",
            "2026-11-21 14:10",
            "2026-11-21 15:00",
            "2026-11-21 15:05",
            "2026-11-21 16:10",
            "10.0",
            "60.0",
            "10.0",  # SLA time: 24×7, never paused
            "60.0",
            "0",  # minutes paused
            "yes",  # 10 ≤ 15
            "yes",  # 60 ≤ 240
            "owner",
            "onduty",
            "0",
            "Change or configuration",
            "配置推送把连接池减半",
            "连接池耗尽；已扩容并加告警",
        ],
        [
            r.number,
            "Checkout returns 502",
            "P2",
            "P2",
            "Resolved",
            "Platform",
            "Production system failure",
            "Monitoring alert",
            "120",
            "Checkout in the mainland region",
            "2026-11-20 09:00",
            "2026-11-20 09:04",
            "2026-11-20 13:30",
            "2026-11-20 13:40",
            "",
            "4.0",
            "270.0",
            "4.0",
            "270.0",
            "0",
            "yes",  # 4 ≤ 30
            "yes",  # 270 ≤ 480
            "owner",
            "onduty",
            "0",
            "",
            "",
            "",
        ],
    ]


def test_it_writes_the_same_cells_to_the_workbook(clock, client, manager, archive):
    client.force_login(manager)

    csv_response = client.get("/archive/export.csv")
    response = client.get("/archive/export.xlsx")

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == (
        'attachment; filename="responder-archive-20261126-1000.xlsx"'
    )
    rows = xlsx_rows(response)
    assert rows[0] == HEADER
    expected = csv_rows(csv_response)
    assert len(rows) == len(expected) == 3
    for row, want in zip(rows[1:], expected[1:], strict=True):
        # Numbers stay numbers in the workbook; an empty cell reads back as None.
        assert [
            float(value) if isinstance(value, int | float) else (value or "") for value in row
        ] == [float(text) if i in NUMERIC else text for i, text in enumerate(want)]
    z = dict(zip(HEADER, rows[1], strict=True))
    assert (z["Title"], z["Impact scope"]) == ("支付网关超时", "华东区全部用户")
    assert (z["Affected users"], z["Minutes to restore (wall time)"]) == (3500, 60)


def test_it_writes_levels_filed_and_graded_and_missed_deadlines(
    clock, client, manager, onduty, lead, owner
):
    at(clock, "2026-11-20 09:00")
    incident = IncidentFactory(actor=onduty, severity="P2")
    at(clock, "2026-11-20 09:20")  # respond_by 09:30 as P2
    services.incident_acknowledge(incident=incident, actor=lead)
    services.incident_grade(
        incident=incident, actor=lead, severity="P1", diagnosis="Pool exhausted."
    )  # resolve_by now 13:00; respond_by stays 09:30, decided before the regrade
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.ACTION, text="Rolled back."
    )
    at(clock, "2026-11-20 13:30")
    services.incident_resolve(incident=incident, actor=owner, fix="Pool size raised.")
    services.incident_verify(
        incident=incident, actor=lead, functional_ok=True, regression_ok=True, monitoring_ok=True
    )
    clock.move_to(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))
    client.force_login(manager)

    [row] = csv_rows(client.get("/archive/export.csv"))[1:]

    columns = dict(zip(HEADER, row, strict=True))
    assert (columns["Level"], columns["Level filed"]) == ("P1", "P2")
    wall = (
        columns["Minutes to acknowledge (wall time)"],
        columns["Minutes to restore (wall time)"],
    )
    assert wall == ("20.0", "270.0")
    # 24×7 and never paused: the SLA time is the wall time.
    sla = (columns["Minutes to acknowledge (SLA time)"], columns["Minutes to restore (SLA time)"])
    assert sla == ("20.0", "270.0")
    assert columns["Minutes paused"] == "0"
    # Acknowledged at 20 min as P2 (30 min): met. The regrade to P1 came after
    # the response and must not rewrite it (and no later step may either).
    assert columns["Respond deadline met"] == "yes"
    assert columns["Resolve deadline met"] == "no"  # 270 > 240


# ---------------------------------------------------------------- filters and visibility


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("severity=P1", {"Z"}),
        ("state=archived", {"Z"}),
        ("state=resolved", {"R", "pay"}),
        ("team=payments", {"pay"}),
        ("date_from=2026-11-21", {"Z", "pay"}),
        ("date_to=2026-11-20", {"R"}),
        ("q=支付", {"Z"}),
        ("severity=P1&state=resolved", set()),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_applies_the_archive_filters(
    clock, client, manager, archive, pay_lead, pay_engineer, query, expected, fmt
):
    at(clock, "2026-11-21 00:30")  # 11-20 16:30 UTC: dates are Shanghai's
    made = {
        **archive,
        "pay": resolved_incident(lead=pay_lead, owner=pay_engineer, reporter=pay_engineer),
    }
    at(clock, "2026-11-26 10:00")
    client.force_login(manager)

    response = client.get(f"/archive/export.{fmt}?{query}")

    rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    assert rows[0] == HEADER
    assert numbers(rows) == {made[key].number for key in expected}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_never_exports_other_teams_incidents(
    clock, client, archive, pay_lead, pay_engineer, fmt
):
    theirs = resolved_incident(lead=pay_lead, owner=pay_engineer, reporter=pay_engineer)
    client.force_login(pay_lead)

    def export(query=""):
        response = client.get(f"/archive/export.{fmt}{query}")
        assert response.status_code == 200
        return csv_rows(response) if fmt == "csv" else xlsx_rows(response)

    assert numbers(export()) == {theirs.number}
    assert numbers(export("?q=支付")) == set()
    assert export("?team=platform") == [HEADER]  # not a team they may choose: nothing


@pytest.mark.parametrize("role", ["engineer", "tester", "onduty", "pay_engineer"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_refuses_roles_without_the_archive(request, clock, client, archive, role, fmt):
    client.force_login(request.getfixturevalue(role))
    assert client.get(f"/archive/export.{fmt}").status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_sends_anonymous_visitors_to_sign_in(client, fmt):
    response = client.get(f"/archive/export.{fmt}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_only_answers_get(client, manager, fmt):
    client.force_login(manager)
    assert client.post(f"/archive/export.{fmt}").status_code == 405


# ---------------------------------------------------------------- formula injection


@pytest.fixture
def formulas(clock, lead, owner):
    incidents = {
        title: resolved_incident(lead=lead, owner=owner, title=title) for title in FORMULAS
    }
    summary = resolved_incident(lead=lead, owner=owner, title="Plain title")
    knowledge.incident_archive(incident=summary, actor=lead, summary="=cmd|' /C calc'!A0")
    return incidents


def test_it_writes_formula_text_inert_to_csv(client, manager, formulas):
    client.force_login(manager)

    rows = csv_rows(client.get("/archive/export.csv"))

    titles = {row[1] for row in rows[1:]}
    assert titles == {"'" + title for title in FORMULAS} | {"Plain title"}
    [summary] = [row[HEADER.index("Archive summary")] for row in rows[1:] if row[-1]]
    assert summary == "'=cmd|' /C calc'!A0"


def test_it_writes_formula_text_as_plain_strings_to_xlsx(client, manager, formulas):
    client.force_login(manager)

    sheet = xlsx_sheet(client.get("/archive/export.xlsx"))

    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    titles = {row[1].value: row[1].data_type for row in sheet.iter_rows(min_row=2)}
    assert titles == dict.fromkeys([*FORMULAS, "Plain title"], "s")
    summaries = [row[-1] for row in sheet.iter_rows(min_row=2) if row[-1].value]
    assert [(c.value, c.data_type) for c in summaries] == [("=cmd|' /C calc'!A0", "s")]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_exports_text_with_control_characters(clock, client, manager, lead, owner, fmt):
    # Pasted from a terminal: colour codes. POST /api/v1/incidents/ accepts them,
    # and one such title must not make the whole export fail.
    title = "Gateway says \x1b[31m502\x1b[0m"
    incident = resolved_incident(lead=lead, owner=owner, title=title)
    client.force_login(manager)
    client.raise_request_exception = False

    response = client.get(f"/archive/export.{fmt}")

    assert response.status_code == 200
    [row] = (csv_rows(response) if fmt == "csv" else xlsx_rows(response))[1:]
    assert row[0] == incident.number
    if fmt == "csv":
        assert row[1] == title
    else:  # XML cannot hold ESC: dropped (or replaced), the rest kept
        assert "\x1b" not in row[1]
        assert re.sub(r"[^ -~]", "", row[1]) == "Gateway says [31m502[0m"


# ---------------------------------------------------------------- queries


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_its_query_count_does_not_grow_with_incidents(clock, client, manager, lead, owner, fmt):
    client.force_login(manager)
    resolved_incident(lead=lead, owner=owner)
    with CaptureQueriesContext(connection) as one:
        assert content(client.get(f"/archive/export.{fmt}"))
    for _ in range(4):
        resolved_incident(lead=lead, owner=owner)
    with CaptureQueriesContext(connection) as five:
        assert content(client.get(f"/archive/export.{fmt}"))
    assert len(five.captured_queries) == len(one.captured_queries), "\n".join(
        q["sql"] for q in five.captured_queries
    )


def test_xlsx_keeps_text_that_reads_like_an_error_or_a_formula_as_text(
    clock, client, manager, lead, owner
):
    """Only such text goes in as a cell typed as a string (the rest as values):
    "#N/A" stays the text "#N/A", never Excel's error."""
    client.force_login(manager)
    resolved_incident(lead=lead, owner=owner, title="#N/A", impact_scope="=1+1")

    book = openpyxl.load_workbook(io.BytesIO(content(client.get("/archive/export.xlsx"))))
    cells = {c.value: c.data_type for row in book.active.iter_rows(min_row=2) for c in row}

    assert cells["#N/A"] == "s"
    assert cells["=1+1"] == "s"
    assert "e" not in cells.values()
    assert "f" not in cells.values()
