"""Escalation benchmark: sweep cost and breach-to-notice latency on PostgreSQL.

    make bench            # or: .venv/bin/python bench/escalation.py

Loads 100k open incidents (seed_bench) into BENCH_ESCALATION_DATABASE_URL once,
then measures with the same code the product runs:

- idle sweep: a sweep when nothing is due (median of 50);
- 1k-due sweep: a sweep that finds 1,000 due deadlines and writes their
  notices and deliveries (median of 3 rounds);
- breach-to-notice: a real Celery worker and beat (sweep every
  ESCALATION_SWEEP_SECONDS, default 5 s here) and 200 deadlines falling due
  over the next ~20 s; latency = notice written − deadline, p50 and p95.

Each sweep time is also printed as a ratio to a floor measured in the same run,
interleaved with the idle sweeps: one transaction reading one row by its key
(the least a sweep does), since absolute times on a shared machine are noisy.

Targets: idle sweep <= 20 ms, 1k-due sweep <= 2 s, p95 breach-to-notice <=
2 s (the sweep wakes for the next deadline when it falls before beat's next
tick: escalation.jobs.sweep_at). Exit status 1 if one is missed.
"""

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")
CELERY = str(ROOT / ".venv" / "bin" / "celery")
BREACH_TO_NOTICE_S = 2.0


def setup_env(args) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get(
            "BENCH_ESCALATION_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/responder_bench_escalation",
        ),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "LOG_LEVEL": "WARNING",
        "RESPONDER_VAR_DIR": str(ROOT / "var" / "bench-escalation"),
        "ESCALATION_SWEEP_SECONDS": str(args.sweep_seconds),
        "EMAIL_URL": "consolemail://",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("REDIS_URL", None)
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    return env


def manage(env, *args):
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--sweep-seconds", type=float, default=5.0)
    parser.add_argument("--latency-deadlines", type=int, default=200)
    args = parser.parse_args()
    env = setup_env(args)
    os.environ.update(env)
    manage(env, "wait_for_database", "--create")
    manage(env, "migrate", "--noinput", "--verbosity", "0")

    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection, transaction
    from django.db.models import F
    from django.utils import timezone

    from escalation.engine import sweep_due_deadlines
    from escalation.models import Deadline, Delivery, Heartbeat, Notice
    from incidents.models import OPEN_STATES, Incident

    have = Incident.objects.filter(state__in=OPEN_STATES).count()
    if have < args.open:
        print(f"loading {args.open} open incidents (have {have}) ...", flush=True)
        began = time.monotonic()
        manage(env, "seed_bench", "--incidents", str(args.open), "--open", str(args.open))
        print(f"loaded in {time.monotonic() - began:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    far = timezone.now() + timedelta(days=3650)
    pending = Deadline.objects.filter(next_at__isnull=False)
    total_pending = pending.count()
    # Park every pending deadline in the future: the idle case.
    pending.update(next_at=far)

    idle, floor = [], []
    for _ in range(50):
        began = time.perf_counter()
        with transaction.atomic():
            Heartbeat.objects.filter(name="sweep").first()
        floor.append(time.perf_counter() - began)
        began = time.perf_counter()
        result = sweep_due_deadlines()
        idle.append(time.perf_counter() - began)
        assert result.claimed == 0
    idle_ms = statistics.median(idle) * 1000
    floor_ms = statistics.median(floor) * 1000

    # 1k due: three rounds, each on 1k deadlines of different incidents.
    due_times = []
    ids = list(
        Deadline.objects.filter(clock="respond", incident__state="new")
        .order_by("pk")
        .values_list("pk", flat=True)
    )[: 3 * args.due]
    for round_ in range(3):
        batch = ids[round_ * args.due : (round_ + 1) * args.due]
        now = timezone.now()
        # A fresh cycle: the bench can run again on the same database.
        cycle = int(time.time() * 1000) + round_
        Deadline.objects.filter(pk__in=batch).update(
            due_at=now, next_level=1, next_at=now, cycle=cycle
        )
        began = time.perf_counter()
        result = sweep_due_deadlines(limit=args.due)
        due_times.append(time.perf_counter() - began)
        assert len(result.notices) == len(batch), (len(result.notices), len(batch))
    due_s = statistics.median(due_times)

    # Breach-to-notice with a real worker and beat.
    Delivery.objects.filter(status="pending").update(status="failed")  # keep the worker idle
    batch = (
        ids[3 * args.due - args.latency_deadlines : 3 * args.due]
        if len(ids) >= 3 * args.due
        else ids[: args.latency_deadlines]
    )
    latency_cycle = int(time.time() * 1000) + 10
    start = timezone.now() + timedelta(seconds=3)
    spread = 20.0
    for i, pk in enumerate(batch):
        at = start + timedelta(seconds=spread * i / max(1, len(batch) - 1))
        Deadline.objects.filter(pk=pk).update(
            due_at=at, next_level=1, next_at=at, cycle=latency_cycle
        )
    # The rounds above queued their deliveries; start the real stack on an empty broker.
    shutil.rmtree(Path(env["RESPONDER_VAR_DIR"]) / "celery", ignore_errors=True)
    procs = [
        subprocess.Popen(
            [CELERY, "-A", "config", *role, "--loglevel", "WARNING"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        for role in (
            ["worker", "-Q", "celery,escalation,deliveries", "--concurrency", "2"],
            ["beat"],
        )
    ]
    try:
        time.sleep(3 + spread + args.sweep_seconds + 5)
    finally:
        for p in procs:
            os.killpg(p.pid, 9)
            p.wait()
    latencies = []
    for notice in Notice.objects.filter(
        incident__deadlines__pk__in=batch, clock="respond", cycle=latency_cycle
    ).distinct():
        latencies.append((notice.created_at - notice.deadline).total_seconds())
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else float("inf")
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("inf")

    # Put the parked deadlines back: every first level is due at its deadline.
    Deadline.objects.filter(next_at=far).update(next_at=F("due_at"))

    open_count = Incident.objects.filter(state__in=OPEN_STATES).count()
    print()
    print(
        f"Escalation benchmark: {open_count} open incidents, {total_pending} pending deadlines, "
        f"sweep every {args.sweep_seconds:g} s, {os.cpu_count()} CPUs"
    )
    print(f"floor (one-row transaction):        {floor_ms:8.2f} ms")
    print(
        f"idle sweep (median of 50):          {idle_ms:8.1f} ms   "
        f"{idle_ms / floor_ms:7.1f}x floor   target <= 20 ms"
    )
    print(
        f"{args.due}-due sweep (median of 3):       {due_s:8.2f} s    "
        f"{due_s * 1000 / floor_ms:7.0f}x floor   target <= 2 s"
    )
    print(
        f"breach-to-notice ({len(latencies)}/{len(batch)} notices): p50 {p50:5.1f} s, "
        f"p95 {p95:5.1f} s   target p95 <= {BREACH_TO_NOTICE_S:g} s"
    )
    ok = idle_ms <= 20 and due_s <= 2 and len(latencies) == len(batch) and p95 <= BREACH_TO_NOTICE_S
    print("targets:", "MET" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
