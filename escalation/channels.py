"""Notification channels: one small class per way of reaching people.

Each channel turns a rendered notice into one HTTP request or email and
raises on any failure (the deliver task records it and retries). Robot
channels post to a team's group chat; their URL and secret come from the
team's configuration in the admin.

Chat robots take a limited number of messages a minute (WeCom and DingTalk: 20,
Feishu: 100, per robot): `take_slot` counts them per robot and minute in the
database, so several workers together stay under the limit. A delivery over it
is held and goes out in the robot's next digest (escalation.engine forms it,
escalation.tasks sends it).
"""

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F

from escalation.models import RobotSlot

TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    pass


def _post_json(url: str, payload: dict) -> dict:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"not an http(s) URL: {url[:80]}")
    data = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    # The scheme is checked above: no file:// or custom handlers.
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310
        body = response.read(65536)
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {}


class Channel:
    name = ""

    def send(self, *, address: str, secret: str, subject: str, body: str, payload: dict) -> None:
        raise NotImplementedError


class EmailChannel(Channel):
    name = "email"

    def send(self, *, address, secret, subject, body, payload):
        send_mail(subject, body, None, [address], fail_silently=False)


class WebhookChannel(Channel):
    """Generic JSON: the notice and its incident as data, for scripts and bridges."""

    name = "webhook"

    def send(self, *, address, secret, subject, body, payload):
        _post_json(address, {"subject": subject, "text": body, **payload})


class SlackChannel(Channel):
    """Slack incoming webhooks (and compatible: Mattermost, Rocket.Chat)."""

    name = "slack"

    def send(self, *, address, secret, subject, body, payload):
        _post_json(address, {"text": f"*{slack_escape(subject)}*\n{slack_escape(body)}"})


def slack_escape(text: str) -> str:
    """User text as Slack shows it literally: Slack reads <!channel>, <@U…> and
    <url|label> in message text, and wants &, < and > escaped to show them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class WeComChannel(Channel):
    """WeCom (企业微信) group robot: errcode 0 means delivered."""

    name = "wecom"

    def send(self, *, address, secret, subject, body, payload):
        answer = _post_json(address, {"msgtype": "text", "text": {"content": f"{subject}\n{body}"}})
        if answer.get("errcode", 0) != 0:
            raise DeliveryError(f"WeCom: {answer.get('errcode')} {answer.get('errmsg', '')}")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature: base64(HMAC-SHA256(secret, "timestamp\\nsecret")), URL-quoted."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


class DingTalkChannel(Channel):
    """DingTalk (钉钉) robot with 加签: timestamp and sign in the URL."""

    name = "dingtalk"

    def send(self, *, address, secret, subject, body, payload):
        url = address
        if secret:
            timestamp = int(time.time() * 1000)
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
        answer = _post_json(url, {"msgtype": "text", "text": {"content": f"{subject}\n{body}"}})
        if answer.get("errcode", 0) != 0:
            raise DeliveryError(f"DingTalk: {answer.get('errcode')} {answer.get('errmsg', '')}")


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu bot signature: base64(HMAC-SHA256(key="timestamp\\nsecret", msg=""))."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# Feishu text messages turn <at user_id="all"></at> into a mention of everyone; a
# zero-width space after "<" keeps an incident title from pinging the group.
FEISHU_AT = re.compile(r"<(?=\s*at\b)", re.IGNORECASE)


class FeishuChannel(Channel):
    """Feishu / Lark (飞书) custom bot with signature verification."""

    name = "feishu"

    def send(self, *, address, secret, subject, body, payload):
        text = FEISHU_AT.sub("<\u200b", f"{subject}\n{body}")
        message = {"msg_type": "text", "content": {"text": text}}
        if secret:
            timestamp = int(time.time())
            message = {
                "timestamp": str(timestamp),
                "sign": feishu_sign(secret, timestamp),
            } | message
        answer = _post_json(address, message)
        code = answer.get("code", answer.get("StatusCode", 0))
        if code not in (0, None):
            raise DeliveryError(f"Feishu: {code} {answer.get('msg', '')}")


CHANNELS = {
    c.name: c()
    for c in (
        EmailChannel,
        WebhookChannel,
        SlackChannel,
        WeComChannel,
        DingTalkChannel,
        FeishuChannel,
    )
}
TEAM_CHANNELS = ["webhook", "slack", "wecom", "dingtalk", "feishu"]


# Room for a digest's text in one message, in UTF-8 bytes: WeCom's text content
# takes 2048; DingTalk's and Feishu's requests allow about 20 KB (margin kept).
DIGEST_BYTES = {"wecom": 2048, "dingtalk": 15000, "feishu": 18000}
# A robot's counts are kept this long, then pruned by the sweep.
SLOT_KEEP = timedelta(minutes=10)


def robot_limit(channel: str) -> int | None:
    """Messages a minute one robot of `channel` accepts; None: not a limited robot."""
    limits = {
        "wecom": settings.WECOM_MESSAGES_PER_MINUTE,
        "dingtalk": settings.DINGTALK_MESSAGES_PER_MINUTE,
        "feishu": settings.FEISHU_MESSAGES_PER_MINUTE,
    }
    return limits.get(channel)


def robot_key(address: str) -> str:
    """One robot, whichever team's channel names it: the hash of its webhook URL."""
    return hashlib.sha256(address.encode()).hexdigest()


def minute_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def next_minute(now: datetime) -> datetime:
    return minute_of(now) + timedelta(minutes=1)


def take_slot(*, address: str, limit: int, now: datetime, spare: int = 0) -> bool:
    """Count one message to the robot at `address` in the minute of `now`; False
    (and nothing counted) when `limit - spare` were sent already. The row is created
    once (unique per robot and minute) and claimed by a conditional UPDATE, so two
    workers can never both take the last slot. `spare` keeps slots back (for a
    digest that is waiting)."""
    robot, minute = robot_key(address), minute_of(now)
    RobotSlot.objects.bulk_create(
        [RobotSlot(robot=robot, minute=minute, sent=0)], ignore_conflicts=True
    )
    claimed = RobotSlot.objects.filter(
        robot=robot, minute=minute, sent__lt=max(0, limit - spare)
    ).update(sent=F("sent") + 1)
    return claimed == 1


def prune_slots(now: datetime) -> int:
    """Forget the counts of minutes long past."""
    deleted, _ = RobotSlot.objects.filter(minute__lt=minute_of(now) - SLOT_KEEP).delete()
    return deleted
