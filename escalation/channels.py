"""Notification channels: one small class per way of reaching people.

Each channel turns a rendered notice into one HTTP request or email and
raises on any failure (the deliver task records it and retries). Robot
channels post to a team's group chat; their URL and secret come from the
team's configuration in the admin.
"""

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import urllib.request

from django.core.mail import send_mail

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
