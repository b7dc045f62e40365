"""export_incidents / import_incidents: a dump restores the whole incident history.

The round trip: build a varied history through the real services, export it,
empty every table a freshly migrated database has empty, import, export
again: the two dumps are equal (only `exported_at` and the revoked time of
integrations that were active differ, both documented).
"""

import gzip
import io
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.authtoken.models import Token

from escalation.engine import sweep_due_deadlines
from escalation.models import (
    BusinessCalendar,
    Clock,
    LadderStep,
    Notice,
    SlaPolicy,
    TeamChannel,
    WorkingHours,
)
from incidents import alerts, backup, services, tallies
from incidents.backup import registry
from incidents.models import (
    AlertIntegration,
    Incident,
    IncidentFigures,
    IncidentSequence,
    IncidentTally,
    LogEntry,
    Service,
    State,
    Team,
    UserProfile,
)
from incidents.rules import Role
from knowledge import services as knowledge
from knowledge import services as knowledge_services
from knowledge.models import ActionItem, SearchDocument
from tests.conftest import NOW
from tests.dumps import export, import_text
from tests.factories import (
    TeamFactory,
    complete_postmortem,
    in_progress_incident,
    make_user,
    new_incident,
    resolved_incident,
    verifying_incident,
)

User = get_user_model()
pytestmark = pytest.mark.django_db

# Rows of these models come back from the migrations, not from a dump.
SEEDED = {SlaPolicy, LadderStep, BusinessCalendar, WorkingHours}
# Models a dump leaves out on purpose (backup.EXCLUDED says why).
NOT_IN_DUMP = {
    "SlaPolicy",
    "BusinessCalendar",
    "WorkingHours",
    "CalendarDay",
    "LadderStep",
    "Heartbeat",
    "TeamChannel",
    "AlertRateWindow",
    "SignatureSeen",
    "IncidentTally",
    "IncidentFigures",
    "SearchIndexVersion",
    "IncidentSequence",
    # The archive's search rows: the database writes them with the incidents.
    "IncidentSearchRow",
    "SearchDocument",
    # Duty rosters: team set-up, not incident history (EXCLUDED says so).
    "Rotation",
    "RotationMember",
    "Override",
    "RosterEvent",
    "HandoverNote",
    "CalendarFeed",
    # Maintenance windows and their timeline: team set-up (EXCLUDED says so).
    "MaintenanceWindow",
    "TeamEvent",
    # Chat robots' message counts: bookkeeping.
    "RobotSlot",
    # Unread notice counts: kept from the deliveries the dump carries (escalation.unread).
    "UnreadCounter",
    # The status page: its public record and subscribers (EXCLUDED says so).
    "Component",
    "Publication",
    "PublicUpdate",
    "Subscriber",
    "StatusMessage",
    "FeedbackRequest",
    "StatusPage",
}


# ---------------------------------------------------------------- helpers


def wipe() -> None:
    """Empty what a freshly migrated database has empty (role groups, SLA policies
    and the ladder stay). Raw flush SQL: TRUNCATE on PostgreSQL, which the audit
    trail's trigger (UPDATE/DELETE) does not refuse; DELETE on SQLite."""
    models = [
        m
        for label in ("incidents", "escalation", "knowledge")
        for m in apps.get_app_config(label).get_models(include_auto_created=True)
        if m not in SEEDED
    ]
    models += [User, User.groups.through, User.user_permissions.through, Token]
    sql = connection.ops.sql_flush(
        no_style(), [m._meta.db_table for m in models], allow_cascade=True
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE refuses tables with foreign-key checks still pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for statement in sql:
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def row_counts() -> dict:
    """Rows per table of everything a dump touches or derives."""
    models = [
        m
        for label in ("incidents", "escalation", "knowledge", "auth")
        for m in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    return {m._meta.db_table: m.objects.count() for m in models}


def without_volatile(dump: dict) -> dict:
    """The dump minus what legitimately differs after a restore: when it was
    written, and when the integrations that were active got revoked."""
    dump = dict(dump)
    dump.pop("exported_at")
    dump["integrations"] = [{**i, "revoked_at": "(volatile)"} for i in dump["integrations"]]
    return dump


def search_documents() -> list:
    return sorted(
        (d.kind, d.title, d.body, d.excerpt, d.happened_at.isoformat())
        for d in SearchDocument.objects.all()
    )


# ---------------------------------------------------------------- a varied history


@pytest.fixture
def history(clock, onduty, engineer, owner, helper, tester, lead, manager, admin, pay_lead):
    """Incidents of three teams in every kind of state, with what each step writes."""
    platform = Team.objects.get(slug="platform")
    data_team = TeamFactory(slug="data", name="数据平台")
    data_lead = make_user(Role.TECH_LEAD, data_team, lead=True, username="data-lead")
    make_user(None, None, username="retired", is_active=False)
    helper.user_permissions.add(Permission.objects.get(codename="view_incident"))
    UserProfile.objects.create(
        user=owner, language="zh-hans", time_zone="Asia/Shanghai", phone="+86 138 0000 0000"
    )
    checkout = Service.objects.create(team=platform, slug="checkout", name="收银台")

    # Archived P1 with notification, feedback, post-mortem, action item, article.
    archived = resolved_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        helpers=[helper],
        title="数据库连接池耗尽导致超时",
        symptoms="订单服务响应缓慢，约三成请求超时。",
        severity="P1",
        service=checkout,
    )
    services.incident_notify_users(incident=archived, actor=lead, message="服务已恢复。")
    services.incident_record_feedback(
        incident=archived, actor=lead, text="用户确认正常", satisfied=True
    )
    complete_postmortem(archived, lead=lead, owner=owner)
    archived = knowledge_services.incident_archive(
        incident=archived, actor=lead, summary="连接池参数被改小；已恢复并加告警。"
    )
    knowledge.article_save(
        actor=lead,
        incident=archived,
        title="连接池耗尽的排查",
        symptoms="超时",
        fix="调大连接池",
        tags="数据库, pool",
    )

    # Verification failed once, then a blocker and progress in the log.
    failed = verifying_incident(lead=lead, owner=owner, title="Search returns 500")
    services.incident_verify(
        incident=failed,
        actor=tester,
        functional_ok=True,
        regression_ok=False,
        monitoring_ok=True,
        regression_evidence="Saved searches still fail.",
    )
    services.incident_log(
        incident=failed, actor=owner, kind=LogEntry.Kind.BLOCKER, text="Waiting for the DBA."
    )
    services.incident_log(
        incident=failed, actor=owner, kind=LogEntry.Kind.PROGRESS, text="DBA on it."
    )

    # Assigned with an external contact; graded twice.
    assigned = in_progress_incident(lead=lead, owner=engineer, title="Reports are late")
    services.incident_grade(incident=assigned, actor=lead, severity="P3", diagnosis="Cron lag.")
    services.incident_assign(
        incident=assigned,
        actor=lead,
        owner=engineer,
        helpers=[helper],
        external_contacts=[{"name": "王工", "organisation": "云厂商", "contact": "400-000"}],
    )

    # Reopened after resolving.
    reopened = resolved_incident(lead=lead, owner=owner, tester=tester, title="Login loops")
    services.incident_reopen(incident=reopened, actor=lead, reason="又出现了")

    # Other teams: an urgent P0 in payments, a cancelled one in data.
    new_incident(reporter=pay_lead, severity="P0", urgent=True, phone_call_to="pay-lead")
    cancelled = new_incident(reporter=data_lead, title="重复告警")
    services.incident_cancel(incident=cancelled, actor=data_lead, reason="重复 / duplicate")

    # Filed by monitoring; a second integration was revoked.
    integration, _token = alerts.integration_create(
        name="prometheus", team=platform, signing_secret="s3cret-signing"
    )
    alerts.alerts_receive(
        integration=integration,
        alerts=[
            alerts.ParsedAlert(
                group_key="g1",
                fingerprint="f1",
                status="firing",
                title="Order errors",
                description="5xx > 50%",
                labels={"severity": "critical", "服务": "订单"},
                starts_at=NOW - timedelta(minutes=3),
            )
        ],
    )
    old, _token = alerts.integration_create(name="zabbix", team=platform)
    alerts.integration_revoke(integration=old)

    # The clocks run out: notices and deliveries for the respond, blocker,
    # update and page clocks, then an overdue improvement action.
    clock.shift(timedelta(hours=3))
    sweep_due_deadlines()
    clock.shift(timedelta(days=9))
    sweep_due_deadlines()
    clock.move_to(NOW + timedelta(days=9, hours=4))
    return {"archived": archived, "failed": failed}


def test_the_history_has_every_kind_of_row(history):
    """Guards the fixture: the round trip below is only as strong as the data."""
    counts = row_counts()
    for table in [
        "incidents_grading",
        "incidents_assignment_helpers",
        "incidents_externalcontact",
        "incidents_verification",
        "incidents_usernotification",
        "incidents_userfeedback",
        "incidents_alert",
        "incidents_incident_helpers",
        "escalation_deadline",
        "escalation_delivery",
        "knowledge_postmortem_attendees",
        "knowledge_actionitem",
        "knowledge_knowledgearticle",
        "knowledge_searchdocument",
    ]:
        assert counts[table] > 0, table
    clocks = set(Notice.objects.values_list("clock", flat=True))
    assert {Clock.BLOCKER, Clock.ACTION, Clock.PAGE, Clock.RESPOND} <= clocks
    assert Incident.objects.filter(failed_verification_count=1).exists()
    assert set(Incident.objects.values_list("state", flat=True)) >= {
        State.ARCHIVED,
        State.IN_PROGRESS,
        State.NEW,
        State.CANCELLED,
    }


# ---------------------------------------------------------------- the round trip


def test_it_restores_the_whole_history_into_an_empty_database(history, tmp_path):
    before = export()
    documents = search_documents()
    causes = dict(
        Incident.objects.exclude(root_cause_category="").values_list(
            "number", "root_cause_category"
        )
    )
    assert causes  # the archived incident's post-mortem names one
    wipe()
    assert Incident.objects.count() == User.objects.count() == 0

    output = import_text(before, tmp_path)

    after = export()
    assert without_volatile(json.loads(after)) == without_volatile(json.loads(before))
    assert "Imported 7 incidents (0 already present)." in output
    # The derived data is rebuilt from what was restored.
    assert search_documents() == documents
    tallied = {
        (t.team_id, t.state, t.severity): t.count for t in IncidentTally.objects.all() if t.count
    }
    tallies.rebuild()
    assert tallied == {
        (t.team_id, t.state, t.severity): t.count for t in IncidentTally.objects.all() if t.count
    }
    # The incidents carry their post-mortems' root causes again, and the figures count them.
    assert (
        dict(
            Incident.objects.exclude(root_cause_category="").values_list(
                "number", "root_cause_category"
            )
        )
        == causes
    )
    assert {c for row in IncidentFigures.objects.all() for c in row.causes} == set(causes.values())


def test_it_revokes_restored_integrations_and_says_so(history, tmp_path):
    before = json.loads(export())
    wipe()

    output = import_text(json.dumps(before), tmp_path)

    prometheus = AlertIntegration.objects.get(name="prometheus")
    assert prometheus.revoked_at == NOW + timedelta(days=9, hours=4)
    assert prometheus.signing_secret == prometheus.token_hint == ""
    zabbix = [i for i in before["integrations"] if i["name"] == "zabbix"][0]
    assert (
        AlertIntegration.objects.get(name="zabbix").revoked_at.isoformat() == (zabbix["revoked_at"])
    )
    assert "'prometheus' restored revoked" in output


def test_it_keeps_blocker_and_action_notices_pointing_at_their_rows(history, tmp_path):
    dump = export()
    wipe()
    import_text(dump, tmp_path)

    blocker = LogEntry.objects.get(kind=LogEntry.Kind.BLOCKER)
    item = ActionItem.objects.get()
    # The sweep knows a blocker's notice by the entry's id, an action's by the item's.
    assert Notice.objects.get(clock=Clock.BLOCKER).cycle == blocker.pk
    assert Notice.objects.get(clock=Clock.ACTION).cycle == item.pk
    assert blocker.incident.deadlines.get(clock=Clock.BLOCKER).cycle == blocker.pk


def test_it_gives_restored_users_no_password_and_their_roles(history, tmp_path):
    dump = export()
    assert "md5$" not in dump  # the test settings' hasher
    assert '"password"' not in dump
    wipe()
    import_text(dump, tmp_path)

    lead = User.objects.get(username="lead")
    assert not lead.has_usable_password()
    assert list(lead.groups.values_list("name", flat=True)) == ["tech lead"]
    assert list(Team.objects.get(slug="platform").tech_leads.all()) == [lead]
    assert User.objects.get(username="helper").has_perm("incidents.view_incident")
    assert not User.objects.get(username="retired").is_active
    assert User.objects.get(username="owner").profile.language == "zh-hans"


def test_it_keeps_chinese_text(history, tmp_path):
    dump = export()
    assert dump.isascii()  # escaped, so no file encoding can garble it
    wipe()
    import_text(dump, tmp_path)

    incident = Incident.objects.get(title="数据库连接池耗尽导致超时")
    assert incident.symptoms == "订单服务响应缓慢，约三成请求超时。"
    assert incident.service.name == "收银台"
    assert Team.objects.get(slug="data").name == "数据平台"
    assert incident.events.filter(message__contains="连接池参数被改小").exists()
    alert = Incident.objects.get(title="Order errors").alerts.get()
    assert alert.labels["服务"] == "订单"
    hits = SearchDocument.objects.filter(body__contains="连接池参数被改小")
    assert list(hits.values_list("object_id", flat=True)) == [incident.pk]


def test_it_continues_the_numbering_after_the_restored_numbers(history, tmp_path, clock):
    dump = export()
    numbers = {i["number"] for i in json.loads(dump)["incidents"]}
    wipe()
    import_text(dump, tmp_path)
    assert IncidentSequence.objects.get(day=NOW.date()).last == len(numbers)
    clock.move_to(NOW + timedelta(hours=1))  # the day all of them were filed

    incident = services.incident_create(
        actor=User.objects.get(username="lead"),
        title="After the restore",
        symptoms="x",
        severity="P2",
        source="phone",
        impact_scope="y",
    )

    assert incident.number not in numbers
    assert incident.number == f"INC-{NOW:%Y%m%d}-{len(numbers) + 1:04d}"


# ---------------------------------------------------------------- idempotence


def test_it_imports_the_same_dump_twice_without_duplicating(history, tmp_path):
    dump = export()
    wipe()
    import_text(dump, tmp_path)
    counts = row_counts()

    with translation.override("zh-hans"):  # the report stays English
        output = import_text(dump, tmp_path)

    assert row_counts() == counts
    assert "Imported 0 incidents (7 already present)." in output
    assert "timeline events: 0 created" not in output  # nothing created, nothing listed
    assert f"users: 0 created, {User.objects.count()} already present" in output
    assert json.loads(export())["incidents"] == json.loads(dump)["incidents"]


def test_it_changes_nothing_when_imported_into_the_database_it_came_from(history, tmp_path):
    lead = User.objects.get(username="lead")
    dump = export()
    counts = row_counts()

    import_text(dump, tmp_path)

    assert row_counts() == counts
    assert User.objects.get(username="lead").password == lead.password  # still usable


def test_it_adds_only_the_incidents_that_are_missing(history, tmp_path, pay_lead):
    dump = export()
    wipe()
    partial = json.loads(dump)
    kept = partial["incidents"][:3]
    partial["incidents"] = kept
    import_text(json.dumps(partial), tmp_path)
    assert Incident.objects.count() == 3

    output = import_text(dump, tmp_path)

    assert "Imported 4 incidents (3 already present)." in output
    assert without_volatile(json.loads(export())) == without_volatile(json.loads(dump))


def test_it_leaves_existing_users_and_teams_as_they_are(history, tmp_path):
    dump = export()
    wipe()
    # Someone set up the server before restoring: a platform team and a lead.
    platform = TeamFactory(slug="platform", name="Platform (new)")
    lead = make_user(Role.ENGINEER, platform, username="lead", password="kept")

    import_text(dump, tmp_path)

    platform.refresh_from_db()
    lead.refresh_from_db()
    assert platform.name == "Platform (new)"
    assert lead.check_password("kept")
    assert list(lead.groups.values_list("name", flat=True)) == ["engineer"]
    # Two rows that were there before keep their relation; new users join.
    assert not platform.tech_leads.filter(pk=lead.pk).exists()
    assert platform.members.filter(username="owner").exists()


# ---------------------------------------------------------------- refusals


def truncate(text: str) -> str:
    return text[: text.index('"incidents": [') + 2000]


def replace_first(old: str, new: str):
    def change(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return change


def edit(change):
    def apply(text: str) -> str:
        dump = json.loads(text)
        change(dump)
        return json.dumps(dump)

    return apply


def _log(dump):
    return next(i for i in dump["incidents"] if i["log_entries"])["log_entries"][0]


BROKEN = {
    "truncated": (truncate, "not valid JSON"),
    "not json": (replace_first('"log_entries": [', '"log_entries": [}'), "not valid JSON"),
    "another format": (replace_first("responder-incidents", "something-else"), "not a Responder"),
    "future version": (
        replace_first('"version": 1', '"version": 2'),
        "unsupported format version 2",
    ),
    "unknown user": (edit(lambda d: _log(d).update(author="nobody")), "unknown user 'nobody'"),
    "unknown field": (edit(lambda d: d["incidents"][0].update(colour="red")), "unknown field"),
    "naive time": (
        edit(lambda d: d["incidents"][-1].update(received_at="2026-11-26T10:00:00")),
        "needs a time zone",
    ),
    "bad choice": (edit(lambda d: d["incidents"][-1].update(state="exploded")), "choices"),
    "duplicate number": (
        edit(lambda d: d["incidents"].append(d["incidents"][0])),
        "appears twice",
    ),
    "wrong shape": (
        edit(lambda d: d["incidents"][0].update(log_entries="none")),
        "log_entries: expected a list",
    ),
    "roles not a list": (
        edit(lambda d: d["users"][0].update(groups="tech lead")),
        "expected a list of names",
    ),
    "missing section": (edit(lambda d: d.pop("articles")), "missing section(s): articles"),
    "refused by the database": (
        edit(lambda d: d["incidents"][-1].update(affected_users=-5)),
        "the database refused",
    ),
    "verification without resolution": (
        edit(
            lambda d: next(i for i in d["incidents"] if i["verifications"])["verifications"][
                0
            ].update(resolution=9)
        ),
        "no resolution at position 9",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_it_refuses_a_broken_dump_and_writes_nothing(history, tmp_path, case):
    change, message = BROKEN[case]
    broken = change(export())
    wipe()
    empty = row_counts()

    with pytest.raises(CommandError, match="Nothing was imported") as refused:
        import_text(broken, tmp_path)

    assert message in str(refused.value)
    assert row_counts() == empty


def test_it_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_incidents", str(tmp_path / "nope.json"), stdout=io.StringIO())


def test_it_writes_nothing_on_a_dry_run(history, tmp_path):
    dump = export()
    wipe()
    empty = row_counts()

    output = import_text(dump, tmp_path, "--dry-run")

    assert "Would import 7 incidents" in output
    assert row_counts() == empty


# ---------------------------------------------------------------- secrets, files, filters


def test_it_never_writes_secrets(history, tmp_path, lead):
    payments = Team.objects.get(slug="payments")
    TeamChannel.objects.create(
        team=payments,
        kind=TeamChannel.Kind.DINGTALK,
        name="值班群",
        url="https://oapi.dingtalk.com/robot/send?access_token=hook-secret-123",
        secret="SECsign-456",
    )
    incident = new_incident(reporter=User.objects.get(username="pay-lead"), severity="P0")
    sweep_due_deadlines(now=incident.respond_by)
    token = Token.objects.create(user=lead)
    hashes = list(User.objects.values_list("password", flat=True))
    integration_hashes = list(AlertIntegration.objects.values_list("token_hash", flat=True))

    dump = export()

    for secret in [
        "hook-secret-123",
        "SECsign-456",
        "s3cret-signing",
        token.key,
        *hashes,
        *integration_hashes,
    ]:
        assert secret not in dump
    written = json.loads(dump)
    room = [
        d
        for i in written["incidents"]
        for n in i["notices"]
        for d in n["deliveries"]
        if d["team_channel"] == "值班群"
    ]
    assert room
    assert all(d["address"] == "" for d in room)

    # Restored next to a channel of that name, the delivery finds it again.
    wipe()
    payments = TeamFactory(slug="payments", name="Payments")
    channel = TeamChannel.objects.create(
        team=payments, kind="dingtalk", name="值班群", url="https://example.com/new-hook"
    )
    import_text(dump, tmp_path)
    delivery = channel.deliveries.first()
    assert delivery.address == "https://example.com/new-hook"


@pytest.mark.parametrize("name", ["dump.json", "dump.json.gz"])
def test_it_writes_and_reads_files(history, tmp_path, name):
    path = tmp_path / name
    out, err = io.StringIO(), io.StringIO()
    call_command("export_incidents", "--output", str(path), stdout=out, stderr=err)
    users = User.objects.count()
    assert f"Exported {users} users, 3 teams, 2 integrations, 7 incidents, 1 articles." in (
        out.getvalue()
    )
    assert not (tmp_path / f"{name}.partial").exists()
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if name.endswith(".gz") else raw).decode("ascii")
    assert json.loads(text)["format"] == "responder-incidents"
    wipe()

    call_command("import_incidents", str(path), stdout=io.StringIO())

    assert Incident.objects.filter(title="数据库连接池耗尽导致超时").exists()


def test_it_exports_one_team_or_recent_incidents(clock, lead, pay_lead):
    new_incident(reporter=lead, title="old", received_at=NOW - timedelta(days=3))
    new_incident(reporter=lead, title="new")
    new_incident(reporter=pay_lead, title="pay")

    by_team = json.loads(export(teams=["payments"]))
    recent = json.loads(export(since="2026-11-25"))

    assert [i["title"] for i in by_team["incidents"]] == ["pay"]
    assert [t["slug"] for t in by_team["teams"]] == ["payments"]
    assert sorted(i["title"] for i in recent["incidents"]) == ["new", "pay"]
    with pytest.raises(CommandError, match="no team with slug nope"):
        export(teams=["nope"])
    with pytest.raises(CommandError, match="not a date"):
        export(since="yesterday")


# ---------------------------------------------------------------- scale


def _set_of_incidents(lead, owner, tester, n):
    for i in range(n):
        in_progress_incident(lead=lead, owner=owner, helpers=[tester], title=f"open {i}")
        resolved = resolved_incident(lead=lead, owner=owner, tester=tester, severity="P1")
        complete_postmortem(resolved, lead=lead, owner=owner)
        knowledge_services.incident_archive(incident=resolved, actor=lead, summary=f"done {i}")


def test_it_does_not_query_per_incident(clock, lead, owner, tester, tmp_path):
    def queries(run) -> int:
        with CaptureQueriesContext(connection) as captured:
            run()
        return len(captured)

    _set_of_incidents(lead, owner, tester, 1)
    export_few = queries(export)
    _set_of_incidents(lead, owner, tester, 3)
    export_many = queries(export)
    assert export_few == export_many

    dump = json.loads(export())
    few = {**dump, "incidents": dump["incidents"][:2]}
    wipe()
    import_few = queries(lambda: import_text(json.dumps(few), tmp_path))
    wipe()
    import_many = queries(lambda: import_text(json.dumps(dump), tmp_path))
    assert len(dump["incidents"]) == 8
    assert import_few == import_many


@pytest.mark.parametrize("read_size", [1, 7, 4096])
def test_it_reads_the_file_piece_by_piece(history, read_size):
    text = export()
    expected = json.loads(text)

    reader = backup.Reader(io.StringIO(text), read_size=read_size)
    read = {key: list(v) if key in backup.sections() else v for key, v in reader.entries()}

    assert read == expected


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_exports_from_one_snapshot_outside_a_transaction(lead, tmp_path):
    """Run as the command runs (autocommit): the snapshot is opened and closed."""
    new_incident(reporter=lead, title="snapshot")
    path = tmp_path / "dump.json"

    call_command("export_incidents", "-o", str(path), stdout=io.StringIO())

    assert [i["title"] for i in json.loads(path.read_text())["incidents"]] == ["snapshot"]
    # The snapshot's transaction is over: nothing holds a lock or a stale view.
    if connection.vendor == "sqlite":
        assert not connection.connection.in_transaction
    else:
        from psycopg2.extensions import TRANSACTION_STATUS_IDLE

        assert connection.connection.get_transaction_status() == TRANSACTION_STATUS_IDLE


# ---------------------------------------------------------------- the format itself


def test_it_writes_every_field_or_says_why_not():
    """A new model field (or model) must be placed in the dump or left out knowingly:
    incidents' own parts and those escalation and knowledge register."""
    for part in backup.parts():
        meta = part.model._meta
        handled = (
            {f.name for f in part.plain}
            | {part.parent}
            | set(part.users)
            | set(part.many)
            | set(part.refs)
            | part.omit
        )
        fields = {f.name for f in meta.concrete_fields if not f.primary_key}
        fields |= {f.name for f in meta.many_to_many}
        assert fields <= handled, f"{meta.label}: {sorted(fields - handled)}"
    in_parts = {part.model.__name__ for part in backup.parts()}
    for label in ("incidents", "escalation", "knowledge"):
        for model in apps.get_app_config(label).get_models():
            assert model.__name__ in in_parts | NOT_IN_DUMP, model.__name__


def test_its_help_lists_what_is_and_is_not_included():
    command = load_command_class("incidents", "export_incidents")
    text = " ".join(command.create_parser("manage.py", "export_incidents").format_help().split())
    for words in ["password hashes", "API tokens, sessions", "signing secrets", "post-mortem"]:
        assert words in text


def test_it_keeps_the_order_of_the_sections_and_of_the_rows_nested_in_an_incident(history):
    """The order is part of the format (and of the words the command prints); the
    apps' parts land where they always were, whatever order the apps load in."""
    dump = json.loads(export())

    assert list(dump) == [
        "format",
        "version",
        "exported_at",
        "filters",
        "users",
        "teams",
        "integrations",
        "incidents",
        "articles",
    ]
    assert backup.sections() == ("users", "teams", "integrations", "incidents", "articles")
    nested = [
        "team",
        "service",
        "recurrence_of",
        "helpers",
        "gradings",
        "assignments",
        "external_contacts",
        "log_entries",
        "resolutions",
        "verifications",
        "user_notifications",
        "feedback",
        "events",
        "pauses",
        "alerts",
        "postmortem",
        "deadlines",
        "notices",
    ]
    for incident in dump["incidents"]:
        assert list(incident)[-len(nested) :] == nested
    postmortem = next(i["postmortem"] for i in dump["incidents"] if i["postmortem"])
    assert list(postmortem)[-3:] == ["author", "attendees", "action_items"]
    assert postmortem["action_items"]
    notice = next(n for i in dump["incidents"] for n in i["notices"] if n["deliveries"])
    assert list(notice)[-3:] == ["cycle", "cycle_ref", "deliveries"]
    assert list(notice["deliveries"][0])[-3:] == ["user", "team_channel", "address"]
    deadline = next(d for i in dump["incidents"] for d in i["deadlines"])
    assert list(deadline)[-2:] == ["cycle", "cycle_ref"]
    assert list(dump["articles"][0])[-3:] == ["author", "incident", "team"]


def test_it_writes_and_reads_the_same_dump_whatever_order_the_apps_register_in(
    history, tmp_path, monkeypatch
):
    """Escalation's notices point at knowledge's action items: knowledge's part must
    come first both ways, even when escalation registers first."""
    before = export()
    backwards = registry.Registry()
    for part in [*reversed(registry.nested()), *reversed(registry.sections())]:
        backwards.register(part)
    monkeypatch.setattr(registry, "REGISTRY", backwards)

    assert _without_time(export()) == _without_time(before)
    wipe()
    import_text(before, tmp_path)
    assert without_volatile(json.loads(export())) == without_volatile(json.loads(before))
    item = ActionItem.objects.get()
    assert Notice.objects.get(clock=Clock.ACTION).cycle == item.pk


def _without_time(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith('"exported_at"')]


def test_it_keeps_the_link_of_a_recurrence_to_the_incident_it_repeats(
    clock, lead, onduty, tmp_path
):
    from tests.factories import IncidentFactory

    first = IncidentFactory(actor=onduty, title="Disk full on db-1")
    again = IncidentFactory(actor=onduty, title="Disk full on db-1, again")
    Incident.objects.filter(pk=again.pk).update(recurrence_of=first)
    text = export()
    dumped = {i["number"]: i for i in json.loads(text)["incidents"]}
    assert dumped[again.number]["recurrence_of"] == first.number
    assert dumped[first.number]["recurrence_of"] is None

    wipe()
    import_text(text, tmp_path)

    restored = Incident.objects.get(number=again.number)
    assert restored.recurrence_of.number == first.number
    assert Incident.objects.get(number=first.number).recurrence_of is None
