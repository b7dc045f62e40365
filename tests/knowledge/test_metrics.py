"""knowledge.metrics, the /metrics/ page and GET /api/v1/metrics/, against
figures worked out by hand from a story of incidents driven through the real
services at controlled (Asia/Shanghai) times."""

from datetime import date, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation.engine import sweep_due_deadlines
from escalation.models import Clock, Notice
from incidents import services
from incidents.models import LogEntry
from knowledge import metrics
from knowledge import services as knowledge
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)  # NOW in Shanghai


# ---------------------------------------------------------------- the story


def at(clock, stamp: str) -> None:
    """Move the clock to `stamp`, a wall-clock time in Shanghai: "2026-11-05 09:00"."""
    clock.move_to(datetime.fromisoformat(stamp).replace(tzinfo=SHANGHAI))


def file(clock, when, reporter, **kwargs):
    at(clock, when)
    return IncidentFactory(actor=reporter, **kwargs)


def acknowledge(clock, when, incident, lead):
    at(clock, when)
    services.incident_acknowledge(incident=incident, actor=lead)


def start(clock, when, incident, lead, owner):
    at(clock, when)
    services.incident_assign(incident=incident, actor=lead, owner=owner)
    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.ACTION, text="Rolled back."
    )


def submit(clock, when, incident, owner):
    at(clock, when)
    services.incident_resolve(incident=incident, actor=owner, fix="Pool size raised.")


def verify(clock, when, incident, verifier, *, passed=True):
    at(clock, when)
    services.incident_verify(
        incident=incident,
        actor=verifier,
        functional_ok=passed,
        regression_ok=True,
        monitoring_ok=True,
    )


def postmortem(incident, lead, category):
    knowledge.postmortem_save(
        incident=incident,
        actor=lead,
        summary="Checkout failed.",
        root_cause_category=category,
        root_cause="A config push halved the connection pool." if category else "",
        meeting_date=TODAY,
        attendees=[lead],
    )


def action(incident, lead, text, owner, due_date):
    return knowledge.action_item_add(
        incident=incident, actor=lead, text=text, owner=owner, due_date=due_date
    )


@pytest.fixture
def story(clock, onduty, lead, owner, pay_engineer, pay_lead):
    """Windows (seeded SLA): P1 respond 15 / resolve 240 / update 30 min;
    P2 30 / 480 / 60; P3 120 / 1440 / 60. Times are Shanghai wall clock.

    platform:
      U  P2 11-05 09:00  ack +20, update due 10:20 → swept 10:21 (notice), restored +150
      A  P2 10-31 23:30  ack +4, restored +100
      B  P2 11-01 00:30  ack +6, restored +120 (UTC: 10-31 16:30 — an October
                         incident if months were cut in UTC)
      C  P2 11-20 09:00  never acknowledged (respond and resolve deadlines passed)
      D  P2 11-10 14:00  ack +45 (late), restored +500 (late)
      E  P2 11-12 10:00  ack +10, restored +60, reopened, restored again +540 (late)
      F  P1 11-15 08:00  ack +5, verification failed, restored +90
      G  P2 11-18 11:00  cancelled
    payments:
      P  P3 11-08 12:00  ack +30, restored +600
    Post-mortems: A change_config, B code_defect, D no category, F code_defect
    (actions due 11-20 open, 11-26 open, 11-19 done), P code_defect (due 11-21 open).
    """
    # U first: the one sweep must see no other running update clock.
    u = file(clock, "2026-11-05 09:00", onduty, title="U")
    acknowledge(clock, "2026-11-05 09:20", u, lead)
    at(clock, "2026-11-05 10:21")  # next_update_by 10:20 passed without a progress entry
    sweep_due_deadlines()
    start(clock, "2026-11-05 10:30", u, lead, owner)
    submit(clock, "2026-11-05 11:30", u, owner)
    verify(clock, "2026-11-05 11:40", u, lead)

    a = file(clock, "2026-10-31 23:30", onduty, title="A")
    acknowledge(clock, "2026-10-31 23:34", a, lead)
    start(clock, "2026-10-31 23:40", a, lead, owner)
    submit(clock, "2026-11-01 01:10", a, owner)
    verify(clock, "2026-11-01 01:20", a, lead)

    b = file(clock, "2026-11-01 00:30", onduty, title="B")
    acknowledge(clock, "2026-11-01 00:36", b, lead)
    start(clock, "2026-11-01 00:40", b, lead, owner)
    submit(clock, "2026-11-01 02:30", b, owner)
    verify(clock, "2026-11-01 02:40", b, lead)

    c = file(clock, "2026-11-20 09:00", onduty, title="C")

    d = file(clock, "2026-11-10 14:00", onduty, title="D")
    acknowledge(clock, "2026-11-10 14:45", d, lead)
    start(clock, "2026-11-10 15:00", d, lead, owner)
    submit(clock, "2026-11-10 22:20", d, owner)
    verify(clock, "2026-11-10 22:30", d, lead)

    e = file(clock, "2026-11-12 10:00", onduty, title="E")
    acknowledge(clock, "2026-11-12 10:10", e, lead)
    start(clock, "2026-11-12 10:20", e, lead, owner)
    submit(clock, "2026-11-12 11:00", e, owner)
    verify(clock, "2026-11-12 11:10", e, lead)
    at(clock, "2026-11-12 11:30")
    services.incident_reopen(incident=e, actor=lead, reason="502s are back.")
    submit(clock, "2026-11-12 19:00", e, owner)
    verify(clock, "2026-11-12 19:10", e, lead)

    f = file(clock, "2026-11-15 08:00", onduty, title="F", severity="P1")
    acknowledge(clock, "2026-11-15 08:05", f, lead)
    start(clock, "2026-11-15 08:10", f, lead, owner)
    submit(clock, "2026-11-15 08:40", f, owner)
    verify(clock, "2026-11-15 08:50", f, lead, passed=False)
    submit(clock, "2026-11-15 09:30", f, owner)
    verify(clock, "2026-11-15 09:40", f, lead)

    g = file(clock, "2026-11-18 11:00", onduty, title="G")
    at(clock, "2026-11-18 11:03")
    services.incident_cancel(incident=g, actor=lead, reason="Duplicate of B.")

    p = file(clock, "2026-11-08 12:00", pay_engineer, title="P", severity="P3")
    acknowledge(clock, "2026-11-08 12:30", p, pay_lead)
    start(clock, "2026-11-08 12:40", p, pay_lead, pay_engineer)
    submit(clock, "2026-11-08 22:00", p, pay_engineer)
    verify(clock, "2026-11-08 22:10", p, pay_lead)

    clock.move_to(NOW)
    postmortem(a, lead, "change_config")
    postmortem(b, lead, "code_defect")
    postmortem(d, lead, "")
    postmortem(f, lead, "code_defect")
    overdue = action(f, lead, "Alert on pool saturation.", owner, date(2026, 11, 20))
    action(f, lead, "Load-test checkout.", owner, TODAY)  # due through today: not overdue
    done = action(f, lead, "Review config pushes.", owner, date(2026, 11, 19))
    knowledge.action_item_done(item=done, actor=owner)
    postmortem(p, pay_lead, "code_defect")
    pay_overdue = action(p, pay_lead, "Retry the bank callback.", pay_engineer, date(2026, 11, 21))

    # The premises of the figures below.
    late_updates = Notice.objects.filter(clock=Clock.UPDATE).values_list("incident", flat=True)
    assert list(late_updates) == [u.pk]
    for incident in (a, b, c, d, e, f, g, p, u):
        incident.refresh_from_db()
    assert (c.state, e.reopen_count, g.state) == ("new", 1, "cancelled")
    return {
        **{i.title: i for i in (a, b, c, d, e, f, g, p, u)},
        "overdue": overdue,
        "pay_overdue": pay_overdue,
    }


def figures(count, mtta, mttr, respond, resolve, update, failed, reopened):
    """One row of figures; mtta and mttr are (median, p90) in minutes. Every level
    of this story runs 24×7 and nothing is paused, so its SLA time is its wall time
    (test_it_counts_sla_time_apart_from_wall_time has them differ)."""
    return {
        "count": count,
        "mtta_median_min": mtta[0],
        "mtta_p90_min": mtta[1],
        "mttr_median_min": mttr[0],
        "mttr_p90_min": mttr[1],
        "mtta_sla_median_min": mtta[0],
        "mtta_sla_p90_min": mtta[1],
        "mttr_sla_median_min": mttr[0],
        "mttr_sla_p90_min": mttr[1],
        "respond_compliance_pct": respond,
        "resolve_compliance_pct": resolve,
        "respond_wall_compliance_pct": respond,
        "resolve_wall_compliance_pct": resolve,
        "update_compliance_pct": update,
        "failed_verification_pct": failed,
        "reopened": reopened,
    }


# platform, received 2026-10-01 – 2026-11-30 (G, cancelled, counted apart).
TOTAL = figures(
    count=7,  # A B C D E F U
    # MTTA A4 B6 D45 E10 F5 U20 (C never acknowledged) → 4 5 6 10 20 45:
    # median (6+10)/2 = 8, p90 = ⌈0.9·6⌉ = 6th smallest = 45
    mtta=(8.0, 45.0),
    # MTTR A100 B120 D500 E540 F90 U150 (C not restored) → 90 100 120 150 500 540:
    # median (120+150)/2 = 135, p90 = 6th = 540
    mttr=(135.0, 540.0),
    respond=71.4,  # met A B E F U; missed C (never, deadline passed), D (45 > 30) → 5/7
    resolve=57.1,  # met A B F U; missed C (open, passed), D (500 > 480), E (540 > 480) → 4/7
    update=83.3,  # acknowledged A B D E F U; U had an update notice → 5/6
    failed=16.7,  # verified A B D E F U; F failed once → 1/6
    reopened=1,  # E
)
P1 = figures(
    count=1,  # F
    mtta=(5.0, 5.0),
    mttr=(90.0, 90.0),
    respond=100.0,  # 5 ≤ 15
    resolve=100.0,  # 90 ≤ 240
    update=100.0,
    failed=100.0,  # its one verified incident failed a verification
    reopened=0,
)
P2 = figures(
    count=6,  # A B C D E U
    mtta=(10.0, 45.0),  # 4 6 10 20 45: median 10, p90 = ⌈4.5⌉ = 5th = 45
    mttr=(150.0, 540.0),  # 100 120 150 500 540: median 150, p90 = 5th = 540
    respond=66.7,  # met A B E U; missed C D → 4/6
    resolve=50.0,  # met A B U; missed C D E → 3/6
    update=80.0,  # acknowledged A B D E U; U late → 4/5
    failed=0.0,  # verified A B D E U, none failed → 0/5
    reopened=1,  # E
)
NOV_P2 = figures(
    count=5,  # B C D E U — B is November in Shanghai (October in UTC)
    mtta=(15.0, 45.0),  # B6 D45 E10 U20 → 6 10 20 45: median 15, p90 = ⌈3.6⌉ = 4th = 45
    mttr=(325.0, 540.0),  # B120 D500 E540 U150 → 120 150 500 540: median 325, p90 540
    respond=60.0,  # met B E U; missed C D → 3/5
    resolve=40.0,  # met B U; missed C D E → 2/5
    update=75.0,  # acknowledged B D E U; U late → 3/4
    failed=0.0,  # 0/4
    reopened=1,  # E
)
OCT_P2 = figures(
    count=1,  # A
    mtta=(4.0, 4.0),
    mttr=(100.0, 100.0),
    respond=100.0,
    resolve=100.0,
    update=100.0,
    failed=0.0,
    reopened=0,
)

PAYMENTS = figures(
    count=1,  # P
    mtta=(30.0, 30.0),
    mttr=(600.0, 600.0),
    respond=100.0,  # 30 ≤ 120
    resolve=100.0,  # 600 ≤ 1440
    update=100.0,
    failed=0.0,  # verified once, passed
    reopened=0,
)


def expected(story):
    item = story["overdue"]
    return {
        "start": date(2026, 10, 1),
        "end": date(2026, 11, 30),
        "team": "platform",
        "cancelled": 1,  # G
        "recurred_within_7_days": 0,  # none was filed by monitoring
        "total": TOTAL,
        "by_level": [{"severity": "P1", **P1}, {"severity": "P2", **P2}],
        "by_month": [  # newest month first, then by level
            {"month": "2026-11", "severity": "P1", **P1},
            {"month": "2026-11", "severity": "P2", **NOV_P2},
            {"month": "2026-10", "severity": "P2", **OCT_P2},
        ],
        "root_causes": [  # B and F code defects, A a config change; D has no category
            {"category": "code_defect", "label": "Code defect", "count": 2},
            {"category": "change_config", "label": "Change or configuration", "count": 1},
        ],
        "overdue_action_items": [  # not the one due today, not the one done
            {
                "id": item.pk,
                "text": "Alert on pool saturation.",
                "owner": "owner",
                "owner_name": "Owner",  # the factory's first name: the page shows it
                "due_date": date(2026, 11, 20),
                "incident": story["F"].number,
                "incident_id": story["F"].pk,
            }
        ],
        # No affected user answered in this story (tests/knowledge/test_feedback_metrics.py).
        "affected_feedback": {
            "total": {"count": 0, "average_rating": None},
            "by_level": [],
            "by_month": [],
        },
    }


RANGE = "start=2026-10-01&end=2026-11-30"


# ---------------------------------------------------------------- the figures


def test_it_takes_the_median_and_the_nearest_rank_p90():
    assert metrics.median([3, 1, 2]) == 2
    assert metrics.median([4, 1, 3, 2]) == 2.5
    assert metrics.p90(list(range(1, 11))) == 9  # ⌈9⌉ = 9th
    assert metrics.p90(list(range(11, 0, -1))) == 10  # ⌈9.9⌉ = 10th
    assert metrics.p90([7]) == 7
    assert metrics.median([]) is None
    assert metrics.p90([]) is None


def test_it_computes_the_hand_worked_figures(story, manager, platform):
    result = metrics.compute(
        user=manager, start=date(2026, 10, 1), end=date(2026, 11, 30), team=platform, now=NOW
    )
    assert result == expected(story)


def test_it_serves_the_same_figures_from_the_api(story, manager, token_client):
    response = token_client(manager).get(f"/api/v1/metrics/?{RANGE}&team=platform")

    assert response.status_code == 200
    want = expected(story)
    want["start"], want["end"] = "2026-10-01", "2026-11-30"
    want["overdue_action_items"][0]["due_date"] = "2026-11-20"
    assert response.json() == want


class Tables(HTMLParser):
    """The rows of each <table id=...> of a page, as lists of cell texts."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.rows.setdefault(dict(attrs).get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def shown(label, row) -> list[str]:
    """How the page writes one row of figures."""

    def value(key, unit):
        return "—" if row[key] is None else f"{row[key]} {unit}"

    return [
        label,
        str(row["count"]),
        value("mtta_median_min", "min"),
        value("mtta_p90_min", "min"),
        value("mttr_median_min", "min"),
        value("mttr_p90_min", "min"),
        value("respond_compliance_pct", "%"),
        value("resolve_compliance_pct", "%"),
        value("update_compliance_pct", "%"),
        value("failed_verification_pct", "%"),
        str(row["reopened"]),
    ]


def test_it_shows_the_figures_on_the_page(story, client, manager):
    client.force_login(manager)

    response = client.get(f"/metrics/?{RANGE}&team=platform")

    assert response.status_code == 200
    body = response.content.decode()
    tables = Tables(body).rows
    assert tables["metrics-by-level"][1:] == [
        shown("P1", P1),
        shown("P2", P2),
        shown("All", TOTAL),
    ]
    assert tables["metrics-by-month"][1:] == [
        ["2026-11", *shown("P1", P1)],
        ["2026-11", *shown("P2", NOV_P2)],
        ["2026-10", *shown("P2", OCT_P2)],
    ]
    assert "<title>2026-10 P2: 1 count</title>" in body  # the charts
    assert "<title>2026-11 P2: 5 count</title>" in body
    assert "<title>2026-11 P2: 325 min</title>" in body
    assert "Incidents received 2026-10-01 – 2026-11-30." in body
    assert "1 cancelled incident not counted." in body
    assert "<li>Code defect — 2</li><li>Change or configuration — 1</li>" in body
    f = story["F"]
    assert (
        f'<li class="overdue"><a href="/incidents/{f.pk}/postmortem/">{f.number}</a>: '
        "Alert on pool saturation. — Owner, due 2026-11-20</li>"
    ) in body
    assert "Load-test checkout." not in body
    assert "Review config pushes." not in body


def test_it_cuts_dates_and_months_in_shanghai(story, manager, platform):
    # A (10-31 23:30) is October; B (11-01 00:30 Shanghai, 10-31 16:30 UTC) is November.
    november = metrics.compute(
        user=manager, start=date(2026, 11, 1), end=date(2026, 11, 30), team=platform, now=NOW
    )
    october = metrics.compute(
        user=manager, start=date(2026, 10, 1), end=date(2026, 10, 31), team=platform, now=NOW
    )

    assert november["total"]["count"] == 6  # B C D E F U
    assert [(r["month"], r["severity"]) for r in november["by_month"]] == [
        ("2026-11", "P1"),
        ("2026-11", "P2"),
    ]
    assert october["total"] == OCT_P2  # A alone
    assert october["cancelled"] == 0
    assert october["root_causes"] == [
        {"category": "change_config", "label": "Change or configuration", "count": 1}
    ]
    assert october["overdue_action_items"] == []


def test_it_leaves_cancelled_incidents_out_of_every_figure(story, manager, platform):
    # G alone: received 11-18, cancelled.
    result = metrics.compute(
        user=manager, start=date(2026, 11, 18), end=date(2026, 11, 18), team=platform, now=NOW
    )
    assert result["cancelled"] == 1
    assert result["total"] == figures(0, (None, None), (None, None), None, None, None, None, 0)
    assert result["by_level"] == result["by_month"] == []


def test_it_counts_every_team_unless_one_is_chosen(story, manager, token_client):
    client = token_client(manager)

    everyone = client.get(f"/api/v1/metrics/?{RANGE}").json()
    payments = client.get(f"/api/v1/metrics/?{RANGE}&team=payments").json()

    assert everyone["team"] is None
    assert everyone["total"]["count"] == 8  # platform's 7 and P
    assert [r["severity"] for r in everyone["by_level"]] == ["P1", "P2", "P3"]
    assert everyone["root_causes"] == [
        {"category": "code_defect", "label": "Code defect", "count": 3},
        {"category": "change_config", "label": "Change or configuration", "count": 1},
    ]
    assert [a["id"] for a in everyone["overdue_action_items"]] == [
        story["overdue"].pk,  # due 11-20
        story["pay_overdue"].pk,  # due 11-21
    ]
    assert payments["total"] == PAYMENTS


def test_it_shows_a_lead_only_their_teams_incidents(story, client, pay_lead, token_client):
    api = token_client(pay_lead)

    mine = api.get(f"/api/v1/metrics/?{RANGE}").json()

    assert mine["total"] == PAYMENTS
    assert mine["cancelled"] == 0
    assert mine["root_causes"] == [{"category": "code_defect", "label": "Code defect", "count": 1}]
    assert [a["incident"] for a in mine["overdue_action_items"]] == [story["P"].number]
    response = api.get(f"/api/v1/metrics/?{RANGE}&team=platform")
    assert response.status_code == 400
    assert "team" in response.json()

    client.force_login(pay_lead)
    body = client.get(f"/metrics/?{RANGE}").content.decode()
    assert story["P"].number in body
    assert story["F"].number not in body
    assert "Alert on pool saturation." not in body
    assert client.get(f"/metrics/?{RANGE}&team=platform").status_code == 400


def test_it_defaults_to_the_last_180_days(clock, manager, token_client):
    body = token_client(manager).get("/api/v1/metrics/").json()
    assert (body["start"], body["end"], body["team"]) == ("2026-05-31", "2026-11-26", None)
    assert body["total"]["count"] == 0


# ---------------------------------------------------------------- access and input


@pytest.mark.parametrize("role", ["engineer", "tester", "onduty"])
def test_it_refuses_those_who_are_not_managers_or_leads(request, client, token_client, clock, role):
    user = request.getfixturevalue(role)
    client.force_login(user)

    assert client.get("/metrics/").status_code == 403
    assert token_client(user).get("/api/v1/metrics/").status_code == 403


@pytest.mark.parametrize("role", ["manager", "lead", "admin", "pay_lead"])
def test_it_opens_to_managers_and_leads(request, client, token_client, clock, role):
    user = request.getfixturevalue(role)
    client.force_login(user)

    assert client.get("/metrics/").status_code == 200
    assert token_client(user).get("/api/v1/metrics/").status_code == 200


def test_it_takes_empty_fields_or_no_parameters_for_the_defaults(
    clock, client, manager, token_client
):
    client.force_login(manager)
    assert client.get("/metrics/?start=&end=&team=").status_code == 200
    body = token_client(manager).get("/api/v1/metrics/").json()
    assert (body["start"], body["end"], body["team"]) == ("2026-05-31", "2026-11-26", None)


def test_it_asks_anonymous_visitors_to_sign_in(client, clock):
    assert client.get("/metrics/").status_code == 302
    assert client.get("/api/v1/metrics/").status_code == 401


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("start=2026-11-20&end=2026-11-01", {"end"}),
        ("start=2026-13-01", {"start"}),
        ("end=yesterday", {"end"}),
        ("team=nope", {"team"}),
        ("start=2020-01-01&end=2026-11-26", {"end"}),  # more than three years
        ("start=9999-12-30&end=9999-12-31", {"start", "end"}),  # the day after overflows
    ],
)
def test_it_rejects_bad_input(clock, client, manager, token_client, query, fields):
    api = token_client(manager).get(f"/api/v1/metrics/?{query}")
    assert api.status_code == 400
    assert set(api.json()) == fields

    client.force_login(manager)
    page = client.get(f"/metrics/?{query}")
    assert page.status_code == 400
    assert 'id="metrics-by-level"' not in page.content.decode()


def test_it_says_why_a_reversed_range_is_refused(clock, client, manager, token_client):
    client.force_login(manager)
    message = "The end date is before the start date."

    assert message in client.get("/metrics/?start=2026-11-20&end=2026-11-01").content.decode()
    response = token_client(manager).get("/api/v1/metrics/?start=2026-11-20&end=2026-11-01")
    assert response.json() == {"end": [message]}


def test_its_query_count_does_not_grow_with_incidents(story, client, manager):
    client.force_login(manager)
    with CaptureQueriesContext(connection) as one:  # A alone
        assert client.get("/metrics/?start=2026-10-01&end=2026-10-31").status_code == 200
    with CaptureQueriesContext(connection) as eight:
        assert client.get(f"/metrics/?{RANGE}").status_code == 200
    assert len(eight.captured_queries) == len(one.captured_queries), "\n".join(
        q["sql"] for q in eight.captured_queries
    )


def test_the_api_refuses_a_blank_parameter(clock, manager, token_client):
    # The page's form leaves a field blank to mean "the default"; the API wants
    # the parameter left out (an empty string is not a date).
    response = token_client(manager).get("/api/v1/metrics/?start=&team=")
    assert response.status_code == 400
    assert set(response.json()) == {"start", "team"}


def test_its_filters_are_drawn_once_per_query_teams_and_language(story, client, manager):
    from incidents.models import UserProfile

    client.force_login(manager)
    english = client.get(f"/metrics/?{RANGE}&team=platform").content.decode()
    assert 'value="2026-10-01"' in english
    assert "Received from" in english
    assert '<option value="platform" selected>' in english
    # Another query is drawn afresh, not served as the first one's.
    other = client.get("/metrics/?start=2026-11-01&end=2026-11-30").content.decode()
    assert 'value="2026-11-01"' in other
    assert '<option value="platform" selected>' not in other
    # So is another language.
    UserProfile.objects.update_or_create(user=manager, defaults={"language": "zh-hans"})
    chinese = client.get(f"/metrics/?{RANGE}&team=platform").content.decode()
    assert "接收日期起" in chinese
    assert "Received from" not in chinese
    # And a query with errors shows them in the form.
    wrong = client.get("/metrics/?start=2026-12-01&end=2026-11-01")
    assert wrong.status_code == 400
    assert 'class="text-danger small"' in wrong.content.decode()
