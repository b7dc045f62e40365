"""Public updates to the subscribers: the fan-out, sending with retries, the robots'
signatures and limits, the signed webhook, the resolved mail's feedback link and
the sweep that hands lost work to the worker again."""

import hashlib
import hmac
import json
import urllib.parse
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail

from escalation import tasks
from escalation.channels import dingtalk_sign, feishu_sign, take_slot
from escalation.status import messages, services
from escalation.status.models import FeedbackRequest, PublicUpdate, StatusMessage, Subscriber
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def subscriber(address, *, kind=Subscriber.Kind.EMAIL, components=(), confirmed=True, **kw):
    found = Subscriber.objects.create(
        kind=kind,
        address=address,
        created_at=NOW,
        confirmed_at=NOW if confirmed else None,
        **kw,
    )
    found.components.set(components)
    return found


def first_update(incident) -> PublicUpdate:
    return PublicUpdate.objects.filter(publication__incident=incident).earliest("posted_at")


def send_all(ids):
    for pk in ids:
        tasks.status_send(pk)


class Robot:
    """urllib.request.urlopen, answering `answer` and recording each request."""

    def __init__(self, answer=None, error=None):
        self.requests = []
        self.answer = answer or {"errcode": 0}
        self.error = error

    def __call__(self, request, timeout=None):
        self.requests.append(request)
        if self.error:
            raise self.error
        response = mock.MagicMock()
        response.__enter__.return_value.read.return_value = json.dumps(self.answer).encode()
        return response

    def body(self, n=-1):
        return json.loads(self.requests[n].data)


@pytest.fixture
def robot():
    fake = Robot()
    with mock.patch("urllib.request.urlopen", fake):
        yield fake


# ---------------------------------------------------------------- fan-out


def test_it_writes_one_message_to_each_subscriber_of_the_components_once(
    clock, published, website, api_component
):
    everything = subscriber("all@example.com")
    of_website = subscriber("web@example.com", components=[website, api_component])
    subscriber("api@example.com", components=[api_component])
    subscriber("unconfirmed@example.com", confirmed=False)
    hook = subscriber("https://hooks.example.com/x", kind=Subscriber.Kind.WEBHOOK)
    update = first_update(published)

    ids = messages.fan_out(update.pk)

    written = StatusMessage.objects.filter(update=update)
    assert sorted(m.subscriber_id for m in written) == sorted(
        [everything.pk, of_website.pk, hook.pk]
    )
    assert sorted(ids) == sorted(m.pk for m in written)
    assert all(m.status == "pending" and m.kind == "update" for m in written)
    update.refresh_from_db()
    assert update.fanned_out_at == NOW
    assert messages.fan_out(update.pk) == []  # twice: nothing more
    assert written.count() == 3


def test_it_fans_out_in_a_constant_number_of_queries(
    clock, published, website, django_assert_num_queries
):
    for n in range(20):
        subscriber(f"reader{n}@example.com", components=[website] if n % 2 else [])
    update = first_update(published)

    # lock the update, its subscribers, one insert, mark it done, the ids (+ savepoint)
    with django_assert_num_queries(7):
        ids = messages.fan_out(update.pk)

    assert len(ids) == 20


def test_it_hands_the_messages_to_the_worker_on_commit(
    clock, published, django_capture_on_commit_callbacks
):
    subscriber("reader@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.status_fan_out(first_update(published).pk)

    [sent] = mail.outbox
    assert sent.to == ["reader@example.com"]
    assert StatusMessage.objects.get().status == "sent"


def test_it_says_only_the_public_words(clock, published, django_capture_on_commit_callbacks):
    reader = subscriber("reader@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.status_fan_out(first_update(published).pk)

    [sent] = mail.outbox
    assert sent.subject == "[Investigating] Checkout is slow"
    assert "We are looking into slow checkouts." in sent.body
    assert "Partial outage" in sent.body
    assert "Website" in sent.body
    assert "2026-11-26 10:00 (UTC+08:00)" in sent.body  # the site's zone, with its offset
    assert "http://localhost:8000/status/" in sent.body
    for internal in (published.title, published.number, "lead", "owner", "Platform"):
        assert internal not in sent.body
        assert internal not in sent.subject
    assert reader.address not in sent.body


def test_it_writes_in_the_subscribers_language(clock, published, lead):
    subscriber("leser@example.com", language="en")
    subscriber("reader@example.com", language="zh-hans")
    resolved = services.incident_public_update(
        incident=published, actor=lead, status="resolved", message="Fixed."
    )

    send_all(messages.fan_out(resolved.pk))

    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects == {
        "leser@example.com": "[Resolved] Checkout is slow",
        "reader@example.com": "[已解决] Checkout is slow",
    }


# ---------------------------------------------------------------- retries


def test_it_retries_a_failing_message_then_marks_it_failed(clock, published, robot):
    robot.error = OSError("connection refused")
    subscriber("https://hooks.example.com/x", kind=Subscriber.Kind.WEBHOOK)
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)

    message = StatusMessage.objects.get()
    assert message.status == "pending"
    assert message.attempts == 1
    assert "connection refused" in message.last_error
    assert message.next_attempt_at == NOW + timedelta(seconds=5)
    for _attempt in range(2, tasks.MAX_ATTEMPTS + 1):
        clock.shift(timedelta(minutes=10))
        tasks.status_send(pk)
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.attempts == tasks.MAX_ATTEMPTS
    assert message.next_attempt_at is None
    assert "OSError: connection refused" in message.last_error
    tasks.status_send(pk)  # given up: left alone
    assert len(robot.requests) == tasks.MAX_ATTEMPTS


def test_it_queues_the_retry_with_its_backoff(
    clock, published, robot, django_capture_on_commit_callbacks
):
    robot.error = OSError("down")
    subscriber("https://hooks.example.com/x", kind=Subscriber.Kind.WEBHOOK)
    [pk] = messages.fan_out(first_update(published).pk)

    with (
        mock.patch("escalation.jobs.send_status_messages") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.status_send(pk)

    queued.assert_called_once_with([pk], countdown=5)


def test_it_sends_a_sent_message_only_once(clock, published):
    subscriber("reader@example.com")
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)
    tasks.status_send(pk)

    assert len(mail.outbox) == 1


# ---------------------------------------------------------------- robots and webhooks


def test_it_signs_the_dingtalk_robot(clock, published, robot):
    subscriber(
        "https://oapi.dingtalk.com/robot/send?access_token=t",
        kind=Subscriber.Kind.DINGTALK,
        secret="SEC123",
    )
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(robot.requests[0].full_url).query)
    timestamp = int(query["timestamp"][0])
    assert urllib.parse.quote_plus(query["sign"][0]) == dingtalk_sign("SEC123", timestamp)
    text = robot.body()["text"]["content"]
    assert "Checkout is slow" in text
    assert published.title not in text
    assert "unsubscribe" not in text.lower()  # robots are removed in the admin
    assert StatusMessage.objects.get().status == "sent"


def test_it_signs_the_feishu_bot(clock, published, robot):
    robot.answer = {"code": 0}
    subscriber("https://open.feishu.cn/hook/x", kind=Subscriber.Kind.FEISHU, secret="S")
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)

    body = robot.body()
    assert body["sign"] == feishu_sign("S", int(body["timestamp"]))
    assert "Checkout is slow" in body["content"]["text"]


def test_it_records_a_robots_error_code(clock, published, robot):
    robot.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    subscriber("https://qyapi.weixin.qq.com/hook", kind=Subscriber.Kind.WECOM)
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)

    message = StatusMessage.objects.get()
    assert message.status == "pending"
    assert "93000" in message.last_error


def test_it_holds_a_robots_message_to_next_minute_without_an_attempt(clock, published, robot):
    url = "https://qyapi.weixin.qq.com/hook"
    subscriber(url, kind=Subscriber.Kind.WECOM)
    [pk] = messages.fan_out(first_update(published).pk)
    for _ in range(20):  # the notices filled this robot's minute
        assert take_slot(address=url, limit=20, now=NOW)

    tasks.status_send(pk)

    message = StatusMessage.objects.get()
    assert robot.requests == []
    assert message.status == "pending"
    assert message.attempts == 0
    assert message.next_attempt_at == NOW + timedelta(minutes=1)
    clock.shift(timedelta(minutes=1))
    tasks.status_send(pk)
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.attempts == 1


def test_it_signs_the_generic_webhook_verifiably(clock, published, robot):
    subscriber("https://hooks.example.com/x", kind=Subscriber.Kind.WEBHOOK, secret="s3cret")
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)

    request = robot.requests[0]
    headers = {k.lower(): v for k, v in request.header_items()}
    timestamp = headers["x-responder-timestamp"]
    assert int(timestamp) == int(NOW.timestamp())
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + request.data, hashlib.sha256)
    assert headers["x-responder-signature"] == f"sha256={expected.hexdigest()}"
    body = json.loads(request.data)
    assert body["event"] == "status.update"
    assert body["publication"]["title"] == "Checkout is slow"
    assert body["publication"]["components"] == [{"slug": "website", "name": "Website"}]
    assert body["update"]["status"] == "investigating"
    assert body["url"] == "http://localhost:8000/status/"
    assert body["publication"]["id"] == published.publication.pk  # never the incident's
    assert "incident" not in body
    assert "incident" not in body["publication"]
    raw = request.data.decode()
    for internal in (published.title, published.number, "lead", "Platform"):
        assert internal not in raw


def test_it_sends_an_unsigned_webhook_without_a_secret(clock, published, robot):
    subscriber("https://hooks.example.com/x", kind=Subscriber.Kind.WEBHOOK)
    [pk] = messages.fan_out(first_update(published).pk)

    tasks.status_send(pk)

    headers = {k.lower() for k, _ in robot.requests[0].header_items()}
    assert "x-responder-signature" not in headers


# ---------------------------------------------------------------- resolved: feedback


def test_it_asks_for_feedback_in_the_resolved_mail_only(clock, published, lead, robot):
    reader = subscriber("reader@example.com")
    subscriber("https://hooks.example.com/x", kind=Subscriber.Kind.WEBHOOK)
    clock.shift(timedelta(hours=1))
    resolved = services.incident_public_update(
        incident=published, actor=lead, status="resolved", message="Fixed: checkouts are fast."
    )
    send_all(messages.fan_out(first_update(published).pk) + messages.fan_out(resolved.pk))

    first, last = mail.outbox
    request = FeedbackRequest.objects.get()
    assert (request.incident, request.subscriber) == (published, reader)
    assert f"http://localhost:8000/status/feedback/{request.token}/" in last.body
    assert last.subject == "[Resolved] Checkout is slow"
    assert "/status/feedback/" not in first.body
    assert "/status/feedback/" not in robot.requests[-1].data.decode()


# ---------------------------------------------------------------- the sweep


def test_it_hands_a_forgotten_update_to_the_worker_again(
    clock, published, django_capture_on_commit_callbacks
):
    subscriber("reader@example.com")
    update = first_update(published)  # its fan-out job was lost with the broker

    assert messages.sweep().updates == []  # not yet: its job may still be on its way
    clock.shift(timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep_status()

    update.refresh_from_db()
    assert update.fanned_out_at == NOW + timedelta(seconds=61)
    assert len(mail.outbox) == 1
    assert messages.sweep().updates == []


def test_it_requeues_a_stalled_message(clock, published, django_capture_on_commit_callbacks):
    subscriber("reader@example.com")
    [pk] = messages.fan_out(first_update(published).pk)  # its send job was lost

    assert messages.sweep().messages == []
    clock.shift(timedelta(seconds=61))
    with (
        mock.patch("escalation.jobs.send_status_messages") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = messages.sweep()

    assert result.messages == [pk]
    queued.assert_called_once_with([pk])
    assert StatusMessage.objects.get().next_attempt_at == NOW + timedelta(seconds=61)
    assert messages.sweep().messages == []  # handed on now: not again at once


def test_it_leaves_sent_and_failed_messages_to_the_sweep(clock, published):
    subscriber("reader@example.com")
    [pk] = messages.fan_out(first_update(published).pk)
    tasks.status_send(pk)
    clock.shift(timedelta(hours=1))

    assert messages.sweep().messages == []


# ---------------------------------------------------------------- the admin


@pytest.fixture
def admin_client(client, admin):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    return client


def test_it_lets_an_administrator_add_a_robot_confirmed_at_once(
    clock, admin_client, admin, website
):
    response = admin_client.post(
        "/admin/escalation/subscriber/add/",
        {
            "kind": "dingtalk",
            "address": "https://oapi.dingtalk.com/robot/send?access_token=t",
            "secret": "SEC",
            "components": [website.pk],
            "language": "zh-hans",
        },
    )

    assert response.status_code == 302
    robot = Subscriber.objects.get()
    assert (robot.kind, robot.confirmed_at, robot.created_by) == ("dingtalk", NOW, admin)
    assert list(robot.components.all()) == [website]


@pytest.mark.parametrize(
    ("kind", "address"),
    [("email", "someone@example.com"), ("webhook", "file:///etc/passwd")],
)
def test_it_refuses_an_email_or_a_non_http_robot_in_the_admin(clock, admin_client, kind, address):
    response = admin_client.post(
        "/admin/escalation/subscriber/add/",
        {"kind": kind, "address": address, "secret": "", "language": "en"},
    )

    assert response.status_code == 200  # the form again, with its error
    assert not Subscriber.objects.exists()


def test_it_shows_email_subscribers_to_the_administrator_read_only(clock, admin_client):
    reader = subscriber("reader@example.com")

    page = admin_client.get(f"/admin/escalation/subscriber/{reader.pk}/change/")

    assert page.status_code == 200
    assert 'name="address"' not in page.content.decode()
    assert admin_client.get("/admin/escalation/statusmessage/").status_code == 200
