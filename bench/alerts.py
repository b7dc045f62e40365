"""Alert intake benchmark: Alertmanager deliveries of 50 and 500 alerts on gunicorn + PostgreSQL.

    make bench            # or: .venv/bin/python bench/alerts.py [--rounds 10]

Loads `seed_bench` data (100k incidents, 2k open) into BENCH_ALERTS_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/responder_bench_alerts) once,
makes an integration for the run (`create_integration`; the one of an earlier
run is revoked and the incidents it filed are cancelled, so every run starts
alike), starts gunicorn with production settings and the Procfile's timeout,
and times, one request at a time, in interleaved rounds:

- floor: GET /api/v1/ping/ (token auth and a minimal view: the server's floor)
- 50:    POST /api/v1/alerts/<token>/, an Alertmanager v4 delivery of 50 alerts
         to a group with an open incident
- 500:   the same with 500 alerts (the most one delivery may carry)
- 50 first, 500 first: a group's first delivery, which files its incident and
         brings only new alerts (the audit's case: 25 s for 500)
- 2x500: two deliveries of 500 alerts of one group at once (the slower of each
         pair), as two Alertmanager replicas send them

Deliveries carry realistic labels (Kubernetes pods, node filesystems, HTTP
routes) in a few groups per size; each group's first delivery files its
incident (not measured). Each later one is half repeats, of which one in ten
resolves or fires again, and half alerts new to the group's open incident (an
alert storm spreading: each new alert was a log entry and an incident update
before, and every lookup of the group grew with them).

Prints p50/p99 per case, the ratio of each p50 to the floor's and the ratio of
the 500-alert p50 to the 50-alert one. Targets, for both kinds of delivery: 500
alerts under 1 s (p50), 500/50 <= 15 (the cost grows with the alerts, not
their square); no error. Exit status 1 if one is missed.
"""

import argparse
import hashlib
import http.client
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import ROOT, bench_env, ensure_incidents, gunicorn, manage, percentile

TARGET_500_MS = 1000
TARGET_RATIO = 15
NAME_MARK = "alerts-bench-"

# Alert names, with the labels that tell the alerts of a group apart.
GROUPS = [
    ("KubePodCrashLooping", "warning", "Pod is crash looping"),
    ("NodeFilesystemSpaceFillingUp", "critical", "Filesystem is predicted to run out of space"),
    ("HTTPErrorRateHigh", "critical", "HTTP 5xx ratio above 5%"),
]

# The open incidents an earlier run filed are cancelled and its integration revoked.
RESET = f"""
from django.contrib.auth import get_user_model
from incidents import alerts, services
from incidents.models import OPEN_STATES, AlertIntegration, Incident
admin = get_user_model().objects.get(username="admin")
old = AlertIntegration.objects.filter(name__startswith="{NAME_MARK}", revoked_at=None)
n = 0
for incident in Incident.objects.filter(
    state__in=OPEN_STATES, alerts__integration__in=old
).distinct():
    services.incident_cancel(incident=incident, actor=admin, reason="alert bench: reset")
    n += 1
for integration in old:
    alerts.integration_revoke(integration=integration)
print(n)
"""


def shell(env, code):
    return manage(env, "shell", "-c", code, capture=True).strip().splitlines()[-1]


def labels_of(alertname: str, severity: str, i: int) -> dict:
    common = {"alertname": alertname, "severity": severity, "env": "prod", "cluster": "cn-east-1"}
    if alertname == "KubePodCrashLooping":
        return common | {
            "namespace": f"shop-{i % 7}",
            "pod": f"checkout-{i:04d}-7c9d8f6b5-x{i % 10}k2p",
            "container": "app",
            "job": "kube-state-metrics",
            "service": "checkout",
        }
    if alertname == "NodeFilesystemSpaceFillingUp":
        return common | {
            "instance": f"10.12.{i // 250}.{i % 250}:9100",
            "device": "/dev/nvme0n1p1",
            "fstype": "ext4",
            "mountpoint": "/var/lib/containerd",
            "job": "node-exporter",
        }
    return common | {
        "service": "orders-api",
        "route": f"/api/v2/orders/{i:04d}",
        "method": ["GET", "POST", "PUT"][i % 3],
        "instance": f"orders-api-{i % 40}:8080",
        "job": "orders-api",
    }


def delivery(group: int, size: int, round_: int) -> bytes:
    """One Alertmanager v4 delivery of `size` alerts of a group: the first half the same
    alerts every round (from round 1 on, one in ten changed status since the round
    before), the second half new in each round."""
    alertname, severity, summary = GROUPS[group % len(GROUPS)]
    key = f'{{}}/{{severity="{severity}"}}:{{alertname="{alertname}", size="{size}-{group}"}}'
    alerts = []
    for i in range(size):
        new = i >= size // 2
        labels = labels_of(alertname, severity, i + round_ * size if new else i)
        labels["size"] = f"{size}-{group}"
        resolved = round_ > 0 and not new and (i + round_) % 10 == 0
        alerts.append(
            {
                "status": "resolved" if resolved else "firing",
                "labels": labels,
                "annotations": {
                    "summary": summary,
                    "description": f"{summary} on {labels.get('instance') or labels.get('pod')}",
                    "runbook_url": f"https://runbooks.example.com/{alertname.lower()}",
                },
                "startsAt": "2026-11-26T01:55:00.000Z",
                "endsAt": "2026-11-26T02:10:00.000Z" if resolved else "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus-0:9090/graph?g0.expr={alertname}",
                "fingerprint": hashlib.sha256(
                    json.dumps(labels, sort_keys=True).encode()
                ).hexdigest()[:16],
            }
        )
    firing = [a for a in alerts if a["status"] == "firing"]
    return json.dumps(
        {
            "version": "4",
            "groupKey": key,
            "truncatedAlerts": 0,
            "status": "firing" if firing else "resolved",
            "receiver": "responder",
            "groupLabels": {"alertname": alertname},
            "commonLabels": {"alertname": alertname, "severity": severity, "env": "prod"},
            "commonAnnotations": {"summary": summary},
            "externalURL": "http://alertmanager-0:9093",
            "alerts": alerts,
        }
    ).encode()


def timed(port, method, path, body=None, headers=None):
    """(seconds, status) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        status = response.status
    except OSError as exc:
        status = type(exc).__name__
    finally:
        conn.close()
    return time.perf_counter() - start, status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--groups", type=int, default=3, help="groups per delivery size")
    parser.add_argument("--floor", type=int, default=20, help="ping requests per round")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (Procfile's)")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    env = bench_env(
        DATABASE_URL=os.environ.get(
            "BENCH_ALERTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/responder_bench_alerts"
        ),
        RESPONDER_VAR_DIR=str(ROOT / "var" / "bench-alerts"),
        GUNICORN_CMD_ARGS="--timeout 60",  # the Procfile's
    )
    env.pop("REDIS_URL", None)  # Celery on the filesystem broker: nothing here needs a worker
    if not ensure_incidents(env, args.incidents, args.open):
        manage(env, "seed_demo")
    cancelled = shell(env, RESET)
    if int(cancelled):
        print(f"cancelled {cancelled} open incidents left by an earlier run", flush=True)
    shell(env, "from django.db import connection; connection.cursor().execute('VACUUM ANALYZE')")
    api_token = manage(env, "drf_create_token", "lead", capture=True).split()[2]
    out = manage(
        env,
        "create_integration",
        f"{NAME_MARK}{time.strftime('%Y%m%d-%H%M%S')}",
        "--team",
        "platform",
        "--rate-limit",
        "1000000",
        capture=True,
    ).splitlines()
    token = out[out.index("Token (shown once, store it now):") + 1].strip()
    alerts_path = f"/api/v1/alerts/{token}/"
    json_headers = {"Content-Type": "application/json"}
    ping = ("GET", "/api/v1/ping/", None, {"Authorization": f"Token {api_token}"})

    sizes = {"50": 50, "500": 500}
    samples = {name: [] for name in ["floor", *sizes, *(f"{n} first" for n in sizes), "2x500"]}
    errors = {name: [] for name in samples}

    def post(body):
        return timed(args.port, "POST", alerts_path, body, json_headers)

    def record(name, seconds, status):
        samples[name].append(seconds)
        if not isinstance(status, int) or status >= 300:
            errors[name].append(status)

    with gunicorn(env, args.port, args.workers):
        # Warm-up: every worker answers, and each group's first delivery files its incident.
        for _ in range(4 * args.workers):
            timed(args.port, *ping)
        for name, size in sizes.items():
            for group in range(args.groups + (size == 500)):
                _seconds, status = post(delivery(group, size, 0))
                if status != 200:
                    errors[name].append(status)
        for round_ in range(1, args.rounds + 1):
            for _ in range(args.floor):
                record("floor", *timed(args.port, *ping))
            for name, size in sizes.items():
                for group in range(args.groups):
                    record(name, *post(delivery(group, size, round_)))
                # A group's first delivery: it files the incident, every alert is new.
                record(f"{name} first", *post(delivery(args.groups + round_, size, 0)))
            # Two replicas deliver the same group at once (a group of its own).
            body = delivery(args.groups, 500, round_)
            with ThreadPoolExecutor(2) as pool:
                pair = list(pool.map(post, [body, body]))
            record("2x500", max(s for s, _ in pair), next((st for _, st in pair if st != 200), 200))

    results = {
        name: {
            "requests": len(values),
            "p50": percentile(values, 50) * 1000,
            "p99": percentile(values, 99) * 1000,
        }
        for name, values in samples.items()
    }
    floor = results["floor"]["p50"]
    incidents = shell(
        env,
        "from incidents.models import Incident, Alert; "
        "print(Incident.objects.count(), Alert.objects.count())",
    ).split()
    print()
    print(
        f"Alert intake benchmark: {incidents[0]} incidents and {incidents[1]} alerts in the "
        f"database, gunicorn {args.workers} workers, {args.groups} groups per size, "
        f"{args.rounds} rounds, {os.cpu_count()} CPUs"
    )
    print(f"{'case':<10} {'requests':>8} {'p50 ms':>9} {'p99 ms':>9} {'p50/floor':>9}")
    for name, r in results.items():
        print(
            f"{name:<10} {r['requests']:>8} {r['p50']:>9.1f} {r['p99']:>9.1f} "
            f"{r['p50'] / floor:>8.1f}x"
            + (f"  errors: {sorted(set(map(str, errors[name])))}" if errors[name] else "")
        )
    ok = not any(errors.values())
    for kind in ("", " first"):
        p500 = results[f"500{kind}"]["p50"]
        ratio = p500 / results[f"50{kind}"]["p50"]
        met = p500 < TARGET_500_MS and ratio <= TARGET_RATIO
        ok = ok and met
        print(
            f"500{kind}: p50 {p500:.0f} ms (target < {TARGET_500_MS}), 500/50 p50 ratio "
            f"{ratio:.1f}x (target <= {TARGET_RATIO}) -> {'MET' if met else 'MISSED'}"
        )
    print("targets:", "MET" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
