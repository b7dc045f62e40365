"""Two sweeps at once over the same due deadlines write exactly one notice per key."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from escalation.engine import sweep_due_deadlines
from escalation.models import Deadline, Notice
from tests.factories import IncidentFactory


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_splits_500_due_deadlines_between_two_sweeps_without_duplicates(onduty, lead):
    for _ in range(500):
        IncidentFactory(actor=onduty, severity="P0")
    # Make every respond deadline due now.
    past = timezone.now() - timedelta(minutes=1)
    Deadline.objects.filter(clock="respond").update(due_at=past, next_at=past)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(sweep_due_deadlines(limit=1000))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 2
    assert sum(len(r.notices) for r in results) == 500
    assert Notice.objects.filter(clock="respond", level=1).count() == 500
    keys = Notice.objects.values_list("incident_id", "clock", "cycle", "level")
    assert len(set(keys)) == len(keys)
