"""Every page's query count is fixed: the same at 5 rows as at 50 (STYLE.md #7).

The dashboard, my work, the archive, the metrics and the exports have theirs
beside their other tests; here: the workspace and its print view (log entries,
notices and their deliveries), the archive's text filter and the search page.
On failure the queries are printed.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import clock as wall
from escalation.models import Clock, Delivery, Notice
from incidents import services
from incidents.models import LogEntry
from tests.factories import archived_incident, in_progress_incident

pytestmark = pytest.mark.django_db


def queries(client, path) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
        assert response.status_code == 200, path
    return [q["sql"] for q in captured.captured_queries]


def assert_same(five: list[str], fifty: list[str]) -> None:
    assert len(fifty) == len(five), "\n".join(fifty)


def _grow(incident, *, owner, lead, start: int, n: int) -> None:
    """n more log entries (each an audit event), and n notices with two deliveries each."""
    for i in range(start, start + n):
        services.incident_log(
            incident=incident, actor=owner, kind=LogEntry.Kind.PROGRESS, text=f"step {i}"
        )
    now = wall.now()
    notices = Notice.objects.bulk_create(
        Notice(
            incident=incident,
            clock=Clock.UPDATE,
            cycle=i,
            level=1,
            deadline=now - timedelta(minutes=i),
            due_at=now - timedelta(minutes=i),
            created_at=now,
            recipients=[owner.username],
        )
        for i in range(start, start + n)
    )
    Delivery.objects.bulk_create(
        Delivery(notice=notice, channel=channel, user=user, status=Delivery.Status.SENT)
        for notice in notices
        for channel, user in (("email", owner), ("inapp", lead))
    )


@pytest.mark.parametrize("path", ["/incidents/{pk}/", "/incidents/{pk}/print/"])
@pytest.mark.parametrize("viewer", ["lead", "owner", "manager"])
def test_the_workspace_and_print_view_do_not_grow_with_the_record(
    request, clock, signed_in, lead, owner, viewer, path
):
    incident = in_progress_incident(lead=lead, owner=owner)
    client = signed_in(request.getfixturevalue(viewer))
    _grow(incident, owner=owner, lead=lead, start=0, n=5)
    five = queries(client, path.format(pk=incident.pk))
    _grow(incident, owner=owner, lead=lead, start=5, n=45)
    fifty = queries(client, path.format(pk=incident.pk))
    assert incident.log_entries.count() == 51  # the factory's first entry, then 50
    assert_same(five, fifty)


def _archived(lead, owner, n, title):
    for _ in range(n):
        archived_incident(lead=lead, owner=owner, title=title)


@pytest.mark.parametrize(
    "path",
    ["/archive/?q=连接池", "/archive/?q=pool&severity=P2", "/knowledge/?q=连接池耗尽"],
)
def test_the_archive_filter_and_the_search_page_do_not_grow_with_matches(
    clock, signed_in, lead, owner, manager, path
):
    title = "数据库连接池耗尽导致超时 / pool exhausted"
    client = signed_in(manager)
    _archived(lead, owner, 5, title)
    five = queries(client, path)
    _archived(lead, owner, 45, title)
    fifty = queries(client, path)
    assert_same(five, fifty)
