"""Page benchmark: the pages tech leads and managers live in, at 100k incidents.

    make bench            # or: .venv/bin/python bench/pages.py [--seconds 3]

Loads `seed_bench` data (100k incidents, 2k open) into BENCH_DATABASE_URL once
(the API bench's database), adds one busy incident (a long process log, many
notices and deliveries), runs VACUUM ANALYZE and starts gunicorn with
production settings (DEBUG off) and 2 sync workers on it. Then, as `lead`
(platform's tech lead) and as `manager` (sees every team), it times each page
with wrk (`apt-get install -y wrk`) against the floor, GET /api/v1/ping/
(token auth and a minimal view), measured in slices of the same length
interleaved with the pages in the same run:

- /dashboard/, the busy incident's workspace and its print view;
- /archive/: default, q= in Chinese and in English, with filters, page 20;
- /knowledge/?q= (Chinese and English), /metrics/ (default range);
- /oncall/platform/ and GET /api/v1/incidents/?page_size=50 (token);
- the XLSX export of one month of the archive (timed by this script).

Per page: p50 and p90 at 1 client (wrk -c1), requests/s at 1 and at 4
clients (-c4), bytes as sent raw and when the client offers gzip, SQL queries
per request (counted in-process by Django's test client on the same
database), and the ratio of the p50 to the floor's. Targets: every page's p50
within 10x the floor's; the dashboard at 4 clients at least 100 requests/s
(20x the ~5/s of Request Tracker 5's open-ticket list on the same machine and
data size: a figure from issue 27, not measured here); the XLSX export of a
month within 2 s. Exit status 1 if one is missed.
"""

import argparse
import http.client
import json
import os
import re
import shutil
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

PAGE_TARGET = 10.0  # x the floor's p50
DASHBOARD_RPS_TARGET = 100.0  # at 4 clients: 20x Request Tracker 5's open-ticket list
EXPORT_TARGET_S = 2.0
WRK = shutil.which("wrk") or "wrk"
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
        store[BACKEND_SESSION_KEY] = "config.auth.RequestUserBackend"  # as a sign-in records it
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions[name] = store.session_key
    newest = Incident.objects.order_by("-received_at").values_list("received_at", flat=True)[0]
    last_day = timezone.localdate(newest).replace(day=1) - timedelta(days=1)
    tokens = {
        name: Token.objects.get_or_create(user=users.get(username=name))[0].key for name in USERS
    }
    return {
        "busy": busy.pk,
        "sessions": sessions,
        "month": [last_day.replace(day=1).isoformat(), last_day.isoformat()],
        "token": tokens["lead"],
        "tokens": tokens,
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


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(port, path, headers, seconds, clients) -> dict:
    """wrk on one path: p50/p90 in ms, requests/s, responses that were not 2xx/3xx."""
    command = [
        WRK,
        "--latency",
        "-t1",
        f"-c{clients}",
        f"-d{seconds}s",
        "--timeout",
        "60s",
        *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
        f"http://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(command, check=True, text=True, capture_output=True).stdout

    def latency(label):
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(found[1]) * _UNITS[found[2]]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": latency(50),
        "p90": latency(90),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "bad": int(bad[1]) if bad else 0,
    }


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
        ("knowledge q=database", "/knowledge/?q=database", False),
        ("metrics", "/metrics/", False),
        ("oncall platform", "/oncall/platform/", False),
        ("api list 50", "/api/v1/incidents/?page_size=50", False),
        ("xlsx month", f"/archive/export.xlsx?date_from={start}&date_to={end}", True),
    ]


def headers_for(prep, user, name) -> dict:
    if name.startswith("api "):
        return {"Authorization": f"Token {prep['tokens'][user]}"}
    return {"Cookie": f"sessionid={prep['sessions'][user]}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--seconds", type=int, default=3, help="per wrk slice")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8798)
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--users", default=",".join(USERS), help="comma-separated")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside)
    if shutil.which(WRK) is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    users = [u for u in args.users.split(",") if u in USERS]

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
    floor_p50s = []
    with gunicorn(env, args.port, args.workers):
        wrk(args.port, "/api/v1/ping/", floor_headers, 1, 2)  # warm every worker
        for user in users:
            for name, path, export in pages:
                headers = headers_for(prep, user, name)
                status, _h, body = fetch(
                    http.client.HTTPConnection("127.0.0.1", args.port, timeout=120), path, headers
                )
                errors = [] if status == 200 else [f"{status}: {body[:120]!r}"]
                raw, sent, encoding = sizes(args.port, path, headers)
                row = {
                    "user": user,
                    "page": name,
                    "export": export,
                    "raw": raw,
                    "sent": sent,
                    "encoding": encoding or "none",
                    "queries": queries[f"{user} {path}"][0],
                }
                if export:  # seconds per request: timed here, three in a row
                    one, elapsed, more = timed(args.port, path, headers, 3, 1)
                    row.update(
                        p50=percentile(one, 50) * 1000,
                        p90=max(one) * 1000,
                        rps1=len(one) / elapsed,
                        rps4=None,
                        errors=errors + more,
                    )
                else:
                    wrk(args.port, path, headers, 1, 4)  # warm up
                    floor_p50s.append(
                        wrk(args.port, "/api/v1/ping/", floor_headers, args.seconds, 1)["p50"]
                    )
                    one = wrk(args.port, path, headers, args.seconds, 1)
                    four = wrk(args.port, path, headers, args.seconds, 4)
                    bad = one["bad"] + four["bad"]
                    row.update(
                        p50=one["p50"],
                        p90=one["p90"],
                        rps1=one["rps"],
                        rps4=four["rps"],
                        errors=errors + ([f"{bad} answers not 2xx/3xx"] if bad else []),
                    )
                rows.append(row)
    floor_p50 = statistics.median(floor_p50s)
    print()
    print(
        f"Page benchmark: {total} incidents, gunicorn {args.workers} sync workers, "
        f"{os.cpu_count()} CPUs, production settings, wrk {args.seconds} s slices; floor "
        f"GET /api/v1/ping/ p50 {floor_p50:.2f} ms (median of {len(floor_p50s)} slices "
        f"interleaved with the pages, {min(floor_p50s):.2f}-{max(floor_p50s):.2f} ms)"
    )
    print(
        f"{'user':<8} {'page':<20} {'p50 ms':>8} {'p90 ms':>8} {'x floor':>8} {'rps@1':>6} "
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
            if r["page"] == "dashboard":
                met = met and r["rps4"] >= DASHBOARD_RPS_TARGET
                target += f", >= {DASHBOARD_RPS_TARGET:.0f}/s at 4"
        met = met and not r["errors"]
        ok = ok and met
        rps4 = "-" if r["rps4"] is None else f"{r['rps4']:.1f}"
        print(
            f"{r['user']:<8} {r['page']:<20} {r['p50']:>8.1f} {r['p90']:>8.1f} {ratio:>7.1f}x "
            f"{r['rps1']:>6.1f} {rps4:>6} {r['raw'] / 1024:>8.1f} {r['sent'] / 1024:>8.1f} "
            f"{r['encoding']:>5} {r['queries']:>4}  {target} {'MET' if met else 'MISSED'}"
            + (f"  errors: {r['errors'][:2]}" if r["errors"] else "")
        )
    print(f"targets: {'all MET' if ok else 'MISSED (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
