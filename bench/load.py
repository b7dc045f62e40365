"""Load benchmark: a mixed workload of 50 users for 2 minutes on gunicorn + PostgreSQL.

    make bench            # or: .venv/bin/python bench/load.py [--users 10 --seconds 20]

Loads `seed_bench` data (100k incidents, 2k open) into BENCH_LOAD_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/responder_load) once, starts
gunicorn with production settings (DEBUG off, a generated SECRET_KEY, Celery
on Redis: BENCH_LOAD_REDIS_URL, default redis://127.0.0.1:6379/12) and runs
simulated users in threads, each on its own keep-alive connection, each
pausing a random think time before every request:

- tech leads (`lead`, `manager`; signed in through the login form, with its
  CSRF token): the dashboard, the workspace of an incident listed on it, and
  a list API query (new, overdue, a team's, the default list);
- engineers (`engineer`, `pay-engineer`; signed in): the incidents assigned to
  them through the list API (a random page), the workspace of one, and a log
  entry on it through the API (an append: no If-Match is needed);
- on-duty (`onduty`, API token): intake through POST /api/v1/incidents/ (2 %
  of them urgent P0s, which enqueue an escalation sweep on Redis), then the
  list of new incidents;
- monitoring: Alertmanager v4 webhooks to /api/v1/alerts/<token>/ (an
  integration made for the run by `create_integration`, with a rate limit far
  above this load), firing and resolved, deduplicated into 40 groups.

A probe outside the workload times GET /api/v1/ping/ (token auth and a minimal
view) every 0.25 s: the floor under the same load (the p50/floor column); the
same request one at a time before the load starts gives the idle floor. The
first --warmup seconds are not measured. Incidents filed by an earlier run are
cancelled before the next one starts, so every run sees the same open set.

Prints throughput, p50/p95/p99 per kind and overall, every error by kind and
type (any status outside 2xx/3xx or any exception, including warm-up, logins
and the probe), and where the CPU went. Targets: no error, p95 ≤ 150 ms
overall and for the dashboard and the workspace each. Exit status 1 if
missed. --users, --seconds and the others also read LOAD_USERS,
LOAD_SECONDS, ... from the environment.
"""

import argparse
import http.client
import json
import math
import os
import random
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import ROOT, count_incidents, ensure_incidents, gunicorn, manage, percentile

CELERY = str(ROOT / ".venv" / "bin" / "celery")
P95_TARGET_MS = 150  # overall, and for the dashboard and the workspace each
PASSWORD = "load-bench-password"
TITLE_MARK = "load:"
PROBE_EVERY = 0.25
INCIDENT_LINK = re.compile(rb'href="/incidents/(\d+)/"')
CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')

# Share of the users per role (for 50 users: 12, 20, 10, 8) and their accounts.
ROLES = [("tech lead", 12), ("engineer", 20), ("on-duty", 10), ("monitoring", 8)]
ACCOUNTS = {
    "tech lead": ["lead", "manager"],
    "engineer": ["engineer", "engineer", "pay-engineer"],
    "on-duty": ["onduty"],
    "monitoring": [None],
}
LEAD_LISTS = [
    "",
    "state=new",
    "overdue=true",
    "team=platform",  # their own team (another team's slug is refused with 400)
    "severity=P0&severity=P1",
    "state=in_progress&ordering=next_update_by",
]
LOG_KINDS = [("action", 30), ("progress", 40), ("note", 20), ("workaround", 10)]
SEVERITIES = [("P0", 2), ("P1", 10), ("P2", 40), ("P3", 48)]
SUBJECTS = ["订单服务", "支付网关", "用户中心", "数据库", "消息队列", "搜索服务", "对象存储"]
PROBLEMS = ["返回 HTTP 500", "响应缓慢", "连接池耗尽", "数据同步失败", "页面无法加载"]
ALERT_NAMES = ["HighErrorRate", "SlowResponses", "DiskFilling", "PodCrashLooping", "CertExpiry"]
ALERT_GROUPS = 40
KINDS = ["dashboard", "workspace", "list", "log", "intake", "alert"]  # the measured requests


def weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


class Stopped(Exception):
    pass


class Bench:
    """What the users share: the clock, the stop signal, tokens and error samples."""

    def __init__(self, args, tokens, alert_token):
        self.args = args
        self.port = args.port
        self.tokens = tokens
        self.alert_token = alert_token
        self.stop = threading.Event()
        self.logged_in = None  # a Barrier, set by main
        self.samples = {}  # (kind, error) -> first response body
        self.lock = threading.Lock()

    def note_error(self, kind, error, body):
        with self.lock:
            self.samples.setdefault((kind, error), body[:300])


class Connection:
    """One keep-alive HTTP connection with a cookie jar; reopened (before it is
    used) when it sat idle long enough for gunicorn to have dropped it."""

    def __init__(self, port, idle_limit):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.idle_limit = idle_limit
        self.last = time.monotonic()
        self.cookies = {}

    def request(self, method, path, body=None, headers=None, cookies=True):
        if time.monotonic() - self.last > self.idle_limit:
            self.conn.close()  # http.client opens a new one for the request
        headers = dict(headers or {})
        if cookies and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except Exception:
            self.conn.close()
            raise
        finally:
            self.last = time.monotonic()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";")[0]
        return response.status, data


class User(threading.Thread):
    """One simulated person: signs in if needed, then repeats its role's round."""

    role = ""

    def __init__(self, bench, number, account):
        super().__init__(daemon=True, name=f"{self.role}-{number}")
        self.bench = bench
        self.account = account
        self.rng = random.Random(number)
        self.http = Connection(bench.port, idle_limit=bench.args.keep_alive - 0.5)
        self.records = []  # (kind, started, seconds, error or None)
        token = bench.tokens.get(account)
        self.api_headers = {"Authorization": f"Token {token}"} if token else {}

    def think(self):
        args = self.bench.args
        if self.bench.stop.wait(self.rng.uniform(args.think_min, args.think_max)):
            raise Stopped

    def call(self, kind, method, path, body=None, headers=None, api=False, think=True):
        """One timed request; returns the body, or None after an error (recorded)."""
        if think:
            self.think()
        headers = dict(headers or {})
        if api:
            headers.update(self.api_headers)
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            status, data = self.http.request(method, path, body, headers, cookies=not api)
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            self.records.append((kind, started, time.perf_counter() - started, error))
            self.bench.note_error(kind, error, str(exc).encode())
            return None
        seconds = time.perf_counter() - started
        error = None if 200 <= status < 400 else f"HTTP {status}"
        self.records.append((kind, started, seconds, error))
        if error:
            self.bench.note_error(kind, error, data)
            return None
        return data

    def login(self):
        page = self.call("login form", "GET", "/accounts/login/", think=False)
        match = CSRF_FIELD.search(page or b"")
        if match is None:
            raise RuntimeError("no login form")
        form = urllib.parse.urlencode(
            {
                "username": self.account,
                "password": PASSWORD,
                "csrfmiddlewaretoken": match.group(1).decode(),
            }
        )
        started = time.perf_counter()
        status, data = self.http.request(
            "POST",
            "/accounts/login/",
            form.encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.bench.port}/accounts/login/",
            },
        )
        # The form answers 200 (shown again) for a wrong password: only 302 is a login.
        error = None if status == 302 and "sessionid" in self.http.cookies else f"HTTP {status}"
        self.records.append(("login", started, time.perf_counter() - started, error))
        if error:
            self.bench.note_error("login", error, data)
            raise RuntimeError(f"login as {self.account} failed")

    def setup(self):
        pass

    def run(self):
        try:
            try:
                self.setup()
            finally:
                self.bench.logged_in.wait()
            while True:
                self.round()
        except Stopped:
            pass
        except Exception as exc:  # a failed login or a bug here: reported as an error
            error = f"{type(exc).__name__}: {exc}"
            self.records.append(("user script", time.perf_counter(), 0.0, error))
            self.bench.note_error("user script", error, b"")

    def round(self):
        raise NotImplementedError


class TechLead(User):
    role = "tech lead"

    def setup(self):
        self.login()

    def round(self):
        page = self.call("dashboard", "GET", "/dashboard/")
        ids = INCIDENT_LINK.findall(page or b"")
        if ids:
            self.call("workspace", "GET", f"/incidents/{int(self.rng.choice(ids))}/")
        query = self.rng.choice(LEAD_LISTS)
        self.call("list", "GET", "/api/v1/incidents/" + (f"?{query}" if query else ""), api=True)


class Engineer(User):
    role = "engineer"
    page_size = 25

    def setup(self):
        self.login()
        self.page = 1

    def round(self):
        query = urllib.parse.urlencode(
            {"owner": self.account, "state": ["assigned", "in_progress"], "page": self.page},
            doseq=True,
        )
        data = self.call("list", "GET", f"/api/v1/incidents/?{query}", api=True)
        if data is None:
            return
        listed = json.loads(data)
        pages = max(1, math.ceil(listed["count"] / self.page_size))
        self.page = self.rng.randint(1, pages)  # next round: somewhere else in the list
        if not listed["results"]:
            return
        incident = self.rng.choice(listed["results"])["id"]
        self.call("workspace", "GET", f"/incidents/{incident}/")
        kind = weighted(self.rng, LOG_KINDS)
        step = self.rng.randint(1, 99)
        text = f"{kind}: 检查了{self.rng.choice(SUBJECTS)}的日志 / checked the logs, step {step}"
        self.call(
            "log",
            "POST",
            f"/api/v1/incidents/{incident}/log/",
            {"kind": kind, "text": text},
            api=True,
        )


class OnDuty(User):
    role = "on-duty"

    def round(self):
        subject, problem = self.rng.choice(SUBJECTS), self.rng.choice(PROBLEMS)
        severity = weighted(self.rng, SEVERITIES)
        users = self.rng.choice([1, 5, 30, 200, 3000])
        intake = {
            "title": f"{TITLE_MARK} {subject}{problem}",
            "symptoms": f"{subject}{problem}，约 {users} 名用户受影响 / {users} users affected",
            "severity": severity,
            "source": self.rng.choice(["user_complaint", "internal_chat", "phone", "api"]),
            "impact_scope": subject,
            "affected_users": users,
            "urgent": severity == "P0",
        }
        self.call("intake", "POST", "/api/v1/incidents/", intake, api=True)
        self.call("list", "GET", "/api/v1/incidents/?state=new", api=True)


class Monitoring(User):
    role = "monitoring"

    def round(self):
        group = self.rng.randrange(ALERT_GROUPS)
        name = f"{TITLE_MARK}{ALERT_NAMES[group % len(ALERT_NAMES)]}-{group}"
        status = "resolved" if self.rng.random() < 0.2 else "firing"
        alerts = []
        for instance in self.rng.sample(range(1, 6), self.rng.randint(1, 2)):
            labels = {"alertname": name, "severity": "warning", "instance": f"app-{instance}"}
            alerts.append(
                {
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": f"{name} on app-{instance}"},
                    "startsAt": "2026-11-26T12:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"{group:04x}{instance:04x}",
                }
            )
        payload = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{name}"}}',
            "status": status,
            "receiver": "responder",
            "groupLabels": {"alertname": name},
            "commonLabels": {"alertname": name, "severity": "warning"},
            "alerts": alerts,
        }
        self.call("alert", "POST", f"/api/v1/alerts/{self.bench.alert_token}/", payload)


CLASSES = {"tech lead": TechLead, "engineer": Engineer, "on-duty": OnDuty, "monitoring": Monitoring}


def role_counts(users):
    """The users per role in ROLES' proportions, at least one each from 4 users up."""
    total = sum(n for _, n in ROLES)
    counts = {
        role: max(1 if users >= len(ROLES) else 0, round(users * n / total)) for role, n in ROLES
    }
    counts["engineer"] += users - sum(counts.values())
    return counts


def cpu_snapshot(server_pid):
    """CPU seconds so far: the machine (busy), gunicorn, PostgreSQL, this process.

    A process's time moves to its parent when it exits, so the parents' children
    time is counted too: gunicorn's master for its workers, the postmaster for
    backends and parallel query workers (all databases: others' too)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields[:8]]
    busy = sum(values) - values[3] - values[4]  # all but idle and iowait
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        own, children = int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])
        procs[int(entry)] = (comm, int(rest[1]), own, children)
    groups = Counter()
    for pid, (comm, ppid, own, children) in procs.items():
        if pid == server_pid:
            groups["gunicorn"] += own + children
        elif ppid == server_pid:
            groups["gunicorn"] += own
        elif comm == "postgres":
            is_postmaster = procs.get(ppid, ("",))[0] != "postgres"
            groups["postgres"] += own + (children if is_postmaster else 0)
    mine = os.times()
    return {
        "busy": busy / tick,
        "gunicorn": groups["gunicorn"] / tick,
        "postgres": groups["postgres"] / tick,
        "generator": mine.user + mine.system,
    }


# The open incidents an earlier run filed (intake and alerts) are cancelled, and
# its integrations revoked, so that every run starts from the same state.
RESET = f"""
from django.contrib.auth import get_user_model
from incidents import alerts, services
from incidents.models import OPEN_STATES, AlertIntegration, Incident
admin = get_user_model().objects.get(username="admin")
n = 0
for incident in Incident.objects.filter(state__in=OPEN_STATES, title__startswith="{TITLE_MARK}"):
    services.incident_cancel(incident=incident, actor=admin, reason="load bench: reset")
    n += 1
for old in AlertIntegration.objects.filter(name__startswith="load-bench-", revoked_at=None):
    alerts.integration_revoke(integration=old)
print(n)
"""
TOKENS = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
users = get_user_model().objects.filter(username__in={accounts!r})
print(json.dumps({{u.username: Token.objects.get_or_create(user=u)[0].key for u in users}}))
"""


def shell(env, code):
    return manage(env, "shell", "-c", code, capture=True).strip().splitlines()[-1]


def prepare(env, args):
    """Database, data, API tokens and an alert integration: (tokens, its name, its token)."""
    if not ensure_incidents(env, args.incidents, args.open):
        manage(env, "seed_demo")  # the demo users, with this run's password
    cleaned = shell(env, RESET)
    if int(cleaned):
        print(f"cancelled {cleaned} open incidents left by an earlier run", flush=True)
    # As autovacuum would after a bulk load: statistics and the visibility map.
    shell(env, "from django.db import connection; connection.cursor().execute('VACUUM ANALYZE')")
    accounts = sorted({a for names in ACCOUNTS.values() for a in names if a})
    tokens = json.loads(shell(env, TOKENS.format(accounts=accounts)))
    name = f"load-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    out = manage(
        env,
        "create_integration",
        name,
        "--team",
        "platform",
        "--rate-limit",
        "1000000",
        capture=True,
    ).splitlines()
    alert_token = out[out.index("Token (shown once, store it now):") + 1].strip()
    return tokens, name, alert_token


def queued_tasks(redis_url):
    """Messages waiting in the Celery queues on Redis (no worker runs here)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    return {queue: client.llen(queue) for queue in ("celery", "escalation", "deliveries")}


def purge(env):
    subprocess.run(
        [CELERY, "-A", "config", "purge", "-f", "-Q", "celery,escalation,deliveries"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def probe(bench, token, records):
    """The floor under load: GET /api/v1/ping/ every PROBE_EVERY seconds."""
    conn = Connection(bench.port, idle_limit=bench.args.keep_alive - 0.5)
    headers = {"Authorization": f"Token {token}"}
    while not bench.stop.wait(PROBE_EVERY):
        started = time.perf_counter()
        try:
            status, data = conn.request("GET", "/api/v1/ping/", headers=headers, cookies=False)
            error = None if status == 200 else f"HTTP {status}"
        except (OSError, http.client.HTTPException) as exc:
            error, data = type(exc).__name__, str(exc).encode()
        records.append(("floor", started, time.perf_counter() - started, error))
        if error:
            bench.note_error("floor", error, data)


def idle_floor(port, token, count=200):
    conn = Connection(port, idle_limit=1.0)
    headers = {"Authorization": f"Token {token}"}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        status, _data = conn.request("GET", "/api/v1/ping/", headers=headers, cookies=False)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"GET /api/v1/ping/ answered {status}")
    return times


def env_default(name, default, kind=int):
    return kind(os.environ.get(name, default))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=env_default("LOAD_USERS", 50))
    parser.add_argument("--seconds", type=float, default=env_default("LOAD_SECONDS", 120, float))
    parser.add_argument(
        "--warmup", type=float, default=env_default("LOAD_WARMUP", 10, float), help="not measured"
    )
    parser.add_argument(
        "--think-min", type=float, default=env_default("LOAD_THINK_MIN", 0.5, float)
    )
    parser.add_argument(
        "--think-max", type=float, default=env_default("LOAD_THINK_MAX", 1.5, float)
    )
    parser.add_argument(
        "--workers", type=int, default=env_default("LOAD_WORKERS", 3), help="gunicorn"
    )
    parser.add_argument(
        "--threads", type=int, default=env_default("LOAD_THREADS", 4), help="per worker"
    )
    parser.add_argument("--keep-alive", type=int, default=5, help="gunicorn's, seconds")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get(
            "BENCH_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/responder_load"
        ),
        "REDIS_URL": os.environ.get("BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DEMO_PASSWORD": PASSWORD,
        "RESPONDER_VAR_DIR": str(ROOT / "var" / "bench-load"),
    }
    tokens, integration, alert_token = prepare(env, args)
    purge(env)
    counts = role_counts(args.users)
    total_incidents = count_incidents(env)

    bench = Bench(args, tokens, alert_token)
    users = []
    for role, n in counts.items():
        for i in range(n):
            account = ACCOUNTS[role][i % len(ACCOUNTS[role])]
            users.append(CLASSES[role](bench, len(users), account))
    bench.logged_in = threading.Barrier(len(users) + 1)
    floor_records = []
    prober = threading.Thread(
        target=probe, args=(bench, tokens["lead"], floor_records), daemon=True
    )
    try:
        with gunicorn(env, args.port, args.workers, args.threads, args.keep_alive) as server:
            # Warm every worker, then the idle floor.
            idle_floor(args.port, tokens["lead"], count=20 * args.workers)
            idle = idle_floor(args.port, tokens["lead"])
            began = time.perf_counter()
            for user in users:
                user.start()
            bench.logged_in.wait()
            login_seconds = time.perf_counter() - began
            prober.start()
            measure_from = time.perf_counter() + args.warmup
            time.sleep(args.warmup)
            cpu_before = cpu_snapshot(server.pid)
            time.sleep(args.seconds)
            measure_to = time.perf_counter()
            cpu_after = cpu_snapshot(server.pid)
            bench.stop.set()
            for user in users:
                user.join(timeout=90)
            prober.join(timeout=90)
            queued = queued_tasks(env["REDIS_URL"])
    finally:
        bench.stop.set()
        purge(env)
        manage(env, "revoke_integration", integration, capture=True)

    records = [r for user in users for r in user.records] + floor_records
    measured = defaultdict(list)
    errors = defaultdict(Counter)
    for kind, started, seconds, error in records:
        if error:
            errors[kind][error] += 1
        if kind in (*KINDS, "floor") and measure_from <= started < measure_to:
            measured[kind].append((seconds, error))
    window = measure_to - measure_from
    floor = percentile([s for s, _e in measured["floor"]], 50) if measured["floor"] else None
    if floor is None:
        floor = percentile(idle, 50)

    def line(name, samples, idle=False):
        times = [s for s, _e in samples]
        n_err = sum(1 for _s, e in samples if e)
        if not times:
            return f"{name:<22}{0:>9}"
        p50, p95, p99 = (percentile(times, q) * 1000 for q in (50, 95, 99))
        rate = f"{'-':>8}" if idle else f"{len(times) / window:>8.1f}"
        ratio = f"{'-':>10}" if idle else f"{p50 / 1000 / floor:>9.1f}x"
        return (
            f"{name:<22}{len(times):>9}{rate}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}"
            f"{max(times) * 1000:>9.0f}{ratio}{n_err:>8}"
        )

    every = [s for kind in KINDS for s in measured[kind]]
    logins = [s for kind, _st, s, _e in records if kind == "login"]
    cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
    cores = os.cpu_count()
    other = cpu["busy"] - cpu["gunicorn"] - cpu["postgres"] - cpu["generator"]
    server_kind = f"gthread, {args.threads} threads each" if args.threads > 1 else "sync"
    print()
    print(
        f"load benchmark: {total_incidents} incidents, {args.users} users "
        f"({', '.join(f'{role} ×{n}' for role, n in counts.items())}), "
        f"think time {args.think_min}–{args.think_max} s (uniform) before each request"
    )
    print(
        f"gunicorn {args.workers} workers ({server_kind}, keep-alive {args.keep_alive} s), "
        f"DEBUG off, PostgreSQL + Redis, {cores} CPUs shared with PostgreSQL and this generator; "
        f"{args.warmup:.0f} s warm-up, then {window:.0f} s measured"
    )
    print(
        f"{'kind':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'p50/floor':>10}{'errors':>8}"
    )
    for kind in KINDS:
        print(line(kind, measured[kind]))
    print(line("all (the workload)", every))
    print(line("floor: ping under load", measured["floor"]))
    print(line("floor: ping, idle", [(s, None) for s in idle], idle=True))
    signed_in = sum(1 for u in users if isinstance(u, TechLead | Engineer))
    print(
        f"sign-in before the clock: {signed_in} users through the login form (GET, then POST "
        f"with its CSRF token), all in {login_seconds:.1f} s; POST p50 "
        f"{percentile(logins, 50) * 1000:.0f} ms (password hashing)"
        if logins
        else "sign-in: none"
    )
    print(
        f"CPU in the measured window ({cores} CPUs = {cores * 100} %): machine busy "
        f"{cpu['busy'] / window * 100:.0f} % = gunicorn {cpu['gunicorn'] / window * 100:.0f} % + "
        f"postgres (all databases) {cpu['postgres'] / window * 100:.0f} % + load generator "
        f"{cpu['generator'] / window * 100:.0f} % + other processes {other / window * 100:.0f} %"
    )
    print(
        "Celery tasks left on Redis by the run (no worker here; purged): "
        + ", ".join(f"{q} {n}" for q, n in queued.items())
    )
    failed = sum(sum(c.values()) for c in errors.values())
    if failed:
        print(f"errors, whole run (warm-up, logins and probe included): {failed}")
        for kind, counter in errors.items():
            for error, n in counter.most_common():
                sample = bench.samples.get((kind, error), b"").decode(errors="replace")
                print(f"  {kind}: {error} × {n}  {sample[:200]!r}")
    else:
        print("errors, whole run (warm-up, logins and probe included): none")
    p95 = percentile([s for s, _e in every], 95) * 1000 if every else float("inf")
    verdicts = [
        (f"errors {failed} = 0", failed == 0),
        (f"overall p95 {p95:.0f} ms ≤ {P95_TARGET_MS} ms", p95 <= P95_TARGET_MS),
    ]
    for kind in ("dashboard", "workspace"):
        times = [s for s, _e in measured[kind]]
        kind_p95 = percentile(times, 95) * 1000 if times else float("inf")
        verdicts.append(
            (f"{kind} p95 {kind_p95:.0f} ms ≤ {P95_TARGET_MS} ms", kind_p95 <= P95_TARGET_MS)
        )
    print()
    for text, ok in verdicts:
        print(("PASS " if ok else "MISS ") + text)
    return 0 if all(ok for _t, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
