"""Knowledge benchmark: search and metrics on gunicorn + PostgreSQL, 100k archived incidents.

    make bench            # or: .venv/bin/python bench/knowledge.py

Loads `seed_bench --archived-only` data (100k archived incidents, each in the
search index, post-mortems for P0/P1) into BENCH_KNOWLEDGE_DATABASE_URL once,
starts gunicorn on it and times, one request at a time, in the same run:

- floor:   GET /api/v1/ping/ (token auth + a minimal view)
- search:  GET /api/v1/knowledge/?q=… for Chinese and for English phrases
           (page 1 of 25, with the total count), as the manager (sees all)
- metrics: GET /metrics/ (the HTML page, signed in) for the default 180 days
           and for the whole two years, and GET /api/v1/metrics/ (two years)

Prints p50/p95 per case and ratios to the floor. Targets: search p95 ≤ 100 ms
for each language, metrics page ≤ 500 ms (its p95). Exit status 1 if missed.
"""

import argparse
import http.client
import os
import re
import secrets
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import ROOT, count_incidents, gunicorn, manage, percentile

CHINESE = ["连接池耗尽", "证书过期", "内存泄漏", "支付网关响应缓慢", "磁盘空间不足", "回滚版本"]
ENGLISH = [
    "connection pool",
    "certificate expired",
    "memory leak",
    "payment gateway",
    "order-17",
    "rolled back",
]
SEARCH_P95_MS = 100
METRICS_MS = 500


class Client:
    """One keep-alive connection; token or session auth."""

    def __init__(self, port, token=None):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}"} if token else {}
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        all_headers = {**self.headers, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return response.status, data

    def timed(self, path):
        start = time.perf_counter()
        status, _data = self.request("GET", path)
        elapsed = time.perf_counter() - start
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}")
        return elapsed

    def login(self, username, password):
        _status, page = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token.decode()}
        )
        status, _ = self.request(
            "POST",
            "/accounts/login/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}/accounts/login/",
            },
        )
        if status != 302:
            raise SystemExit(f"login as {username} failed ({status})")


# One strong key for every process of a run (production settings refuse weak ones).
SECRET_KEY = secrets.token_urlsafe(64)


def archived_count(env) -> int:
    out = manage(
        env,
        "shell",
        "-c",
        "from incidents.models import Incident; "
        "print(Incident.objects.filter(state='archived').count())",
        capture=True,
    )
    return int(out.strip().splitlines()[-1])


def ms(seconds):
    return seconds * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archived", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="times each query is run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args()

    password = "bench-password"
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get(
            "BENCH_KNOWLEDGE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/responder_bench_knowledge",
        ),
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DEMO_PASSWORD": password,
        "RESPONDER_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    manage(env, "wait_for_database", "--create")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    have = archived_count(env)
    if have < args.archived:
        print(f"loading {args.archived - have} archived incidents (have {have}) ...", flush=True)
        began = time.monotonic()
        manage(
            env,
            "seed_bench",
            "--incidents",
            str(args.archived - have + 1_000),
            "--open",
            "1000",
            "--archived-only",
        )
        print(f"loaded in {time.monotonic() - began:.0f} s", flush=True)
    else:
        manage(env, "seed_demo")  # the demo password of this run
    manage(
        env,
        "shell",
        "-c",
        "from django.db import connection; c = connection.cursor(); c.execute('VACUUM ANALYZE')",
    )
    indexed = manage(
        env,
        "shell",
        "-c",
        "from knowledge.models import SearchDocument as D; print(D.objects.count())",
        capture=True,
    ).split()[-1]
    token = manage(env, "drf_create_token", "manager", capture=True).split()[2]

    with gunicorn(env, args.port, args.workers):
        api = Client(args.port, token)
        page = Client(args.port)
        page.login("manager", password)
        two_years = "/metrics/?start=2024-11-01"

        def search_path(q):
            return "/api/v1/knowledge/?" + urllib.parse.urlencode({"q": q})

        # Warm up: every query once, every worker a few times.
        for q in CHINESE + ENGLISH:
            api.timed(search_path(q))
        for _ in range(2 * args.workers):
            api.timed("/api/v1/ping/")
            page.timed("/metrics/")

        samples = {"floor": [], "search zh": [], "search en": []}
        hits = {}
        for _ in range(args.rounds):
            samples["floor"].append(api.timed("/api/v1/ping/"))
            for q in CHINESE:
                samples["search zh"].append(api.timed(search_path(q)))
            for q in ENGLISH:
                samples["search en"].append(api.timed(search_path(q)))
        for q in CHINESE + ENGLISH:
            _status, body = api.request("GET", search_path(q))
            hits[q] = int(re.search(rb'"count":(\d+)', body).group(1))
        metric_rounds = max(5, args.rounds // 2)
        samples["metrics page 180 d"] = [page.timed("/metrics/") for _ in range(metric_rounds)]
        samples["metrics page 2 y"] = [page.timed(two_years) for _ in range(metric_rounds)]
        samples["metrics API 2 y"] = [
            api.timed("/api/v1/metrics/?start=2024-11-01") for _ in range(metric_rounds)
        ]

    total = count_incidents(env)
    print()
    print(
        f"knowledge benchmark: {total} incidents ({archived_count(env)} archived), "
        f"{indexed} in the search index,"
    )
    print(f"gunicorn {args.workers} workers, one request at a time, {args.rounds} rounds")
    print("matches per query: " + ", ".join(f"{q}={n}" for q, n in hits.items()))
    floor = percentile(samples["floor"], 50)
    print(f"{'case':<20}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p50/floor':>11}")
    for name, values in samples.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"{name:<20}{len(values):>6}{ms(p50):>10.1f}{ms(p95):>10.1f}{p50 / floor:>10.1f}x")
    verdicts = []
    for name in ("search zh", "search en"):
        p95 = ms(percentile(samples[name], 95))
        verdicts.append((f"{name} p95 {p95:.1f} ms ≤ {SEARCH_P95_MS} ms", p95 <= SEARCH_P95_MS))
    for name in ("metrics page 180 d", "metrics page 2 y"):
        p95 = ms(percentile(samples[name], 95))
        verdicts.append((f"{name} p95 {p95:.0f} ms ≤ {METRICS_MS} ms", p95 <= METRICS_MS))
    print()
    for text, ok in verdicts:
        print(("PASS " if ok else "MISS ") + text)
    return 0 if all(ok for _t, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
