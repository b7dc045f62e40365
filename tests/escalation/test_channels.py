"""Each channel, against a real HTTP receiver on 127.0.0.1; signatures per the vendors' docs."""

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from escalation import channels
from escalation.engine import sweep_due_deadlines
from escalation.models import Delivery, TeamChannel
from escalation.tasks import deliver
from tests.conftest import NOW
from tests.factories import IncidentFactory


class Receiver:
    """A tiny HTTP server recording what it is sent and answering a canned JSON."""

    def __init__(self, answer=None, status=200):
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                receiver.requests.append(
                    {"path": self.path, "body": json.loads(self.rfile.read(length))}
                )
                data = json.dumps(answer or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def send(kind, url, secret=""):
    channels.CHANNELS[kind].send(
        address=url, secret=secret, subject="INC-1 P0", body="overdue", payload={"k": 1}
    )


def test_it_posts_the_generic_json_webhook():
    with Receiver() as r:
        send("webhook", r.url)
    assert r.requests[0]["body"] == {"subject": "INC-1 P0", "text": "overdue", "k": 1}


def test_it_posts_a_slack_message():
    with Receiver() as r:
        send("slack", r.url)
    assert r.requests[0]["body"] == {"text": "*INC-1 P0*\noverdue"}


def test_it_posts_a_wecom_text():
    with Receiver({"errcode": 0, "errmsg": "ok"}) as r:
        send("wecom", r.url)
    assert r.requests[0]["body"] == {"msgtype": "text", "text": {"content": "INC-1 P0\noverdue"}}


def test_it_raises_when_wecom_answers_an_error_code():
    with (
        Receiver({"errcode": 93000, "errmsg": "invalid webhook url"}) as r,
        pytest.raises(channels.DeliveryError, match="93000"),
    ):
        send("wecom", r.url)


def test_it_signs_dingtalk_as_documented():
    # DingTalk's published recipe: string_to_sign = timestamp + "\n" + secret;
    # sign = urlencode(base64(HmacSHA256(key=secret, msg=string_to_sign))).
    secret = "SEC000000000000000000000"
    with Receiver({"errcode": 0}) as r:
        send("dingtalk", r.url + "?access_token=abc", secret)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.requests[0]["path"]).query)
    timestamp = query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["access_token"] == ["abc"]
    assert query["sign"] == [expected]  # parse_qs undoes the URL encoding
    assert r.requests[0]["body"]["msgtype"] == "text"


def test_it_signs_feishu_as_documented():
    # Feishu's published recipe: string_to_sign = timestamp + "\n" + secret;
    # sign = base64(HmacSHA256(key=string_to_sign, msg="")).
    secret = "feishu-secret"
    with Receiver({"code": 0, "msg": "success"}) as r:
        send("feishu", r.url, secret)
    body = r.requests[0]["body"]
    key = f"{body['timestamp']}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "text"
    assert body["content"]["text"] == "INC-1 P0\noverdue"


def test_it_raises_when_feishu_refuses():
    with (
        Receiver({"code": 19021, "msg": "sign match fail"}) as r,
        pytest.raises(channels.DeliveryError, match="19021"),
    ):
        send("feishu", r.url, "s")


@pytest.mark.django_db
def test_it_delivers_a_notice_to_the_teams_webhook_through_the_worker(
    clock, onduty, lead, platform
):
    with Receiver() as r:
        TeamChannel.objects.create(team=platform, kind="webhook", name="ops", url=r.url)
        incident = IncidentFactory(actor=onduty, severity="P0")
        clock.move_to(NOW + timedelta(minutes=5))
        sweep_due_deadlines()
        delivery = Delivery.objects.get(channel="webhook")
        deliver(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "sent"
    sent = r.requests[0]["body"]
    assert sent["incident"]["number"] == incident.number
    assert sent["notice"]["clock"] == "respond"
    assert sent["notice"]["recipients"] == ["lead"]
    assert f"/incidents/{incident.pk}/" in sent["incident"]["url"]


@pytest.mark.django_db
def test_it_retries_a_failing_webhook_and_records_the_error(clock, onduty, lead, platform):
    with Receiver(status=500) as r:
        TeamChannel.objects.create(team=platform, kind="slack", name="ops", url=r.url)
        IncidentFactory(actor=onduty, severity="P0")
        clock.move_to(NOW + timedelta(minutes=5))
        sweep_due_deadlines()
        delivery = Delivery.objects.get(channel="slack")
        deliver(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert "500" in delivery.last_error
    assert delivery.next_attempt_at == NOW + timedelta(minutes=5, seconds=5)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/hook", "gopher://x"])
def test_it_refuses_urls_that_are_not_http(url):
    with pytest.raises(channels.DeliveryError):
        send("webhook", url)
