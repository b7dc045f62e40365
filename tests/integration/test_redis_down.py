"""Redis down on the real stack: web (gunicorn), worker and beat against a private Redis.

The Redis server is this test's own (a free port, no persistence), so stopping it
touches nobody else's. While it is down the API still files incidents and the
escalation work waits in the database; once it is back on the same port, the
worker and beat reconnect by themselves, the sweep writes the missed notices and
their deliveries reach the team's webhook.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from escalation.models import Delivery, Heartbeat, Notice, TeamChannel
from tests.integration.test_escalation_stack import ROOT, SWEEP_SECONDS, Receiver, Stack, wait_for

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not settings.REDIS_URL,
        reason="REDIS_URL is not set: the Redis-down test runs with the PostgreSQL + Redis suite",
    ),
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="redis-server is not on PATH (apt-get install redis-server)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on `port`: no snapshots, no append-only file."""

    def __init__(self, port: int, log: Path):
        self.port = port
        self.log = log
        self.process = None

    def start(self):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.answers, 10, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_web(stack: Stack, port: int) -> subprocess.Popen:
    log = open(stack.var_dir / "web.log", "a")  # noqa: SIM115 (kept for the process)
    return subprocess.Popen(
        [GUNICORN, "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--timeout", "60"],
        cwd=ROOT,
        env=stack.env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def call(url: str, *, token: str | None = None, body: dict | None = None):
    """(status, JSON body) of a GET, or of a POST when `body` is given."""
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"}
        | ({"Authorization": f"Token {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def web_answers(base: str) -> bool:
    try:
        return call(f"{base}/healthz")[0] in (200, 503)
    except OSError:
        return False


def sweeps() -> int:
    return Heartbeat.objects.get(name="sweep").count


def test_it_keeps_filing_and_catches_up_when_redis_returns(
    tmp_path, settings, onduty, lead, platform
):
    redis = RedisServer(free_port(), tmp_path / "redis.log")
    redis.start()
    settings.REDIS_URL = f"redis://127.0.0.1:{redis.port}/0"  # what Stack hands its processes
    receiver = Receiver()
    TeamChannel.objects.create(team=platform, kind="webhook", name="ops", url=receiver.url)
    token = Token.objects.create(user=onduty).key
    stack = web = None
    try:
        stack = Stack(tmp_path)
        web_port = free_port()
        web = start_web(stack, web_port)
        base = f"http://127.0.0.1:{web_port}"
        wait_for(lambda: web_answers(base), 60, "gunicorn to answer")
        wait_for(lambda: Heartbeat.objects.filter(name="sweep").exists(), 60, "the first sweep")

        redis.stop()
        time.sleep(2 * SWEEP_SECONDS)  # a sweep already handed to the worker finishes
        swept = sweeps()

        # An urgent P0, received 12 minutes ago: it pages at once, its 5-minute
        # respond deadline has passed and so has the ladder's level 2 (5 minutes
        # after it). Filing it tries to queue a sweep.
        started = time.monotonic()
        status, body = call(
            f"{base}/api/v1/incidents/",
            token=token,
            body={
                "title": "订单服务 500",
                "symptoms": "HTTP 500 on every order",
                "severity": "P0",
                "source": "monitoring",
                "impact_scope": "ordering",
                "affected_users": 5000,
                "urgent": True,
                "phone_call_to": "lead",
                "received_at": (timezone.now() - timedelta(minutes=12)).isoformat(),
            },
        )
        took = time.monotonic() - started
        assert status == 201, body
        assert took < 5, f"intake took {took:.1f} s with Redis down"  # minutes if it hung
        incident_id = body["id"]

        # The web and the API keep answering; /healthz reads only the database.
        assert call(f"{base}/api/v1/incidents/{incident_id}/", token=token)[0] == 200
        status, listing = call(f"{base}/api/v1/incidents/?severity=P0", token=token)
        assert status == 200
        assert incident_id in [row["id"] for row in listing["results"]]
        assert web_answers(base)

        time.sleep(3 * SWEEP_SECONDS)  # several beat intervals: nothing can sweep
        assert sweeps() == swept
        assert not Notice.objects.filter(incident_id=incident_id).exists()

        redis.start()  # back on the same port, empty: the tasks beat tried to queue are gone
        back = time.monotonic()

        def delivered():
            rows = Delivery.objects.filter(notice__incident_id=incident_id, channel="webhook")
            return len(rows) == 2 and all(row.status == "sent" for row in rows)

        wait_for(delivered, 90, "the missed notices' webhook deliveries to be sent")
        recovered = time.monotonic() - back
        notices = Notice.objects.filter(incident_id=incident_id)
        # The respond clock's level 2 fell due 2 minutes before filing: one notice at
        # that level, late. The page fell due at filing, only seconds ago (the outage
        # was shorter than the late grace). No roster: both went to the tech leads.
        assert sorted((n.clock, n.level, n.late) for n in notices) == [
            ("page", 1, False),
            ("respond", 2, True),
        ]
        assert all(n.recipients == ["lead"] for n in notices)
        assert sorted(r["notice"]["clock"] for r in receiver.requests) == ["page", "respond"]

        time.sleep(3 * SWEEP_SECONDS)  # more sweeps: nothing more to send
        assert notices.count() == 2
        assert len(receiver.requests) == 2
        print(f"intake with Redis down: {took:.2f} s; notices delivered {recovered:.1f} s after")
    except AssertionError:
        if stack:
            print(stack.logs())
        print(list(Notice.objects.values()), list(Delivery.objects.values()))
        raise
    finally:
        if web and web.poll() is None:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait(timeout=10)
        if stack:
            stack.stop()
        redis.stop()
        receiver.close()
