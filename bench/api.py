"""API benchmark: list and intake latency on gunicorn + PostgreSQL, next to a floor.

    make bench            # or: .venv/bin/python bench/api.py

Loads `seed_bench` data (100k incidents, 2k open) into BENCH_DATABASE_URL once,
starts gunicorn on it, and times, with the same client in the same run:

- floor:  GET /api/v1/ping/ (token auth + a minimal view: the server's floor)
- list:   GET /api/v1/incidents/?page_size=50 (as the platform tech lead)
- intake: POST /api/v1/incidents/

Prints requests/s and p50/p99 per endpoint and the ratio of each p50 to the
floor's, from interleaved rounds. Target: list p50 within 4x the floor's p50.
Exit status 1 if missed.
"""

import argparse
import contextlib
import http.client
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")


# One strong key for every process of a run (production settings refuse weak ones).
SECRET_KEY = secrets.token_urlsafe(64)


def manage(env, *args, capture=False):
    result = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        capture_output=capture,
    )
    return result.stdout if capture else None


def count_incidents(env) -> int:
    out = manage(
        env,
        "shell",
        "-c",
        "from incidents.models import Incident; print(Incident.objects.count())",
        capture=True,
    )
    return int(out.strip().splitlines()[-1])


def ensure_incidents(env, incidents: int, open_incidents: int) -> bool:
    """Migrate the bench database and load `incidents` unless it has them already
    (so reruns are quick); True when it loaded."""
    manage(env, "wait_for_database", "--create")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    have = count_incidents(env)
    if have >= incidents:
        return False
    print(f"loading {incidents} incidents (have {have}) ...", flush=True)
    began = time.monotonic()
    manage(env, "seed_bench", "--incidents", str(incidents), "--open", str(open_incidents))
    print(f"loaded in {time.monotonic() - began:.0f} s", flush=True)
    return True


@contextlib.contextmanager
def gunicorn(env, port: int, workers: int, threads: int = 1, keep_alive: int | None = None):
    """gunicorn serving the project on 127.0.0.1:`port`, ready when entered.

    `threads` > 1 runs the gthread worker (keep-alive connections, `threads`
    requests at a time per worker); `keep_alive` sets how long an idle
    connection is kept (gunicorn's default: 2 s)."""
    options = ["--threads", str(threads)] if threads > 1 else []
    if keep_alive is not None:
        options += ["--keep-alive", str(keep_alive)]
    server = subprocess.Popen(
        [
            GUNICORN,
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *options,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/accounts/login/")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_env(**extra) -> dict:
    """Production settings on BENCH_DATABASE_URL (the API and page benches' database)."""
    return {
        **os.environ,
        "DATABASE_URL": os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/responder_bench"
        ),
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "RESPONDER_VAR_DIR": str(ROOT / "var" / "bench"),
        **extra,
    }


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_load(port, method, path, token, body_fn, requests, concurrency):
    latencies, errors = [], []
    lock = threading.Lock()
    per_thread = requests // concurrency

    def worker(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        mine = []
        for i in range(per_thread):
            body = body_fn(n, i) if body_fn else None
            start = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status >= 300:
                with lock:
                    errors.append(response.status)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {"latencies": latencies, "elapsed": elapsed, "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8797)
    args = parser.parse_args()

    env = bench_env()
    ensure_incidents(env, args.incidents, args.open)
    # As autovacuum would after a bulk load: statistics and the visibility map
    # (which lets PostgreSQL count from an index alone).
    manage(
        env,
        "shell",
        "-c",
        "from django.db import connection; c = connection.cursor(); c.execute('VACUUM ANALYZE')"
        if "postgres" in env["DATABASE_URL"]
        else "pass",
    )
    token = manage(env, "drf_create_token", "lead", capture=True).split()[2]
    total = count_incidents(env)

    with gunicorn(env, args.port, args.workers):
        intake = {
            "title": "bench: 订单服务返回 HTTP 500",
            "symptoms": "HTTP 500 on POST /api/orders",
            "severity": "P2",
            "source": "api",
            "impact_scope": "ordering",
            "affected_users": 10,
        }
        cases = [
            ("floor", "GET", "/api/v1/ping/", None),
            ("list", "GET", "/api/v1/incidents/?page_size=50", None),
            ("intake", "POST", "/api/v1/incidents/", lambda n, i: json.dumps(intake)),
        ]
        # Warm up every worker and cache before measuring.
        for _, method, path, body in cases:
            run_load(args.port, method, path, token, body, 40 * args.concurrency, args.concurrency)
        # Interleaved rounds: floor, list and intake each run a slice in turn, so
        # drift in the machine's speed touches all of them alike.
        rounds = 10
        samples = {name: [] for name, *_ in cases}
        spent = dict.fromkeys(samples, 0.0)
        errors = {name: [] for name in samples}
        for _ in range(rounds):
            for name, method, path, body in cases:
                count = args.requests if name != "intake" else max(200, args.requests // 4)
                r = run_load(
                    args.port, method, path, token, body, count // rounds, args.concurrency
                )
                samples[name].extend(r["latencies"])
                spent[name] += r["elapsed"]
                errors[name].extend(r["errors"])
        results = {
            name: {
                "requests": len(samples[name]),
                "rps": len(samples[name]) / spent[name],
                "p50": percentile(samples[name], 50) * 1000,
                "p99": percentile(samples[name], 99) * 1000,
                "errors": errors[name],
            }
            for name in samples
        }

    floor = results["floor"]["p50"]
    print()
    print(
        f"API benchmark: {total} incidents in the database, gunicorn {args.workers} workers, "
        f"{args.concurrency} concurrent clients, {os.cpu_count()} CPUs"
    )
    print(
        f"{'endpoint':<8} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50/floor':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<8} {r['requests']:>8} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
            f"{r['p50'] / floor:>8.1f}x" + (f"  errors: {set(r['errors'])}" if r["errors"] else "")
        )
    ratio = results["list"]["p50"] / floor
    ok = ratio <= 4.0 and not any(r["errors"] for r in results.values())
    print(f"target: list p50 within 4x the floor: {ratio:.1f}x -> {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
