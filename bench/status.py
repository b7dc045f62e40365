"""Status page benchmark: /status/ and /status/index.json at 4 clients, next to a floor.

    make bench            # or: .venv/bin/python bench/status.py [--requests 2000]

Loads into BENCH_STATUS_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/responder_bench_status) once, through the
services: the demo (`seed_demo`: its users, three components of platform, one
published incident, one public window ahead), two components of payments, 50
incidents published over the last 90 days with their public updates (three
still open, the rest resolved), and public maintenance windows (four past, one
ahead, one weekly). Each run makes afresh a public window running now and one
more published incident, the one it posts its public updates to, so reruns
measure alike (the 90 days move on: drop the database now and then to load it
anew). Then it starts gunicorn (4 sync workers, production settings: DEBUG
off, the per-process cache) and times, at `--concurrency` (4) clients on
keep-alive connections, in interleaved rounds alternating Chinese and English
(Accept-Language):

- floor:  GET /api/v1/ping/ (token auth and a minimal view: the server's floor)
- page:   GET /status/, its cache warm
- json:   GET /status/index.json, its cache warm
- page after publish, json after publish: a public update is posted (the
  page's version changes, so every worker's cached copy is stale), then each
  client sends one request at once: most of these miss the cache and build
  the page (the cold cost). Requests/s of those waves, p50/p95 of their
  requests.

Also prints the SQL queries of one request after a publish and one warm
(Django's test client on the same database) and the bytes sent. Target:
/status/ warm at least 0.5x the floor's requests/s. Exit status 1 if missed,
or if any answer was not 200.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import PY, ROOT, bench_env, gunicorn, manage, percentile
from pages import sizes, timed

TARGET = 0.5  # x the floor's requests/s at the same concurrency
TITLE = "bench status"  # the internal titles of the bench's incidents start so
PUBLISHED = 50
OPEN = 3
LANGUAGES = ("zh-hans", "en")
RUNNING_WINDOW = "正在维护 / Maintenance in progress"
PATHS = {"page": "/status/", "json": "/status/index.json"}


# ---------------------------------------------------------------- inside Django


def _inside_prepare() -> dict:
    """The bench's components, publications and windows (once), the incident this
    run posts its updates to (published afresh), and a token for the floor."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from common import clock
    from escalation.status import services as status_services
    from escalation.status.models import Component, Impact, Publication, PublicStatus
    from incidents import services
    from incidents.maintenance import services as maintenance
    from incidents.models import Incident, MaintenanceWindow, Service, Severity, Source, Team

    users = get_user_model().objects
    admin = users.get(username="admin")
    teams = {t.slug: t for t in Team.objects.all()}

    def incident(title: str, team: Team) -> Incident:
        return services.incident_create(
            actor=admin,
            title=title,
            symptoms="内部症状，不公开 / internal symptoms, never public",
            severity=Severity.P2,
            source=Source.MONITORING,
            impact_scope="内部 / internal",
            affected_users=100,
            team=team,
        )

    if not Incident.objects.filter(title__startswith=f"{TITLE} ").exists():
        with transaction.atomic():
            for slug, name, service in [
                ("payments", "支付 / Payments", "payment-gateway"),
                ("settlement", "结算 / Settlement", "settlement"),
            ]:
                status_services.component_create(
                    actor=admin,
                    slug=slug,
                    name=name,
                    team=teams["payments"],
                    order=10,
                    services=Service.objects.filter(slug=service),
                )
            components = list(Component.objects.select_related("team"))
            now = clock.now()
            steps = [
                (PublicStatus.IDENTIFIED, 25),
                (PublicStatus.MONITORING, 70),
                (PublicStatus.RESOLVED, 130),
            ]
            impacts = list(Impact.values)
            for n in range(PUBLISHED):
                component = components[n % len(components)]
                # Open ones began hours ago; the rest spread over the 90-day bar.
                began = now - (
                    timedelta(hours=2 + n) if n < OPEN else timedelta(days=1 + n * 1.75, hours=n)
                )
                with clock.frozen(began):
                    filed = incident(f"{TITLE} {n}: 内部标题 / internal title", component.team)
                    status_services.incident_publish(
                        incident=filed,
                        actor=admin,
                        components=[component],
                        impact=impacts[n % 3],
                        public_title=f"公开标题 {n} / Public title {n}",
                        message="我们正在排查。/ We are looking into it.",
                    )
                for status, minutes in steps[: 1 if n < OPEN else 3]:
                    with clock.frozen(began + timedelta(minutes=minutes + n)):
                        status_services.incident_public_update(
                            incident=filed,
                            actor=admin,
                            status=status,
                            message=f"{status.label} — 公开的话 / public words ({n})",
                        )
            day = timedelta(days=1)
            windows = [
                *[(now - day * d, timedelta(hours=2), "") for d in (10, 30, 50, 70)],
                (now + day * 3, timedelta(hours=3), ""),
                (now + day, None, "FREQ=WEEKLY"),
            ]
            for n, (start, length, rule) in enumerate(windows):
                team = teams["platform" if n % 2 == 0 else "payments"]
                maintenance.window_create(
                    actor=admin,
                    team=team,
                    title=f"计划维护 {n} / Planned maintenance {n}",
                    description="维护期间服务可能短暂中断。/ Brief interruptions are possible.",
                    starts_at=start,
                    ends_at=start + length if length else None,
                    recurrence=rule,
                    duration_minutes=120 if rule else None,
                    services=list(Service.objects.filter(team=team))[:1],
                    public=True,
                )
    # The incident this run updates: published afresh, so its updates do not pile up;
    # and a window running now, made afresh, so every run shows one.
    with transaction.atomic():
        for window in MaintenanceWindow.objects.filter(title=RUNNING_WINDOW):
            maintenance.window_delete(window=window, actor=admin)
        maintenance.window_create(
            actor=admin,
            team=teams["platform"],
            title=RUNNING_WINDOW,
            starts_at=clock.now() - timedelta(minutes=30),
            ends_at=clock.now() + timedelta(hours=2),
            services=["user-center"],
            public=True,
        )
        cold = Incident.objects.filter(title=f"{TITLE} cold").first()
        if cold is None:
            cold = incident(f"{TITLE} cold", teams["platform"])
        Publication.objects.filter(incident=cold).delete()
        status_services.incident_publish(
            incident=cold,
            actor=admin,
            components=[Component.objects.get(slug="website")],
            impact=Impact.DEGRADED,
            public_title="网站较慢 / The website is slow",
            message="我们正在排查。/ We are looking into it.",
        )
    token, _ = Token.objects.get_or_create(user=users.get(username="lead"))
    return {"cold": cold.pk, "token": token.key}


def _inside_summary() -> dict:
    from escalation.status.models import Component, Publication, PublicUpdate
    from incidents.models import Incident, MaintenanceWindow

    return {
        "incidents": Incident.objects.count(),
        "components": Component.objects.count(),
        "publications": Publication.objects.count(),
        "open": Publication.objects.filter(resolved_at__isnull=True).count(),
        "updates": PublicUpdate.objects.count(),
        "windows": MaintenanceWindow.objects.filter(public=True).count(),
    }


def _inside_count(paths: list[str]) -> dict:
    """SQL queries of a GET of each path right after a publish, then warm."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from escalation.status.version import bump_version

    counts = {}
    client = Client()
    for path in paths:
        bump_version()
        for when in ("after publish", "warm"):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            counts[f"{path} {when}"] = [len(queries.captured_queries), response.status_code]
    return counts


def _inside_writer(cold: int) -> None:
    """Post a public update to incident `cold` for each line read; answer each when
    it committed."""
    from django.contrib.auth import get_user_model

    from escalation.status import services as status_services
    from escalation.status.models import PublicStatus

    admin = get_user_model().objects.get(username="admin")
    statuses = [PublicStatus.IDENTIFIED, PublicStatus.MONITORING]
    for n, _line in enumerate(sys.stdin):
        status_services.incident_public_update(
            incident=cold,
            actor=admin,
            status=statuses[n % 2],
            message=f"更新 {n} / Update {n}",
        )
        print("OK", flush=True)


def inside(command: str, arg: str | None) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    if command == "writer":
        return _inside_writer(int(arg))
    if command == "prepare":
        result = {**_inside_prepare(), **_inside_summary()}
    else:
        result = _inside_count(json.loads(sys.stdin.read()))
    print("RESULT " + json.dumps(result))


def run_inside(env, command: str, stdin: str = "") -> dict:
    out = subprocess.run(
        [PY, __file__, "--inside", command],
        cwd=ROOT,
        env=env,
        input=stdin,
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


class Writer:
    """A Django process that posts a public update when asked (no start-up cost
    between the update and the requests after it)."""

    def __init__(self, env, cold: int):
        self.process = subprocess.Popen(
            [PY, __file__, "--inside", "writer", "--arg", str(cold)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def publish(self) -> None:
        self.process.stdin.write("update\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if answer.strip() != "OK":
            raise SystemExit(f"the writer failed: {answer!r}")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


# ---------------------------------------------------------------- the client


def headers_for(language: str) -> dict:
    return {"Accept-Language": language}


def summary(latencies, elapsed, errors) -> dict:
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "errors": errors,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000, help="per warm case")
    parser.add_argument("--publishes", type=int, default=20, help="per path, after a publish")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8796)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument("--arg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside, args.arg)

    # The test client counting queries asks for host "testserver".
    env = bench_env(
        DATABASE_URL=os.environ.get(
            "BENCH_STATUS_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/responder_bench_status",
        ),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DEMO_PASSWORD=secrets.token_urlsafe(16),
    )
    manage(env, "wait_for_database", "--create")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    began = time.monotonic()
    manage(env, "seed_demo")
    prep = run_inside(env, "prepare")
    print(f"prepared in {time.monotonic() - began:.0f} s", flush=True)
    manage(
        env,
        "shell",
        "-c",
        "from django.db import connection; c = connection.cursor(); c.execute('VACUUM ANALYZE')",
    )
    queries = run_inside(env, "count", json.dumps(list(PATHS.values())))
    floor_headers = {"Authorization": f"Token {prep['token']}"}
    clients = args.concurrency

    samples = {name: ([], 0.0, []) for name in ("floor", "page", "json")}
    samples.update({f"{name} after publish": ([], 0.0, []) for name in PATHS})

    def add(name, result):
        latencies, elapsed, errors = samples[name]
        samples[name] = (latencies + result[0], elapsed + result[1], errors + result[2])

    writer = Writer(env, prep["cold"])
    try:
        with gunicorn(env, args.port, args.workers):
            # Warm every worker, in both languages.
            timed(args.port, "/api/v1/ping/", floor_headers, 10 * args.workers, clients)
            for language in LANGUAGES:
                for path in PATHS.values():
                    timed(args.port, path, headers_for(language), 10 * args.workers, clients)
            bytes_sent = {name: sizes(args.port, path, {}) for name, path in PATHS.items()}
            # Interleaved rounds: drift in the machine's speed touches every case alike.
            rounds = 10
            for n in range(rounds):
                headers = headers_for(LANGUAGES[n % 2])
                add(
                    "floor",
                    timed(
                        args.port, "/api/v1/ping/", floor_headers, args.requests // rounds, clients
                    ),
                )
                for name, path in PATHS.items():
                    add(name, timed(args.port, path, headers, args.requests // rounds, clients))
            for n in range(args.publishes):
                headers = headers_for(LANGUAGES[n % 2])
                for name, path in PATHS.items():
                    writer.publish()
                    add(f"{name} after publish", timed(args.port, path, headers, clients, clients))
                    # Let every worker build it again before the next publish.
                    timed(args.port, path, headers, 4 * args.workers, clients)
    finally:
        writer.close()

    results = {name: summary(*values) for name, values in samples.items()}
    floor = results["floor"]
    print()
    print(
        f"Status page benchmark: {prep['components']} components, {prep['publications']} "
        f"publications ({prep['open']} open, {prep['updates']} public updates), "
        f"{prep['windows']} public windows; gunicorn {args.workers} sync workers, "
        f"{clients} concurrent clients, {os.cpu_count()} CPUs, production settings"
    )
    print(
        f"{'case':<20} {'requests':>8} {'req/s':>8} {'x floor':>8} {'p50 ms':>8} {'x floor':>8} "
        f"{'p95 ms':>8} {'SQL':>4} {'KB raw':>7} {'KB gzip':>7}"
    )
    for name, r in results.items():
        base = name.split()[0]
        path = PATHS.get(base)
        sql = ""
        if path:
            when = "after publish" if "after" in name else "warm"
            sql = queries[f"{path} {when}"][0]
        raw, sent = ("", "")
        if path and "after" not in name:
            raw, sent = (f"{bytes_sent[base][0] / 1024:.1f}", f"{bytes_sent[base][1] / 1024:.1f}")
        print(
            f"{name:<20} {r['requests']:>8} {r['rps']:>8.0f} {r['rps'] / floor['rps']:>7.2f}x "
            f"{r['p50']:>8.1f} {r['p50'] / floor['p50']:>7.1f}x {r['p95']:>8.1f} "
            f"{sql!s:>4} {raw:>7} {sent:>7}"
            + (f"  errors: {sorted(set(r['errors']))[:2]}" if r["errors"] else "")
        )
    ratio = results["page"]["rps"] / floor["rps"]
    ok = ratio >= TARGET and not any(r["errors"] for r in results.values())
    print(
        f"target: /status/ warm >= {TARGET}x the floor's req/s: {ratio:.2f}x -> "
        f"{'MET' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
