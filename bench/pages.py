"""Page benchmark: the pages tech leads and managers live in, at 100k incidents.

    make bench            # or: .venv/bin/python bench/pages.py [--requests 20]

Loads `seed_bench` data (100k incidents, 2k open) into BENCH_DATABASE_URL once
(the API bench's database), adds one busy incident (a long process log, many
notices and deliveries), and starts gunicorn with production settings (DEBUG
off) on it. Then, as `lead` (platform's tech lead) and as `manager` (sees
every team), it times each page against the floor, GET /api/v1/ping/ (token
auth and a minimal view), measured in slices interleaved with the pages in
the same run:

- /dashboard/, the busy incident's workspace and its print view;
- /archive/: default, q= in Chinese and in English, with filters, page 20;
- /knowledge/?q= (the search page), /metrics/ (default range);
- the XLSX export of one month of the archive.

Per page: p50 and p95 at 1 client, requests/s at 1 and at 4 clients, bytes
as sent raw and when the client offers gzip, SQL queries per request
(counted in-process by Django's test client on the same database), and the
ratio of the p50 to the floor's. Targets (p50 at 1 client): every page within
3x the floor, the XLSX export of a month within 2 s. Exit status 1 if missed.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import (
    PY,
    ROOT,
    bench_env,
    count_incidents,
    ensure_incidents,
    gunicorn,
    manage,
    percentile,
)

PAGE_TARGET = 3.0  # x the floor's p50
EXPORT_TARGET_S = 2.0
BUSY_TITLE = "bench: busy incident — 数据库连接池耗尽导致超时"
BUSY_LOG_ENTRIES = 300
BUSY_NOTICES = 60
USERS = ("lead", "manager")


# ---------------------------------------------------------------- inside Django


def _inside_prepare() -> dict:
    """The busy incident (once), a session per user, the newest full month."""
    from datetime import timedelta
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from escalation.models import Clock, Delivery, Notice
    from incidents import services
    from incidents.models import Incident, LogEntry, Severity, Source, Team

    users = get_user_model().objects
    busy = Incident.objects.filter(title=BUSY_TITLE).first()
    if busy is None:
        lead, engineer = users.get(username="lead"), users.get(username="engineer")
        busy = services.incident_create(
            actor=users.get(username="onduty"),
            title=BUSY_TITLE,
            symptoms="订单接口大量超时；数据库连接数打满。Orders time out; the pool is full.",
            severity=Severity.P1,
            source=Source.MONITORING,
            impact_scope="下单 / ordering",
            affected_users=1200,
            team=Team.objects.get(slug="platform"),
        )
        services.incident_acknowledge(incident=busy, actor=lead)
        services.incident_assign(incident=busy, actor=lead, owner=engineer, helpers=[lead])
        kinds = [LogEntry.Kind.ACTION, LogEntry.Kind.PROGRESS, LogEntry.Kind.NOTE]
        for n in range(BUSY_LOG_ENTRIES):
            services.incident_log(
                incident=busy,
                actor=engineer,
                kind=kinds[n % 3],
                text=f"{n}: 检查连接池与慢查询日志 / checked the pool and the slow query log",
            )
        now = timezone.now()
        notices = Notice.objects.bulk_create(
            Notice(
                incident=busy,
                clock=Clock.UPDATE,
                cycle=n,
                level=1 + n % 2,
                deadline=now - timedelta(minutes=30 * (BUSY_NOTICES - n)),
                due_at=now - timedelta(minutes=30 * (BUSY_NOTICES - n)),
                created_at=now - timedelta(minutes=30 * (BUSY_NOTICES - n)) + timedelta(seconds=5),
                recipients=["engineer", "lead"],
            )
            for n in range(BUSY_NOTICES)
        )
        Delivery.objects.bulk_create(
            Delivery(
                notice=notice,
                channel=channel,
                user=user,
                status=Delivery.Status.SENT,
                attempts=1,
                sent_at=notice.created_at,
            )
            for notice in notices
            for channel in ("email", "inbox")
            for user in (lead, engineer)
        )
    sessions = {}
    for name in USERS:
        user = users.get(username=name)
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions[name] = store.session_key
    newest = Incident.objects.order_by("-received_at").values_list("received_at", flat=True)[0]
    last_day = timezone.localdate(newest).replace(day=1) - timedelta(days=1)
    token, _ = Token.objects.get_or_create(user=users.get(username="lead"))
    return {
        "busy": busy.pk,
        "sessions": sessions,
        "month": [last_day.replace(day=1).isoformat(), last_day.isoformat()],
        "token": token.key,
    }


def _inside_count(paths: list[str]) -> dict:
    """SQL queries of one GET of each path, per user (Django's test client)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name in USERS:
        client = Client()
        client.force_login(get_user_model().objects.get(username=name))
        client.get("/dashboard/")  # the first request warms caches (content types, ...)
        for path in paths:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
                if hasattr(response, "streaming_content"):
                    b"".join(response.streaming_content)
            counts[f"{name} {path}"] = [len(queries.captured_queries), response.status_code]
    return counts


def inside(command: str) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    if command == "prepare":
        result = _inside_prepare()
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


# ---------------------------------------------------------------- the client


def fetch(conn, path, headers):
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    return response.status, dict(response.getheaders()), body


def timed(port, path, headers, count, clients):
    """`count` GETs over `clients` keep-alive connections: latencies, elapsed, errors."""
    latencies, errors = [], []
    lock = threading.Lock()

    def worker(share):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        for _ in range(share):
            began = time.perf_counter()
            status, _headers, body = fetch(conn, path, headers)
            mine.append(time.perf_counter() - began)
            if status != 200:
                with lock:
                    errors.append(f"{status}: {body[:120]!r}")
        conn.close()
        with lock:
            latencies.extend(mine)

    shares = [count // clients + (1 if n < count % clients else 0) for n in range(clients)]
    threads = [threading.Thread(target=worker, args=(s,)) for s in shares if s]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - began, errors


def sizes(port, path, headers):
    """(raw bytes, bytes sent when gzip is offered, Content-Encoding then)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    _status, _h, raw = fetch(conn, path, headers)
    _status, got, sent = fetch(conn, path, {**headers, "Accept-Encoding": "gzip, br"})
    conn.close()
    encoding = {k.lower(): v for k, v in got.items()}.get("content-encoding", "")
    return len(raw), len(sent), encoding


def cases(prep) -> list[tuple[str, str, bool]]:
    """(name, path, is_export)."""
    busy = prep["busy"]
    start, end = prep["month"]
    return [
        ("dashboard", "/dashboard/", False),
        ("workspace (busy)", f"/incidents/{busy}/", False),
        ("print (busy)", f"/incidents/{busy}/print/", False),
        ("archive", "/archive/", False),
        ("archive q=连接池", "/archive/?q=%E8%BF%9E%E6%8E%A5%E6%B1%A0", False),
        ("archive q=timeout", "/archive/?q=timeout", False),
        (
            "archive filtered",
            f"/archive/?date_from={start}&date_to={end}&team=platform&severity=P2&state=archived",
            False,
        ),
        ("archive page 20", "/archive/?page=20", False),
        ("knowledge search", "/knowledge/?q=%E8%BF%9E%E6%8E%A5%E6%B1%A0%E8%80%97%E5%B0%BD", False),
        ("metrics", "/metrics/", False),
        ("xlsx month", f"/archive/export.xlsx?date_from={start}&date_to={end}", True),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=20, help="per page and client count")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8798)
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside)

    # The test client counting queries asks for host "testserver".
    env = bench_env(ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
    ensure_incidents(env, args.incidents, args.open)
    prep = run_inside(env, "prepare")
    manage(
        env,
        "shell",
        "-c",
        "from django.db import connection; c = connection.cursor(); c.execute('VACUUM ANALYZE')",
    )
    total = count_incidents(env)
    pages = [c for c in cases(prep) if args.only in c[0]]
    queries = run_inside(env, "count", json.dumps([path for _n, path, _e in pages]))
    floor_headers = {"Authorization": f"Token {prep['token']}"}

    rows = []
    floor_samples = []
    with gunicorn(env, args.port, args.workers):
        timed(args.port, "/api/v1/ping/", floor_headers, 50, 2)  # warm every worker
        for user in USERS:
            headers = {"Cookie": f"sessionid={prep['sessions'][user]}"}
            for name, path, export in pages:
                count = 3 if export else args.requests
                timed(args.port, path, headers, 4 if export else 8, 4)  # warm up
                floor, _e, _x = timed(args.port, "/api/v1/ping/", floor_headers, 20, 1)
                floor_samples.extend(floor)
                one, one_elapsed, errors = timed(args.port, path, headers, count, 1)
                four, four_elapsed, errors4 = timed(args.port, path, headers, count * 2, 4)
                raw, sent, encoding = sizes(args.port, path, headers)
                rows.append(
                    {
                        "user": user,
                        "page": name,
                        "export": export,
                        "p50": percentile(one, 50) * 1000,
                        "p95": percentile(one, 95) * 1000,
                        "rps1": len(one) / one_elapsed,
                        "rps4": len(four) / four_elapsed,
                        "raw": raw,
                        "sent": sent,
                        "encoding": encoding or "none",
                        "queries": queries[f"{user} {path}"][0],
                        "errors": errors + errors4,
                    }
                )
    floor_p50 = statistics.median(floor_samples) * 1000
    print()
    print(
        f"Page benchmark: {total} incidents, gunicorn {args.workers} sync workers, "
        f"{os.cpu_count()} CPUs, production settings; floor GET /api/v1/ping/ p50 "
        f"{floor_p50:.2f} ms over {len(floor_samples)} requests interleaved with the pages"
    )
    print(
        f"{'user':<8} {'page':<18} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8} {'rps@1':>6} "
        f"{'rps@4':>6} {'KB raw':>8} {'KB sent':>8} {'enc':>5} {'SQL':>4}  target"
    )
    ok = True
    for r in rows:
        ratio = r["p50"] / floor_p50
        if r["export"]:
            met = r["p50"] / 1000 <= EXPORT_TARGET_S
            target = f"<= {EXPORT_TARGET_S:.0f} s"
        else:
            met = ratio <= PAGE_TARGET
            target = f"<= {PAGE_TARGET:.0f}x"
        met = met and not r["errors"]
        ok = ok and met
        print(
            f"{r['user']:<8} {r['page']:<18} {r['p50']:>8.1f} {r['p95']:>8.1f} {ratio:>7.1f}x "
            f"{r['rps1']:>6.1f} {r['rps4']:>6.1f} {r['raw'] / 1024:>8.1f} {r['sent'] / 1024:>8.1f} "
            f"{r['encoding']:>5} {r['queries']:>4}  {target} {'MET' if met else 'MISSED'}"
            + (f"  errors: {r['errors'][:2]}" if r["errors"] else "")
        )
    print(f"targets: {'all MET' if ok else 'MISSED (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
