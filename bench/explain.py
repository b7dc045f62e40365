"""Where a page's time goes: its SQL with EXPLAIN (ANALYZE, BUFFERS), and a profile.

    .venv/bin/python bench/explain.py /archive/?q=timeout --user lead [--profile]

Runs inside Django on BENCH_DATABASE_URL (the benches' PostgreSQL database,
loaded by bench/pages.py or bench/api.py) with production settings, GETs the
path once to warm up, then once more capturing every query. Prints each query
with its time, then EXPLAIN (ANALYZE, BUFFERS) of the slowest ones (--top).
With --profile, pyinstrument's profile of one more request as well.
"""

import argparse
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--user", default="lead")
    parser.add_argument("--top", type=int, default=3, help="EXPLAIN the N slowest queries")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault(
        "DATABASE_URL",
        os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/responder_bench"),
    )
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("RESPONDER_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=args.user))

    def get():
        response = client.get(args.path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, len(body)

    get()
    with CaptureQueriesContext(connection) as captured:
        status, size = get()
    queries = captured.captured_queries
    total = sum(float(q["time"]) for q in queries) * 1000
    print(f"GET {args.path} as {args.user}: {status}, {size} bytes, {len(queries)} queries, ")
    print(f"{total:.1f} ms in SQL (as Django timed them)")
    for n, q in enumerate(queries, 1):
        print(f"  {n:>2}. {float(q['time']) * 1000:7.2f} ms  {q['sql'][:160]}")
    slowest = sorted(queries, key=lambda q: float(q["time"]), reverse=True)[: args.top]
    with connection.cursor() as cursor:
        for q in slowest:
            if not q["sql"].lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            print(f"\n---- {float(q['time']) * 1000:.2f} ms\n{q['sql']}\n")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
            print("\n".join(row[0] for row in cursor.fetchall()))
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        get()
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
