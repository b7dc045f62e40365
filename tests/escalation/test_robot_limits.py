"""Chat robots' limits: WeCom and DingTalk take 20 messages a minute, Feishu 100.

Over the limit a delivery is held, neither sent nor failed; the next minute one
digest lists every held notice. The robots are real HTTP receivers on 127.0.0.1
(the transport boundary, as in test_channels), the clock is frozen.
"""

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connection

from escalation import tasks
from escalation.channels import take_slot
from escalation.engine import form_digests, sweep_due_deadlines
from escalation.models import Clock, Delivery, Notice, RobotSlot, TeamChannel
from escalation.notices import write_deliveries
from incidents.models import Incident
from tests.conftest import NOW
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

NUMBER = re.compile(r"INC-\d{8}-\d{4,}")
MORE = re.compile(r"…and (\d+) more\.")
OK = {"wecom": {"errcode": 0}, "dingtalk": {"errcode": 0}, "feishu": {"code": 0}}


class Robot:
    """A chat robot's webhook: records each message, answers `self.answer`."""

    def __init__(self, kind):
        self.kind = kind
        self.answer = OK.get(kind, {})
        self.messages = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                robot.messages.append(body)
                data = json.dumps(robot.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?key={kind}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def texts(self, messages=None):
        out = []
        for body in self.messages if messages is None else messages:
            if self.kind == "feishu":
                out.append(body["content"]["text"])
            elif self.kind in ("wecom", "dingtalk"):
                out.append(body["text"]["content"])
            else:
                out.append(json.dumps(body, ensure_ascii=False))
        return out


@pytest.fixture
def robots():
    started = []

    def start(kind):
        robot = Robot(kind)
        started.append(robot)
        return robot

    yield start
    for robot in started:
        robot.close()


def channel(team, robot, name=None, secret=""):
    return TeamChannel.objects.create(
        team=team, kind=robot.kind, name=name or robot.kind, url=robot.url, secret=secret
    )


def incidents(reporter, n, base=10000):
    """`n` incidents of the reporter's team with distinct numbers (one filed through
    the services, the rest copied from it: 500 filings would be slow)."""
    first = IncidentFactory(actor=reporter, severity="P1")
    copies = []
    for i in range(1, n):
        copy = Incident.objects.get(pk=first.pk)
        copy.pk = None
        copy.number = f"INC-20261126-{base + i:05d}"
        copy.title = f"Disk full on node {i}"
        copies.append(copy)
    Incident.objects.bulk_create(copies)
    return [first, *copies]


def notices(rows, recipients=()):
    """One respond notice per incident, written now, to `recipients` and the team's channels."""
    wanted = [
        Notice(
            incident=incident,
            clock=Clock.RESPOND,
            level=1,
            deadline=NOW,
            due_at=NOW,
            created_at=NOW,
            recipients=list(recipients),
        )
        for incident in rows
    ]
    Notice.objects.bulk_create(wanted)
    return write_deliveries(wanted, NOW)


def deliver_all(clock, ids, step=0.1):
    """The worker sends each delivery, `step` seconds apart."""
    for pk in ids:
        clock.shift(timedelta(seconds=step))
        tasks.deliver(pk)


def next_minute_digests(clock, minute=1):
    """A sweep in the next minute forms the digests, and the worker sends them."""
    clock.move_to(NOW + timedelta(minutes=minute, seconds=5))
    result = sweep_due_deadlines()
    for pk in result.digests:
        tasks.deliver(pk)
    return result.digests


def split(texts):
    """(numbers in single messages, numbers listed in digests, count of "…and N more")."""
    single, listed, more = [], [], 0
    for text in texts:
        if "held back by this chat's message limit" in text:
            listed += re.findall(r"^- (INC-\d{8}-\d+) ", text, re.M)
            found = MORE.search(text)
            more += int(found.group(1)) if found else 0
        else:
            single += sorted(set(NUMBER.findall(text)))
    return single, listed, more


@pytest.mark.parametrize(
    ("kind", "limit", "secret"),
    [("wecom", 20, ""), ("dingtalk", 20, "SEC-dingtalk"), ("feishu", 100, "feishu-secret")],
)
def test_it_sends_500_notices_in_a_minute_as_the_limit_and_one_digest(
    clock, robots, onduty, platform, kind, limit, secret
):
    robot = robots(kind)
    channel(platform, robot, secret=secret)
    rows = incidents(onduty, 500)
    ids = notices(rows)
    assert len(ids) == 500

    deliver_all(clock, ids)  # 50 s: all within the first minute

    assert len(robot.messages) == limit
    held = Delivery.objects.filter(status=Delivery.Status.HELD)
    assert held.count() == 500 - limit
    assert not Delivery.objects.filter(status=Delivery.Status.FAILED).exists()
    assert sweep_due_deadlines().digests == []  # still the same minute: nothing more

    digests = next_minute_digests(clock)

    assert len(digests) == 1
    assert len(robot.messages) == limit + 1
    single, listed, more = split(robot.texts())
    everyone = {i.number for i in rows}
    assert len(single) == limit
    assert not set(single) & set(listed)
    assert len(set(single + listed)) == len(single) + len(listed)
    assert set(single) | set(listed) <= everyone
    assert len(single) + len(listed) + more == 500
    assert listed  # the digest names what fits, and counts the rest
    # Every notice is sent: alone (its number in its own message) or in the digest.
    sent = Delivery.objects.filter(channel=kind).select_related("notice__incident")
    assert all(d.status == Delivery.Status.SENT for d in sent)
    alone = {d.notice.incident.number for d in sent if d.digest_id is None}
    in_digest = [d for d in sent if d.digest_id == digests[0]]
    assert alone == set(single)
    assert len(in_digest) == 500 - limit == len(listed) + more
    assert set(listed) <= {d.notice.incident.number for d in in_digest}


def test_it_keeps_a_digest_within_one_wecom_message(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    deliver_all(clock, notices(incidents(onduty, 100)))
    next_minute_digests(clock)

    digest = robot.texts()[-1]
    assert len(digest.encode()) <= 2048
    assert digest.startswith("[Responder] 80 notices held back by this chat's message limit")
    assert "takes 20 messages a minute" in digest


def test_it_lists_a_short_digest_whole(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    rows = incidents(onduty, 23)
    deliver_all(clock, notices(rows))
    next_minute_digests(clock)

    single, listed, more = split(robot.texts())
    assert more == 0
    assert sorted(single + listed) == sorted(i.number for i in rows)
    assert "…and" not in robot.texts()[-1]


def test_it_counts_two_robots_separately(clock, robots, onduty, platform):
    first, second = robots("wecom"), robots("wecom")
    channel(platform, first, name="ops")
    channel(platform, second, name="sre")

    deliver_all(clock, notices(incidents(onduty, 30)))

    assert len(first.messages) == 20
    assert len(second.messages) == 20
    assert Delivery.objects.filter(status=Delivery.Status.HELD).count() == 20

    next_minute_digests(clock)

    assert len(first.messages) == len(second.messages) == 21
    assert RobotSlot.objects.filter(sent=20).count() == 2


def test_it_counts_one_robot_named_by_two_teams_together(
    clock, robots, onduty, pay_engineer, platform, payments
):
    robot = robots("dingtalk")
    channel(platform, robot, name="ops")
    channel(payments, robot, name="pay-ops")
    ids = notices(incidents(onduty, 15)) + notices(incidents(pay_engineer, 6, base=20000))

    deliver_all(clock, ids)

    assert len(robot.messages) == 20
    assert Delivery.objects.filter(status=Delivery.Status.HELD).count() == 1
    assert RobotSlot.objects.get().sent == 20


@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_it_does_not_limit_webhooks_slack_or_email(
    clock, robots, onduty, lead, platform, mailoutbox, kind
):
    robot = robots(kind)
    channel(platform, robot)
    ids = notices(incidents(onduty, 40), recipients=["lead"])

    deliver_all(clock, ids)

    assert len(robot.messages) == 40
    assert len(mailoutbox) == 40
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert not RobotSlot.objects.exists()


def test_it_sends_the_digest_after_a_worker_restart(
    clock, robots, onduty, platform, django_capture_on_commit_callbacks
):
    robot = robots("wecom")
    channel(platform, robot)
    deliver_all(clock, notices(incidents(onduty, 25)))
    assert Delivery.objects.filter(status=Delivery.Status.HELD).count() == 5

    # A new worker and beat: nothing in memory, only the rows. No new notice comes;
    # beat's sweep (the task, eager here) finds the held rows and sends the digest.
    clock.move_to(NOW + timedelta(minutes=1, seconds=10))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()

    assert len(robot.messages) == 21
    assert robot.texts()[-1].startswith("[Responder] 5 notices held back")
    assert not Delivery.objects.exclude(status=Delivery.Status.SENT).exists()


def test_it_retries_a_failed_digest_without_losing_what_it_carries(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    deliver_all(clock, notices(incidents(onduty, 25)))
    robot.answer = {"errcode": 45009, "errmsg": "api freq out of limit"}

    [digest] = next_minute_digests(clock)

    carrier = Delivery.objects.get(pk=digest)
    assert carrier.status == Delivery.Status.PENDING
    assert carrier.attempts == 1
    assert "45009" in carrier.last_error
    assert carrier.next_attempt_at == NOW + timedelta(minutes=1, seconds=10)  # 5 s backoff
    carried = Delivery.objects.filter(digest_id=digest).exclude(pk=digest)
    assert carried.count() == 4
    assert all(d.status == Delivery.Status.HELD for d in carried)
    assert form_digests(now=NOW + timedelta(minutes=1, seconds=6)) == []  # not twice

    robot.answer = {"errcode": 0}
    clock.shift(timedelta(seconds=5))
    tasks.deliver(digest)

    assert len(robot.messages) == 22  # 20, the failed digest, the digest again
    assert Delivery.objects.filter(digest_id=digest, status=Delivery.Status.SENT).count() == 5
    assert not Delivery.objects.exclude(status=Delivery.Status.SENT).exists()


def test_it_fails_a_digest_and_what_it_carries_after_the_last_attempt(
    clock, robots, onduty, platform
):
    robot = robots("wecom")
    channel(platform, robot)
    deliver_all(clock, notices(incidents(onduty, 22)))
    robot.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    [digest] = next_minute_digests(clock)

    for minute in range(2, 2 + tasks.MAX_ATTEMPTS):
        clock.move_to(NOW + timedelta(minutes=minute))
        tasks.deliver(digest)

    failed = Delivery.objects.filter(digest_id=digest)
    assert failed.count() == 2
    assert all(d.status == Delivery.Status.FAILED for d in failed)
    assert all("93000" in d.last_error for d in failed)


def test_it_holds_a_digest_until_the_robot_has_room(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    deliver_all(clock, notices(incidents(onduty, 21)))
    clock.move_to(NOW + timedelta(minutes=1, seconds=5))
    [digest] = form_digests(now=NOW + timedelta(minutes=1, seconds=5))
    for _ in range(20):  # another worker filled this minute
        assert take_slot(address=robot.url, limit=20, now=NOW + timedelta(minutes=1))

    tasks.deliver(digest)

    assert len(robot.messages) == 20
    assert Delivery.objects.get(pk=digest).status == Delivery.Status.HELD
    assert Delivery.objects.get(pk=digest).digest_id is None

    next_minute_digests(clock, minute=2)
    assert len(robot.messages) == 21
    assert "1 notice held back" in robot.texts()[-1]


def test_it_keeps_a_slot_for_the_waiting_digest(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    rows = incidents(onduty, 60)
    deliver_all(clock, notices(rows[:30]))  # 20 sent, 10 held
    clock.move_to(NOW + timedelta(minutes=1))

    deliver_all(clock, notices(rows[30:]))  # held ones wait: 19 for new notices

    assert len(robot.messages) == 20 + 19
    next_minute_digests(clock)
    assert len(robot.messages) == 20 + 20
    assert "10 notices held back" in robot.texts()[-1]


def test_it_never_gives_two_workers_the_last_slot(db):
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"
    assert all(take_slot(address=url, limit=20, now=NOW) for _ in range(19))

    first = take_slot(address=url, limit=20, now=NOW)
    second = take_slot(address=url, limit=20, now=NOW)

    assert (first, second) == (True, False)
    assert RobotSlot.objects.get().sent == 20
    assert take_slot(address=url, limit=20, now=NOW + timedelta(minutes=1))


def test_it_sends_a_delivery_once_when_two_workers_run_it(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    [pk] = notices(incidents(onduty, 1))

    tasks.deliver(pk)
    tasks.deliver(pk)

    assert len(robot.messages) == 1
    assert RobotSlot.objects.get().sent == 1


def test_it_forms_one_digest_when_two_sweeps_run(clock, robots, onduty, platform):
    robot = robots("wecom")
    channel(platform, robot)
    deliver_all(clock, notices(incidents(onduty, 30)))
    later = NOW + timedelta(minutes=1, seconds=1)

    first, second = form_digests(now=later), form_digests(now=later)

    assert len(first) == 1
    assert second == []
    assert Delivery.objects.filter(digest_id=first[0]).count() == 10


def test_it_prunes_old_counts(clock, db):
    take_slot(address="https://example.com/a", limit=20, now=NOW)
    clock.move_to(NOW + timedelta(minutes=30))
    take_slot(address="https://example.com/a", limit=20, now=NOW + timedelta(minutes=30))

    sweep_due_deadlines()

    assert list(RobotSlot.objects.values_list("minute", flat=True)) == [NOW + timedelta(minutes=30)]


def test_it_shows_held_and_digested_deliveries_in_the_workspace(
    client, clock, robots, onduty, lead, platform
):
    robot = robots("wecom")
    channel(platform, robot)
    rows = incidents(onduty, 21)
    deliver_all(clock, notices(rows))
    client.force_login(lead)
    last = Delivery.objects.get(status=Delivery.Status.HELD).notice.incident

    page = client.get(f"/incidents/{last.pk}/").content.decode()
    assert "Held: robot limit, goes out in the next digest" in page

    next_minute_digests(clock)
    page = client.get(f"/incidents/{last.pk}/").content.decode()
    assert "Sent (carries the digest of this chat's held notices)" in page


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_gives_four_workers_at_once_no_more_than_the_limit():
    url = "https://oapi.dingtalk.com/robot/send?access_token=x"
    barrier = threading.Barrier(4)
    taken = []

    def worker():
        try:
            barrier.wait()
            taken.extend(take_slot(address=url, limit=20, now=NOW) for _ in range(10))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(taken) == 40
    assert taken.count(True) == 20
    assert RobotSlot.objects.get().sent == 20
