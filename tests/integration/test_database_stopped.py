"""The database stops under a running gunicorn: friendly 503s, nothing half
written, and service resumes by itself when the database is back.

gunicorn (the Procfile's web command) reaches PostgreSQL through a TCP relay
that this test owns. Stopping the relay drops every open connection and
refuses new ones, which is what the web process sees when the database server
stops; starting it again on the same port is the server coming back.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import override_settings
from rest_framework.authtoken.models import Token

from incidents import alerts
from incidents.models import Alert, Incident

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
WEB_SECRET_KEY = "integration-test-secret-" + "x" * 40

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Relay:
    """A TCP relay to the database server that can be stopped and started."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.links: list[socket.socket] = []
        self.listener = None
        self.start()

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            server = socket.create_connection(self.target)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def stop(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would
        # leave the port listening until that call returned.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for link in self.links:
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()
        self.links.clear()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer here (e.g. to the sign-in page), not a detour


OPENER = urllib.request.build_opener(NoRedirects)


def call(url, *, method="GET", body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def web(tmp_path):
    """gunicorn on the test database, through a relay the test can stop."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite has no server to stop: this runs in CI's PostgreSQL pass; on SQLite "
            "tests/common/test_database_down.py makes the database file unreachable instead"
        )
    db = connection.settings_dict
    relay = Relay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{relay.port}/{db['NAME']}",
        "RESPONDER_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": WEB_SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": settings.REDIS_URL,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log = open(tmp_path / "web.log", "w")  # noqa: SIM115 (kept for the process)
    process = subprocess.Popen(
        [GUNICORN, "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            call(f"{base}/healthz")
            break
        except OSError:
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield base, relay
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    relay.stop()
    log.close()


def session_cookie(user) -> str:
    """A signed-in session as the web process will read it (signed with its key)."""
    with override_settings(SECRET_KEY=WEB_SECRET_KEY):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "config.auth.RequestUserBackend"  # as a sign-in records it
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


INTAKE = json.dumps(
    {
        "title": "Checkout returns 502",
        "symptoms": "A third of checkout requests fail.",
        "severity": "P1",
        "source": "monitoring",
        "impact_scope": "Checkout",
        "affected_users": 100,
    }
).encode()


def test_it_answers_503_while_the_database_is_stopped_and_recovers(web, onduty, platform):
    base, relay = web
    api = {"Authorization": f"Token {Token.objects.create(user=onduty).key}"}
    json_api = {**api, "Content-Type": "application/json"}
    browser = {"Cookie": session_cookie(onduty), "Accept-Language": "en"}
    _integration, alert_token = alerts.integration_create(name="prometheus", team=platform)
    assert call(f"{base}/api/v1/incidents/", headers=api)[0] == 200  # a pooled connection

    relay.stop()

    status, headers, body = call(f"{base}/dashboard/", headers=browser)
    assert status == 503, body
    assert headers["Retry-After"] == "30"
    assert "Responder is briefly unavailable" in body
    for method, path, payload, sent in (
        ("GET", "/api/v1/incidents/", None, api),
        ("POST", "/api/v1/incidents/", INTAKE, json_api),
        ("POST", f"/api/v1/alerts/{alert_token}/", b'{"alerts": []}', json_api),
    ):
        status, headers, body = call(f"{base}{path}", method=method, body=payload, headers=sent)
        assert status == 503, (path, body)
        assert json.loads(body)["code"] == "unavailable"
        assert headers["Retry-After"] == "30"

    relay.start()

    assert Incident.objects.count() == 0
    assert Alert.objects.count() == 0
    assert call(f"{base}/incidents/new/", headers=browser)[0] == 200
    status, _headers, body = call(
        f"{base}/api/v1/incidents/", method="POST", body=INTAKE, headers=json_api
    )
    assert status == 201, body
    assert Incident.objects.count() == 1
