"""Alert intake benchmark: Alertmanager deliveries on gunicorn + PostgreSQL.

    make bench            # or: .venv/bin/python bench/alerts.py [--cases throughput,storm]

Loads `seed_bench` data (100k incidents, 2k open) into BENCH_ALERTS_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/responder_bench_alerts) once,
makes one integration per case for the run (the ones of an earlier run are
revoked and the incidents they filed cancelled, so every run starts alike),
starts gunicorn with the Procfile's settings (2 sync workers, timeout 60) and
production settings, and runs these cases (`--cases` picks some):

latency: one request at a time, in interleaved rounds:
- floor: GET /api/v1/ping/ (token auth and a minimal view: the server's floor)
- 50:    POST /api/v1/alerts/<token>/, an Alertmanager v4 delivery of 50 alerts
         to a group with an open incident
- 500:   the same with 500 alerts (the most one delivery may carry)
- 50 first, 500 first: a group's first delivery, which files its incident and
         brings only new alerts
- 2x500: two deliveries of 500 alerts of one group at once (the slower of each
         pair), as two Alertmanager replicas send them
  Later deliveries are half repeats, of which one in ten resolves or fires
  again, and half alerts new to the group's open incident (an alert storm
  spreading). Targets: 500 alerts under 1 s (p50) and 500/50 <= 15, for both
  kinds of delivery.

throughput: `--clients` concurrent clients (keep-alive http.client, one thread
  each) post deliveries of 50 alerts for `--seconds`, round robin over
  `--tgroups` groups (their incidents filed beforehand, timed apart as
  "first"), each delivery half repeats and half new alerts as above. The floor
  is one client's GET /api/v1/ping/ requests/s, measured before and after in
  the same run. Targets: >= 2,000 alerts/s and alerts/s >= 2x the floor's
  requests/s; no error.

storm: `--storm-alerts` (10,000) new alerts in deliveries of 50 over
  `--storm-groups` groups, paced evenly over `--storm-seconds` (60) by
  `--storm-clients` clients. The intake is synchronous: when a delivery is
  answered its alerts are committed in an incident (the answer names it and
  counts them), so "webhook to incident" is the delivery's response time.
  Targets: every delivery answered 200 and its alerts all in an incident;
  the storm sent within 60 s; p95 webhook to incident <= 1 s; from the
  database: one incident per group holding all its alerts, its alert_count
  equal to its rows, storm notices per incident exactly one per threshold
  crossed (so never more than the thresholds).

duplicate: a group's second delivery (repeats, resolutions, new alerts) is
  sent again, and a group's first delivery is sent twice at once (two
  replicas): a snapshot of the integration's alert rows (status, events,
  changes, incident) and its incidents (state, counts, log entries,
  timeline, notices) is the same after the repeat, and the pair filed one
  incident with each alert counted once. OK or FAIL.

Every figure is printed next to the floor of the same run (a ratio where a
target has one); exit status 1 if a target is missed. About 3 to 4½ minutes.
"""

import argparse
import hashlib
import http.client
import json
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import ROOT, bench_env, ensure_incidents, gunicorn, manage, percentile

TARGET_500_MS = 1000
TARGET_RATIO = 15
TARGET_ALERTS_PER_S = 2000
TARGET_FLOOR_RATIO = 2.0
TARGET_STORM_P95_S = 1.0
TARGET_STORM_SECONDS = 60
NAME_MARK = "alerts-bench-"
CASES = ("latency", "throughput", "storm", "duplicate")

# Alert names, with the labels that tell the alerts of a group apart.
GROUPS = [
    ("KubePodCrashLooping", "warning", "Pod is crash looping"),
    ("NodeFilesystemSpaceFillingUp", "critical", "Filesystem is predicted to run out of space"),
    ("HTTPErrorRateHigh", "critical", "HTTP 5xx ratio above 5%"),
]

# The open incidents an earlier run filed are cancelled and its integrations revoked.
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

# One integration per case (the rate limit out of the way: the bench measures the
# intake, though the limiter's own queries still run on every delivery).
CREATE = """
import json
from incidents import alerts
from incidents.models import Team
team = Team.objects.get(slug="platform")
made = {{}}
for case in {cases!r}:
    integration, token = alerts.integration_create(
        name="{mark}{stamp}-" + case, team=team, rate_limit_per_minute=1_000_000
    )
    made[case] = [integration.pk, token, integration.storm_thresholds]
print(json.dumps(made))
"""

# The storm, read back from the database.
STORM_CHECK = """
import json
from django.db.models import Count
from escalation.models import Delivery, Notice
from incidents.models import Alert, Incident
rows = Alert.objects.filter(integration_id={pk}).order_by()
groups = list(rows.values("group_key").annotate(
    n=Count("id"), incidents=Count("incident", distinct=True)).values_list("n", "incidents"))
counted = dict(rows.exclude(incident=None).values("incident_id").annotate(
    n=Count("id")).values_list("incident_id", "n"))
stored = dict(Incident.objects.filter(pk__in=counted).values_list("pk", "alert_count"))
notices = Notice.objects.filter(incident_id__in=counted).order_by()
storm = dict(notices.filter(clock="storm").values("incident_id").annotate(
    n=Count("id")).values_list("incident_id", "n"))
print(json.dumps({{
    "groups": groups,
    "alerts": rows.count(),
    "unattached": rows.filter(incident=None).count(),
    "per_incident": [[counted[pk], stored[pk], storm.get(pk, 0)] for pk in counted],
    "notices": dict(notices.values("clock").annotate(n=Count("id")).values_list("clock", "n")),
    "deliveries": dict(Delivery.objects.filter(notice__in=notices.filter(clock="storm"))
        .order_by().values("channel").annotate(n=Count("id")).values_list("channel", "n")),
}}))
"""

# What a delivery may change, for the duplicate case: the integration's alert rows
# and its incidents with their log, timeline and notices.
SNAPSHOT = """
import json
from django.db.models import Count
from escalation.models import Notice
from incidents.models import Alert, Incident, LogEntry, TimelineEvent
rows = Alert.objects.filter(integration_id={pk}).order_by("fingerprint", "incident_id")
alerts = [
    [a.fingerprint, a.group_key, a.incident_id, a.status, a.events, a.changes, a.flapping,
     str(a.starts_at), str(a.ends_at), str(a.last_seen), str(a.changed_at), a.pending]
    for a in rows
]
ids = sorted({{a[2] for a in alerts if a[2]}})
def per(model):
    return dict(model.objects.filter(incident_id__in=ids).order_by().values("incident_id")
        .annotate(n=Count("id")).values_list("incident_id", "n"))
logs, events, notices = per(LogEntry), per(TimelineEvent), per(Notice)
incidents = [
    [i.pk, i.state, i.severity, i.alert_count, i.event_count,
     logs.get(i.pk, 0), events.get(i.pk, 0), notices.get(i.pk, 0)]
    for i in Incident.objects.filter(pk__in=ids).order_by("pk")
]
print(json.dumps({{"alerts": alerts, "incidents": incidents}}))
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


def payload(group: int, name: str, indexes, resolved_if=lambda i: False) -> bytes:
    """An Alertmanager v4 delivery of the alerts `indexes` of the group labelled
    `name` (its labels and groupKey carry it, so each name is a group of its own)."""
    alertname, severity, summary = GROUPS[group % len(GROUPS)]
    key = f'{{}}/{{severity="{severity}"}}:{{alertname="{alertname}", size="{name}"}}'
    alerts = []
    for i in indexes:
        labels = labels_of(alertname, severity, i)
        labels["size"] = name
        resolved = resolved_if(i)
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


def delivery(group: int, size: int, round_: int, tag: str = "") -> bytes:
    """One delivery of `size` alerts of a group: the first half the same alerts every
    round (from round 1 on, one in ten changed status since the round before), the
    second half new in each round."""
    half = size // 2
    return payload(
        group,
        f"{tag}{size}-{group}",
        [*range(half), *(i + round_ * size for i in range(half, size))],
        lambda i: round_ > 0 and i < half and (i + round_) % 10 == 0,
    )


def storm_delivery(group: int, part: int, size: int, tag: str) -> bytes:
    """The `part`-th delivery of a storm's group: `size` alerts it never sent before."""
    return payload(group, f"{tag}-{group}", range(part * size, (part + 1) * size))


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


class Client:
    """One keep-alive connection (http.client reconnects when the server closes it,
    as gunicorn's sync workers do after each response)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def send(self, method, path, body=None, headers=None):
        """(seconds, status, response body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            data, status = b"", type(exc).__name__
            self.conn.close()
            self.conn = None
        return time.perf_counter() - start, status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()


def answered_alerts(status, data) -> int:
    """How many alerts the intake's answer says it put in incidents."""
    if status != 200:
        return 0
    return sum(r["alerts"] for r in json.loads(data)["incidents"])


def floor_rate(port, headers, seconds):
    """One client's GET /api/v1/ping/: (requests, seconds spent, latencies)."""
    client, latencies = Client(port), []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        latencies.append(client.send("GET", "/api/v1/ping/", None, headers)[0])
    client.close()
    return len(latencies), time.perf_counter() - began, latencies


def hammer(port, path, bodies, clients, seconds=None, due=None):
    """`clients` threads post `bodies` in order, each as soon as it can (or at
    `due[i]` seconds after the start, if given), until all are sent or `seconds`
    have passed. Returns the per-request (latency, status, alerts answered, late
    by, sent at) and the time from the start to the last answer."""
    headers = {"Content-Type": "application/json"}
    lock = threading.Lock()
    taken = iter(range(len(bodies)))
    results = []
    began = time.perf_counter()

    def worker():
        client, mine = Client(port), []
        while True:
            with lock:
                i = next(taken, None)
            if i is None or seconds is not None and time.perf_counter() - began >= seconds:
                break
            late = 0.0
            if due is not None:
                wait = began + due[i] - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                late = max(0.0, -wait)
            sent_at = time.perf_counter() - began
            latency, status, data = client.send("POST", path, bodies[i], headers)
            mine.append((latency, status, answered_alerts(status, data), late, sent_at))
        client.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - began


def statuses(results) -> str:
    return ", ".join(f"{s}: {n}" for s, n in sorted(Counter(str(r[1]) for r in results).items()))


def run_latency(args, env, token, api_headers):
    """The one-at-a-time cases (the figures since the first alert bench)."""
    path = f"/api/v1/alerts/{token}/"
    json_headers = {"Content-Type": "application/json"}
    ping = ("GET", "/api/v1/ping/", None, api_headers)
    sizes = {"50": 50, "500": 500}
    samples = {name: [] for name in ["floor", *sizes, *(f"{n} first" for n in sizes), "2x500"]}
    errors = {name: [] for name in samples}

    def post(body):
        return timed(args.port, "POST", path, body, json_headers)

    def record(name, seconds, status):
        samples[name].append(seconds)
        if not isinstance(status, int) or status >= 300:
            errors[name].append(status)

    # Each group's first delivery files its incident.
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
    print(f"\nlatency: one request at a time, {args.groups} groups per size, {args.rounds} rounds")
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
    return ok


def run_throughput(args, env, token, api_headers):
    path = f"/api/v1/alerts/{token}/"
    size = args.batch
    # Bodies made beforehand (the clients share the server's CPUs), enough for 100
    # deliveries/s: 2.5x the target; were they all sent, the rate is still right.
    rounds = 1 + int(args.seconds * 100 / args.tgroups)
    firsts = [delivery(g, size, 0, "t") for g in range(args.tgroups)]
    # Round robin over the groups: each group's later deliveries in turn.
    bodies = [delivery(g, size, r, "t") for r in range(1, rounds + 1) for g in range(args.tgroups)]
    before = floor_rate(args.port, api_headers, args.floor_seconds)
    first, first_s = hammer(args.port, path, firsts, args.clients)
    results, spent = hammer(args.port, path, bodies, args.clients, seconds=args.seconds)
    after = floor_rate(args.port, api_headers, args.floor_seconds)

    floor_n, floor_s = before[0] + after[0], before[1] + after[1]
    floor_rps = floor_n / floor_s
    floor_lat = before[2] + after[2]
    print(
        f"\nthroughput: {args.clients} clients, deliveries of {size} alerts over "
        f"{args.tgroups} groups (half repeats, half new), {spent:.1f} s"
    )
    print(
        f"floor: one client GET /api/v1/ping/: {floor_n} requests, {floor_rps:.0f} requests/s, "
        f"p50 {percentile(floor_lat, 50) * 1000:.1f} ms "
        f"(before {before[0] / before[1]:.0f}/s, after {after[0] / after[1]:.0f}/s)"
    )
    ok = True
    for name, rs, secs in (("first", first, first_s), ("later", results, spent)):
        lat = [r[0] for r in rs]
        sent = sum(r[2] for r in rs)
        errors = [r for r in rs if r[1] != 200]
        ok = ok and not errors
        print(
            f"{name:<6} {len(rs):>5} requests {len(rs) / secs:>6.1f}/s  {sent:>6} alerts "
            f"{sent / secs:>7.0f}/s  p50 {percentile(lat, 50) * 1000:.0f} ms "
            f"p95 {percentile(lat, 95) * 1000:.0f} ms  max {max(lat) * 1000:.0f} ms  "
            f"statuses {statuses(rs)}"
        )
    alerts_per_s = sum(r[2] for r in results) / spent
    ratio = alerts_per_s / floor_rps
    met = alerts_per_s >= TARGET_ALERTS_PER_S and ratio >= TARGET_FLOOR_RATIO
    print(
        f"throughput: {alerts_per_s:.0f} alerts/s (target >= {TARGET_ALERTS_PER_S}), "
        f"floor {floor_rps:.0f} requests/s, alerts/s / floor requests/s = {ratio:.2f}x "
        f"(target >= {TARGET_FLOOR_RATIO:g}) -> {'MET' if met and ok else 'MISSED'}"
    )
    return met and ok


def run_storm(args, env, integration, api_headers):
    pk, token, thresholds = integration
    path = f"/api/v1/alerts/{token}/"
    size = args.batch
    count = args.storm_alerts // size
    per_group = -(-count // args.storm_groups)
    tag = f"storm{pk}"
    # Round robin: the groups' deliveries interleave, as a storm spreading.
    bodies = [
        storm_delivery(i % args.storm_groups, i // args.storm_groups, size, tag)
        for i in range(count)
    ]
    due = [i * args.storm_seconds / count for i in range(count)]
    floor = floor_rate(args.port, api_headers, args.floor_seconds)
    floor_p50 = percentile(floor[2], 50)
    results, spent = hammer(args.port, path, bodies, args.storm_clients, due=due)
    lat = [r[0] for r in results]
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    answered = sum(r[2] for r in results)
    late = max(r[3] for r in results)
    last_sent = max(r[4] for r in results)
    five = sum(1 for r in results if isinstance(r[1], int) and r[1] >= 500)
    print(
        f"\nstorm: {count * size} alerts in {count} deliveries of {size}, {args.storm_groups} "
        f"groups ({per_group} deliveries each), paced over {args.storm_seconds} s by "
        f"{args.storm_clients} clients; intake is synchronous: webhook to incident = "
        "the delivery's response time"
    )
    print(
        f"sent within {last_sent:.1f} s (target <= {TARGET_STORM_SECONDS}), all answered "
        f"within {spent:.1f} s, latest send {late * 1000:.0f} ms behind schedule; "
        f"statuses {statuses(results)}; "
        f"5xx: {five}; alerts answered in an incident: {answered}"
    )
    print(
        f"webhook to incident: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
        f"(target <= {TARGET_STORM_P95_S * 1000:.0f}), max {max(lat) * 1000:.0f} ms; "
        f"floor ping p50 {floor_p50 * 1000:.1f} ms: p95 = {p95 / floor_p50:.0f}x floor"
    )
    db = json.loads(shell(env, STORM_CHECK.format(pk=pk)))
    levels = sorted(t for t in thresholds if isinstance(t, int) and t > 0)
    per_group_alerts = args.storm_alerts // args.storm_groups
    one_each = len(db["groups"]) == args.storm_groups and all(i == 1 for _n, i in db["groups"])
    counts_ok = all(rows == stored for rows, stored, _s in db["per_incident"])
    storms = [s for _r, _c, s in db["per_incident"]]
    crossed = [sum(1 for t in levels if t <= rows) for rows, _c, _s in db["per_incident"]]
    notices_ok = storms == crossed and all(s <= len(levels) for s in storms)
    print(
        f"database: {len(db['groups'])} groups, incidents per group "
        f"{sorted(Counter(i for _n, i in db['groups']).items())}, {db['alerts']} alerts "
        f"({db['unattached']} without an incident), alert_count = rows in every incident: "
        f"{'yes' if counts_ok else 'NO'}"
    )
    print(
        f"storm notices per incident {sorted(Counter(storms).items())} (thresholds {levels}, "
        f"{per_group_alerts} alerts a group: {sorted(Counter(crossed).items())} expected); "
        f"notices by clock {db['notices']}; deliveries of storm notices {db['deliveries']} "
        "(chat robots' per-minute limits apply when the worker sends them)"
    )
    ok = (
        all(r[1] == 200 for r in results)
        and answered == count * size
        and last_sent <= TARGET_STORM_SECONDS
        and p95 <= TARGET_STORM_P95_S
        and one_each
        and db["unattached"] == 0
        and db["alerts"] == count * size
        and counts_ok
        and notices_ok
    )
    print("storm:", "MET" if ok else "MISSED")
    return ok


def run_duplicate(args, env, integration):
    pk, token, _thresholds = integration
    path = f"/api/v1/alerts/{token}/"
    headers = {"Content-Type": "application/json"}
    client = Client(args.port)

    def post(body):
        return client.send("POST", path, body, headers)[1]

    def snapshot():
        return json.loads(shell(env, SNAPSHOT.format(pk=pk)))

    size = args.batch
    first = [post(delivery(0, size, 0, "dup")), post(delivery(0, size, 1, "dup"))]
    second = delivery(0, size, 2, "dup")  # repeats, resolutions, firings again, new alerts
    first.append(post(second))
    before = snapshot()
    again = post(second)
    after = snapshot()
    same = before == after
    changed = sum(1 for a, b in zip(before["alerts"], after["alerts"], strict=False) if a != b)
    print(f"\nduplicate: a group's third delivery of {size} alerts sent again")
    print(
        f"statuses {first + [again]}; {len(before['alerts'])} alert rows, "
        f"{len(before['incidents'])} incident(s) before, {len(after['alerts'])} and "
        f"{len(after['incidents'])} after; rows changed {changed}; incident rows "
        f"{'equal' if before['incidents'] == after['incidents'] else 'DIFFER'} "
        f"{before['incidents']} -> {after['incidents']} -> {'OK' if same else 'FAIL'}"
    )
    # Two replicas send a group's first delivery at the same moment.
    pair_body = delivery(1, size, 0, "dup")
    with ThreadPoolExecutor(2) as pool:
        pair = list(
            pool.map(
                lambda body: Client(args.port).send("POST", path, body, headers)[1],
                [pair_body, pair_body],
            )
        )
    rows = [a for a in snapshot()["alerts"] if a[1] != before["alerts"][0][1]]
    incidents = {a[2] for a in rows}
    once = len(rows) == size and len(incidents) == 1 and all(a[4] == 1 for a in rows)
    print(
        f"the same first delivery twice at once: statuses {pair}; {len(incidents)} incident, "
        f"{len(rows)} alert rows, events per alert {sorted({a[4] for a in rows})} "
        f"-> {'OK' if once else 'FAIL'}"
    )
    ok = same and once and all(s == 200 for s in [*first, again, *pair])
    print("duplicate:", "OK" if ok else "FAIL")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES)
    )
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--groups", type=int, default=3, help="latency: groups per delivery size")
    parser.add_argument("--floor", type=int, default=20, help="latency: ping requests per round")
    parser.add_argument("--batch", type=int, default=50, help="alerts per delivery")
    parser.add_argument("--clients", type=int, default=6, help="throughput: concurrent clients")
    parser.add_argument("--seconds", type=float, default=15, help="throughput: how long")
    parser.add_argument("--tgroups", type=int, default=200, help="throughput: groups")
    parser.add_argument("--floor-seconds", type=float, default=3, help="one ping burst")
    parser.add_argument("--storm-alerts", type=int, default=10_000)
    parser.add_argument("--storm-groups", type=int, default=20)
    parser.add_argument("--storm-seconds", type=float, default=60, help="the storm's pace")
    parser.add_argument("--storm-clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (Procfile's)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads (Procfile: 1)")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")

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
    api_headers = {"Authorization": f"Token {api_token}"}
    made = json.loads(
        shell(
            env,
            CREATE.format(cases=cases, mark=NAME_MARK, stamp=time.strftime("%Y%m%d-%H%M%S")),
        )
    )
    totals = shell(
        env,
        "from incidents.models import Incident, Alert; "
        "print(Incident.objects.count(), Alert.objects.count())",
    ).split()
    print(
        f"\nAlert intake benchmark: {totals[0]} incidents and {totals[1]} alerts in the "
        f"database, gunicorn {args.workers} workers x {args.threads} threads, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    outcome = {}
    with gunicorn(env, args.port, args.workers, threads=args.threads):
        for _ in range(4 * args.workers):  # every worker answers once before timing
            timed(args.port, "GET", "/api/v1/ping/", None, api_headers)
        for case in cases:
            began = time.monotonic()
            if case == "latency":
                outcome[case] = run_latency(args, env, made[case][1], api_headers)
            elif case == "throughput":
                outcome[case] = run_throughput(args, env, made[case][1], api_headers)
            elif case == "storm":
                outcome[case] = run_storm(args, env, made[case], api_headers)
            else:
                outcome[case] = run_duplicate(args, env, made[case])
            print(f"({case}: {time.monotonic() - began:.0f} s)", flush=True)

    print()
    for case, ok in outcome.items():
        print(f"{case}: {'MET' if ok else 'MISSED'}")
    ok = all(outcome.values())
    print("targets:", "MET" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
