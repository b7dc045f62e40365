"""The escalation engine on the real stack: a Celery worker and beat as subprocesses.

Runs against the test database (SQLite file or PostgreSQL) and the configured
broker (Redis when REDIS_URL is set, else the filesystem transport in a
temporary folder). A webhook receiver in this test plays the team's chat.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from escalation.models import Delivery, Heartbeat, Notice, TeamChannel
from incidents import services

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
SWEEP_SECONDS = 1

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


class Receiver:
    """A webhook endpoint that records each request as it arrives; optionally slow."""

    def __init__(self):
        self.requests: list[dict] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                receiver.requests.append(json.loads(self.rfile.read(length)))
                time.sleep(receiver.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the worker was killed mid-request

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_incident(self, incident) -> list[dict]:
        return [r for r in self.requests if r["incident"]["id"] == incident.pk]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Stack:
    """A worker and a beat, each in its own process group so they can be killed whole."""

    def __init__(self, var_dir: Path):
        self.var_dir = var_dir
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "RESPONDER_VAR_DIR": str(var_dir),
            "ESCALATION_SWEEP_SECONDS": str(SWEEP_SECONDS),
            "HEARTBEAT_SECONDS": "1",
            "DELIVERY_STALL_SECONDS": "3",
            "EMAIL_URL": "consolemail://",
            "LOG_LEVEL": "INFO",
        }
        if settings.REDIS_URL:
            self.env["REDIS_URL"] = settings.REDIS_URL
            subprocess.run(
                [CELERY, "-A", "config", "purge", "-f", "-Q", "celery,escalation,deliveries"],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )
        else:
            self.env.pop("REDIS_URL", None)
        self.worker = self.start(
            "worker", "-Q", "celery,escalation,deliveries", "--concurrency", "1"
        )
        self.beat = self.start("beat")

    def start(self, *args):
        log = open(self.var_dir / f"{args[0]}.log", "a")  # noqa: SIM115 (kept for the process)
        return subprocess.Popen(
            [CELERY, "-A", "config", *args, "--loglevel", "INFO"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def logs(self) -> str:
        return "\n".join(
            f"---- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.var_dir.glob("*.log"))
        )

    def kill_worker(self):
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def restart_worker(self):
        self.worker = self.start(
            "worker", "-Q", "celery,escalation,deliveries", "--concurrency", "1"
        )

    def stop(self):
        for process in (self.worker, self.beat):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def overdue_p0(reporter, minutes_ago=10):
    return services.incident_create(
        actor=reporter,
        title="订单服务 500",
        symptoms="HTTP 500",
        severity="P0",
        source="monitoring",
        impact_scope="ordering",
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_it_escalates_through_a_real_worker_and_beat(tmp_path, onduty, lead, platform):
    receiver = Receiver()
    TeamChannel.objects.create(team=platform, kind="webhook", name="ops", url=receiver.url)
    stack = Stack(tmp_path)
    try:
        wait_for(lambda: Heartbeat.objects.filter(name="sweep").exists(), 60, "the first sweep")

        # A P0 received 10 minutes ago: its 5-minute respond deadline has passed.
        incident = overdue_p0(onduty)
        filed = time.monotonic()
        wait_for(lambda: receiver.for_incident(incident), SWEEP_SECONDS + 5, "the respond notice")
        latency = time.monotonic() - filed
        [sent] = receiver.for_incident(incident)
        assert sent["notice"]["clock"] == "respond"
        assert sent["notice"]["recipients"] == ["lead"]
        assert latency <= SWEEP_SECONDS + 5

        time.sleep(4 * SWEEP_SECONDS)  # more sweeps: nothing more to send
        assert Notice.objects.filter(incident=incident).count() == 1
        assert len(receiver.for_incident(incident)) == 1

        # The worker dies (SIGKILL) in the middle of a slow delivery.
        receiver.delay = 4
        second = overdue_p0(onduty)
        wait_for(lambda: receiver.for_incident(second), SWEEP_SECONDS + 5, "the slow delivery")
        stack.kill_worker()
        receiver.delay = 0
        stack.restart_worker()
        delivery = Delivery.objects.get(notice__incident=second, channel="webhook")
        wait_for(
            lambda: Delivery.objects.get(pk=delivery.pk).status == "sent",
            30,
            "the delivery to complete after the restart",
        )
        assert Notice.objects.filter(incident=second).count() == 1
        assert Delivery.objects.filter(notice__incident=second, channel="webhook").count() == 1
    except AssertionError:
        print(stack.logs())
        print(list(Notice.objects.values()), list(Delivery.objects.values()))
        raise
    finally:
        stack.stop()
        receiver.close()
