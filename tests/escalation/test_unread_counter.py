"""escalation.unread: each user's unread in-app notices kept as a number, equal to
counting their rows after every kind of write."""

import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from escalation import selectors, unread
from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery, Notice, UnreadCounter
from escalation.notices import write_deliveries
from tests.conftest import NOW
from tests.dumps import export, import_text
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def counted(user) -> int:
    return Delivery.objects.filter(user=user, channel="inapp", read_at__isnull=True).count()


def kept(user) -> int:
    row = UnreadCounter.objects.filter(user=user).first()
    return 0 if row is None else row.count


def escalate(clock, onduty, n=1, minutes=5):
    """n P0 incidents filed now, their respond deadline swept `minutes` later: the
    team's tech lead gets one in-app notice each."""
    for _ in range(n):
        IncidentFactory(actor=onduty, severity="P0")
    clock.shift(timedelta(minutes=minutes))
    sweep_due_deadlines()


def test_it_equals_the_count_after_deliveries_reads_and_mark_all_read(client, clock, onduty, lead):
    client.force_login(lead)
    escalate(clock, onduty, n=3)
    assert kept(lead) == counted(lead) == 3

    first = Delivery.objects.filter(user=lead, channel="inapp").order_by("id").first()
    client.post("/notifications/read/", {"delivery": first.pk})
    assert kept(lead) == counted(lead) == 2

    escalate(clock, onduty, n=2)  # and the first three reach their next level
    assert kept(lead) == counted(lead) > 2

    client.post("/notifications/read/")
    assert kept(lead) == counted(lead) == 0

    escalate(clock, onduty, n=1)
    unread_now = counted(lead)
    assert kept(lead) == unread_now > 0
    assert f'id="unread-notices">{unread_now}<' in client.get("/notifications/").content.decode()


def test_it_counts_a_notice_marked_read_twice_once(clock, onduty, lead):
    escalate(clock, onduty, n=2)
    first = Delivery.objects.filter(user=lead, channel="inapp").order_by("id").first()

    assert unread.mark_read(user=lead, now=NOW, delivery_id=first.pk) == 1
    assert unread.mark_read(user=lead, now=NOW, delivery_id=first.pk) == 0

    assert kept(lead) == counted(lead) == 1


def test_it_leaves_the_counter_of_someone_marking_another_users_notice(
    client, clock, onduty, lead, engineer
):
    escalate(clock, onduty)
    delivery = Delivery.objects.get(user=lead, channel="inapp")
    client.force_login(engineer)

    client.post("/notifications/read/", {"delivery": delivery.pk})

    assert kept(lead) == counted(lead) == 1
    assert kept(engineer) == counted(engineer) == 0


def test_it_never_goes_below_zero_and_recounts_a_drifted_counter(clock, onduty, lead):
    escalate(clock, onduty, n=2)
    UnreadCounter.objects.filter(user=lead).update(count=0)  # drifted: written behind its back

    unread.mark_read(user=lead, now=NOW, delivery_id=Delivery.objects.filter(user=lead).first().pk)

    assert kept(lead) == counted(lead) == 1


def test_it_forgets_unread_deliveries_deleted_with_their_notice(clock, onduty, lead):
    escalate(clock, onduty, n=2)

    Notice.objects.filter(deliveries__user=lead).first().delete()

    assert kept(lead) == counted(lead) == 1


def test_it_keeps_no_counter_for_a_deleted_user(clock, onduty, lead):
    escalate(clock, onduty)

    lead.delete()

    assert not UnreadCounter.objects.exists()


def test_it_adds_each_users_own_number_in_one_batch(clock, lead, engineer):
    notices = [_notice(i, [lead.username, engineer.username]) for i in range(2)]
    notices.append(_notice(2, [lead.username]))

    write_deliveries(notices, NOW)

    assert kept(lead) == counted(lead) == 3
    assert kept(engineer) == counted(engineer) == 2


def _notice(cycle, recipients):
    return Notice.objects.create(
        incident=IncidentFactory(),
        clock="update",
        cycle=cycle,
        level=1,
        deadline=NOW,
        due_at=NOW,
        created_at=NOW,
        recipients=recipients,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_and_a_reader_leave_it_equal_to_the_count(lead, engineer):
    notices = [_notice(i, [lead.username, engineer.username]) for i in range(6)]
    barrier = threading.Barrier(3)

    def run(work):
        try:
            barrier.wait()
            work()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(lambda: write_deliveries(notices[:3], NOW),)),
        threading.Thread(target=run, args=(lambda: write_deliveries(notices[3:], NOW),)),
        threading.Thread(target=run, args=(lambda: unread.mark_read(user=lead, now=NOW),)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert kept(lead) == counted(lead)
    assert kept(engineer) == counted(engineer) == 6


def test_it_counts_the_deliveries_of_an_imported_incident(clock, onduty, lead, tmp_path):
    escalate(clock, onduty)
    dump = json.loads(export())
    [written] = dump["incidents"]
    written["number"] = "INC-20000101-0001"  # a new incident, so it is read

    import_text(json.dumps(dump), tmp_path)

    assert kept(lead) == counted(lead) == 2


def test_it_rebuilds_every_counter_from_the_deliveries(clock, onduty, lead, engineer):
    escalate(clock, onduty, n=2)
    UnreadCounter.objects.filter(user=lead).update(count=7)
    UnreadCounter.objects.create(user=engineer, count=3)
    out = io.StringIO()

    call_command("rebuild_unread_counters", stdout=out)

    assert kept(lead) == counted(lead) == 2
    assert not UnreadCounter.objects.filter(user=engineer).exists()
    assert "1 user has some" in out.getvalue()


def test_the_selector_reads_the_counter_not_the_rows(
    clock, onduty, lead, django_assert_num_queries
):
    escalate(clock, onduty, n=2)
    UnreadCounter.objects.filter(user=lead).update(count=5)
    with django_assert_num_queries(1):  # the counter by its key
        assert selectors.unread_count(user=lead) == 5
