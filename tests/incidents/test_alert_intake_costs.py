"""What keeps the intake fast under load: the rate limit is one statement, the
integration's row is written at most once a minute, and on PostgreSQL deliveries
wait only for deliveries of their own groups (advisory locks per group)."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from incidents import alerts
from incidents.models import Alert, AlertIntegration, AlertRateWindow, Incident
from tests.incidents.alert_helpers import am, firing, integration, receive

pytestmark = pytest.mark.django_db


def statements(queries) -> list[str]:
    """The SQL statements run, without the transaction's own (BEGIN, SAVEPOINT…)."""
    skip = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK", "SET LOCAL")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(skip)]


def test_it_counts_a_request_in_one_statement(clock, platform):
    source = integration(platform)
    alerts.check_rate(source)  # the minute's window exists

    with CaptureQueriesContext(connection) as queries:
        alerts.check_rate(source)

    [sql] = statements(queries)
    assert sql.startswith('INSERT INTO "incidents_alertratewindow"')
    assert "RETURNING" in sql
    assert AlertRateWindow.objects.get(integration=source).count == 2


def test_it_refuses_the_request_past_the_limit_and_counts_again_next_minute(clock, platform):
    source = integration(platform)
    AlertIntegration.objects.filter(pk=source.pk).update(rate_limit_per_minute=2)
    source.refresh_from_db()
    alerts.check_rate(source)
    alerts.check_rate(source)

    with pytest.raises(alerts.RateLimited):
        alerts.check_rate(source)
    clock.shift(timedelta(minutes=1))
    alerts.check_rate(source)

    assert sorted(AlertRateWindow.objects.values_list("count", flat=True)) == [1, 3]


def test_it_prunes_the_windows_older_than_an_hour_when_a_minute_begins(clock, platform):
    source = integration(platform)
    alerts.check_rate(source)
    clock.shift(timedelta(minutes=61))
    alerts.check_rate(source)  # a new minute: the first window is over an hour old

    assert AlertRateWindow.objects.filter(integration=source).count() == 1


def test_it_does_not_prune_on_every_request(clock, platform):
    source = integration(platform)
    alerts.check_rate(source)

    with CaptureQueriesContext(connection) as queries:
        alerts.check_rate(source)

    assert not [sql for sql in statements(queries) if sql.startswith("DELETE")]


def test_it_writes_last_used_at_at_most_once_a_minute(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))
    first = AlertIntegration.objects.get(pk=source.pk).last_used_at

    clock.shift(timedelta(seconds=59))
    receive(source, am("Db", firing("b")))
    assert AlertIntegration.objects.get(pk=source.pk).last_used_at == first

    clock.shift(timedelta(seconds=1))
    receive(source, am("Db", firing("c")))
    assert AlertIntegration.objects.get(pk=source.pk).last_used_at == first + timedelta(minutes=1)


def test_it_does_not_write_the_integration_row_within_the_minute(clock, platform):
    source = integration(platform)
    receive(source, am("Db", firing("a")))
    clock.shift(timedelta(seconds=30))

    with CaptureQueriesContext(connection) as queries:
        receive(source, am("Db", firing("b")))

    assert not [
        sql for sql in statements(queries) if sql.startswith('UPDATE "incidents_alertintegration"')
    ]


def test_it_reads_each_delivery_group_once_for_all_its_groups(clock, platform):
    source = integration(platform, group_by=["service"])
    body = am("Db", firing("a", "b"))
    body["alerts"][0]["labels"]["service"] = "db"
    body["alerts"][1]["labels"]["service"] = "web"
    receive(source, body)

    with CaptureQueriesContext(connection) as queries:
        receive(source, body)

    grouped = [sql for sql in statements(queries) if 'COUNT("incidents_alert"' in sql]
    assert len(grouped) == 1
    assert Incident.objects.count() == 2


@transaction.atomic
def receive_waiting_at_most(source, body, timeout: str):
    """A delivery that fails (OperationalError) rather than wait `timeout` for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")
    return receive(source, body)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_other_groups_through_while_a_group_is_locked(platform):
    """PostgreSQL: a delivery holding group Db does not stop one of group Web; a
    second delivery of Db waits for it (here: fails its lock timeout)."""
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite runs one writer at a time")
    source = integration(platform)
    # Both incidents filed first: filing takes the day's number row, whose lock
    # serialises every filing whatever its group.
    receive(source, am("Db", firing("a")))
    receive(source, am("Web", firing("w")))
    locked, release, failures = threading.Event(), threading.Event(), []

    def hold_db():
        try:
            with transaction.atomic():
                receive(source, am("Db", firing("b")))
                locked.set()
                release.wait(timeout=30)
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            locked.set()
            connection.close()

    holder = threading.Thread(target=hold_db)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        receive_waiting_at_most(source, am("Web", firing("x")), "2s")  # not blocked by Db
        with pytest.raises(OperationalError):
            receive_waiting_at_most(source, am("Db", firing("b")), "200ms")
    finally:
        release.set()
        holder.join()
    receive(source, am("Db", firing("b")))  # a repeat once the holder committed

    assert failures == []
    assert Incident.objects.count() == 2
    assert Alert.objects.get(fingerprint="b").events == 1
    assert Alert.objects.filter(fingerprint="x").count() == 1


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (12, ["Not a valid string."]),
        (None, ["This field may not be null."]),
        ("x" * 2001, ["Ensure this field has no more than 2000 characters."]),
        ("a\u0000b", ["Null characters are not allowed.", "Null characters are not allowed."]),
        ("\ud800", ["Surrogate characters are not allowed: U+D800."]),
    ],
)
def test_it_answers_each_bad_label_value_with_its_field_errors(clock, platform, value, errors):
    from rest_framework.test import APIClient

    source = integration(platform)
    body = am("Db", firing("a"))
    body["alerts"][0]["labels"]["bad"] = value

    response = APIClient().post(
        f"/api/v1/alerts/{source.token}/", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["alerts"] == {"0": {"labels": {"bad": errors}}}


def test_it_trims_label_values_and_keeps_blank_ones(clock, platform):
    source = integration(platform)
    body = am("Db", firing("a"))
    body["alerts"][0]["labels"] |= {"pad": "  v  ", "blank": "   ", "long": " " + "x" * 2000}

    receive(source, body)

    labels = Alert.objects.get().labels
    assert (labels["pad"], labels["blank"], labels["long"]) == ("v", "", "x" * 2000)
