"""How the workspace reads: the sizes of its smaller lists come with the incident
(an empty list costs no query), and its log, audit and notice rows come from the
fragments cache by what they show — never stale after a write."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import clock as wall
from escalation.models import Clock, Delivery, Notice
from incidents import services, views
from incidents.models import ExternalContact, LogEntry
from incidents.workflow import Action
from tests.factories import (
    archived_incident,
    complete_postmortem,
    in_progress_incident,
    new_incident,
    perform,
    resolved_incident,
)

pytestmark = pytest.mark.django_db


def url(incident) -> str:
    return f"/incidents/{incident.pk}/"


def read(client, incident) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(incident))
        assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in captured.captured_queries]


def _notice(incident, owner, *, cycle=1, status=Delivery.Status.SENT) -> Delivery:
    now = wall.now()
    notice = Notice.objects.create(
        incident=incident,
        clock=Clock.UPDATE,
        cycle=cycle,
        level=1,
        deadline=now - timedelta(minutes=5),
        due_at=now - timedelta(minutes=5),
        created_at=now,
        recipients=[owner.username],
    )
    return Delivery.objects.create(notice=notice, channel="email", user=owner, status=status)


def test_its_empty_lists_cost_no_query(clock, signed_in, lead, onduty):
    incident = new_incident(reporter=onduty)
    client = signed_in(lead)
    read(client, incident)  # the rows' HTML is rendered and kept
    _body, queries = read(client, incident)
    # Session, user; the incident with the sizes of its lists; its log, audit trail
    # and notices as the facts their cached HTML is keyed by; its level's windows.
    assert len(queries) == 7, "\n".join(queries)


def test_its_rows_once_rendered_cost_no_query(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    _notice(incident, owner)
    client = signed_in(lead)
    body, first = read(client, incident)
    assert "Rolled the gateway back" in body
    _body, queries = read(client, incident)
    # As above: the rows' facts only, no row read in full again.
    assert len(queries) == 7, "\n".join(queries)
    # The first read renders them: the log, the audit trail, the notices and their
    # deliveries read in full.
    assert len(first) == 7 + 4


def test_a_list_that_grows_is_read_again(clock, signed_in, lead, owner, tester, manager):
    incident = in_progress_incident(lead=lead, owner=owner)
    client = signed_in(manager)
    body, _queries = read(client, incident)
    assert "External contacts" not in body
    assert "Connection pool exhausted." not in body

    perform(Action.GRADE, incident=incident, actor=lead)
    ExternalContact.objects.create(
        incident=incident, name="Dell support", owes="a new disk", added_at=wall.now()
    )
    services.incident_assign(incident=incident, actor=lead, owner=lead)
    body, _queries = read(client, incident)
    assert "Connection pool exhausted." in body
    assert "Dell support" in body
    assert "Assignment history" in body

    resolved = resolved_incident(lead=lead, owner=owner, tester=tester)
    body, _queries = read(client, resolved)
    assert "Connection pool size raised and alerting added." in body  # the resolution
    assert "Verification passed" in body
    perform(Action.NOTIFY_USERS, incident=resolved, actor=lead)
    perform(Action.FEEDBACK, incident=resolved, actor=lead)
    body, _queries = read(client, resolved)
    assert "Checkout works again." in body
    assert "Users confirm." in body

    archived = archived_incident(lead=lead, owner=owner, tester=tester)
    complete_postmortem(archived, lead=lead, owner=owner)
    body, _queries = read(client, archived)
    assert 'id="postmortem-summary"' in body


def test_a_failed_delivery_shows_at_once(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    delivery = _notice(incident, owner)
    client = signed_in(lead)
    body, _queries = read(client, incident)
    assert "could not be delivered" not in body

    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED, attempts=3, last_error="SMTP 550 mailbox full"
    )
    body, _queries = read(client, incident)
    assert "1 escalation notice could not be delivered." in body
    assert "SMTP 550 mailbox full" in body
    assert "(3 attempts)" in body


def test_its_rows_show_a_new_entry_and_a_new_name_at_once(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    client = signed_in(lead)
    read(client, incident)

    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.PROGRESS, text="Pool drained."
    )
    owner.first_name, owner.last_name = "Wang", "Fang"
    owner.save()
    body, _queries = read(client, incident)
    assert "Pool drained." in body
    log = body.split('id="h-log"')[1].split("</ol>")[0]
    assert log.count("Wang Fang") == 2  # the new entry and the one before


def test_a_row_that_changed_between_its_two_reads_is_shown_not_kept(clock, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    entry = incident.log_entries.get()
    read_first = views._facts_of(entry, views.ROW_FACTS["log"])
    entry.text = "Written meanwhile."
    loads = []

    def load(pks):
        loads.append(pks)
        return {entry.pk: (entry, views._facts_of(entry, views.ROW_FACTS["log"]))}

    for _ in range(2):
        assert "Written meanwhile." in views._rows_html("log", [read_first], load)
    assert len(loads) == 2  # not kept under the facts it no longer has

    read_now = views._facts_of(entry, views.ROW_FACTS["log"])
    for _ in range(2):
        assert "Written meanwhile." in views._rows_html("log", [read_now], load)
    assert len(loads) == 3


def test_it_shows_the_newest_notices_with_their_deliveries(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    for cycle in range(views.WORKSPACE_NEWEST["notices"]):
        _notice(incident, owner, cycle=cycle)
    Notice.objects.create(
        incident=incident,
        clock=Clock.RESPOND,
        cycle=2,
        level=2,
        deadline=wall.now(),
        due_at=wall.now(),
        created_at=wall.now() + timedelta(seconds=1),
        recipients=[],
    )
    client = signed_in(lead)
    body, _queries = read(client, incident)
    notices = body.split('id="h-notices"')[1].split("</section>")[0]
    assert 'id="older-notices"' in notices  # 21 notices, the newest 20 shown
    assert notices.count('<li class="border-bottom py-1">') == 20
    assert notices.count("no recipients") == 1  # the newest one
    assert notices.count("email →") == 19


def _printed(client, incident, **headers) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{url(incident)}print/", headers=headers)
        assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in captured.captured_queries]


def _section(body: str, heading: str) -> str:
    return body.split(f"{heading}</h2>")[1].split("</table>")[0]


def test_the_print_form_draws_its_rows_once_and_never_stale(clock, signed_in, lead, owner):
    incident = in_progress_incident(lead=lead, owner=owner)
    _notice(incident, owner)
    client = signed_in(lead)
    body, first = _printed(client, incident)
    assert "Rolled the gateway back" in _section(body, "4. Process log")
    assert "Progress update" in _section(body, "Escalation notices")
    _body, queries = _printed(client, incident)
    # Session, user; the incident with the sizes of its lists; the log's and the
    # notices' facts; its level's windows. No audit trail, no deliveries: the
    # paper form prints neither.
    assert len(queries) == 6, "\n".join(queries)
    read_rows = ('"incidents_timelineevent"."id"', '"escalation_delivery"."id"')
    assert not any(columns in q for q in queries for columns in read_rows)
    assert len(first) == 6 + 2  # the first read drew the log and the notices

    services.incident_log(
        incident=incident, actor=owner, kind=LogEntry.Kind.PROGRESS, text="Pool drained."
    )
    owner.first_name, owner.last_name = "Wang", "Fang"
    owner.save()
    body, _queries = _printed(client, incident)
    log = _section(body, "4. Process log")
    assert "Pool drained." in log
    assert log.count("Wang Fang") == 2  # the new entry and the one before

    chinese, _queries = _printed(client, incident, accept_language="zh-hans")
    # The same rows in the other language: drawn again, not the English ones.
    assert "进展更新" in _section(chinese, "4. 处理过程记录")
    assert "进展更新" in _section(chinese, "升级通知")
    assert "Progress update" not in chinese
