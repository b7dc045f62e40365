"""Fill a database in bulk with realistic incidents for benchmarks.

`manage.py seed_bench --incidents 100000 --open 2000` writes incidents over
the past two years for both demo teams, every state and level, each with the
rows the process would have written: gradings, assignments, log entries,
resolutions, verifications and its timeline. Rows go in with bulk_create in
batches (minutes for 100k on PostgreSQL), not through the services, so the
command builds exactly what the services would: deadlines from the SLA
policies, step timestamps in order, numbers from the per-day sequence.
"""

import random
import time
from collections import Counter
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from common import clock
from common.statistics import analyze
from escalation import deadlines
from escalation.models import Deadline
from escalation.sla import windows_for
from incidents import figures, tallies
from incidents.models import (
    OPEN_STATES,
    Assignment,
    Category,
    Grading,
    Incident,
    IncidentSequence,
    LogEntry,
    Resolution,
    Service,
    Severity,
    Source,
    State,
    Team,
    TimelineEvent,
    Verification,
)

User = get_user_model()

SEVERITY_WEIGHTS = [("P0", 3), ("P1", 12), ("P2", 40), ("P3", 45)]
OPEN_WEIGHTS = [
    (State.NEW, 15),
    (State.ACKNOWLEDGED, 15),
    (State.ASSIGNED, 20),
    (State.IN_PROGRESS, 40),
    (State.VERIFYING, 10),
]
CLOSED_WEIGHTS = [(State.ARCHIVED, 80), (State.RESOLVED, 10), (State.CANCELLED, 10)]

# (Chinese, English) fragments; combined they give varied, searchable text.
SUBJECTS = [
    ("订单服务", "order service"),
    ("支付网关", "payment gateway"),
    ("用户中心", "user center"),
    ("数据库", "database"),
    ("消息队列", "message queue"),
    ("报表系统", "reporting"),
    ("移动端 APP", "mobile app"),
    ("搜索服务", "search service"),
    ("对象存储", "object storage"),
    ("测试环境", "test environment"),
    ("负载均衡", "load balancer"),
    ("缓存集群", "cache cluster"),
]
PROBLEMS = [
    ("连接池耗尽导致超时", "connection pool exhausted, requests time out"),
    ("返回 HTTP 500", "returns HTTP 500"),
    ("响应缓慢", "responds slowly"),
    ("数据同步失败", "data sync fails"),
    ("页面无法加载", "page fails to load"),
    ("磁盘空间不足", "disk almost full"),
    ("证书过期", "certificate expired"),
    ("内存泄漏", "memory leak"),
    ("部署失败", "deployment fails"),
    ("第三方接口无响应", "third-party API not responding"),
    ("按钮点击无反应", "button does nothing"),
    ("CPU 使用率 100%", "CPU at 100%"),
]
FIXES = [
    ("重启服务", "restarted the service"),
    ("切换到备用节点", "failed over to the standby"),
    ("回滚版本", "rolled back the release"),
    ("扩容", "scaled out"),
    ("修复配置", "fixed the configuration"),
    ("清理磁盘", "cleaned up the disk"),
]


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


class Command(BaseCommand):
    help = "Bulk-load realistic incidents with their histories (for benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=100_000)
        parser.add_argument("--open", type=int, default=2_000, help="how many still open")
        parser.add_argument("--years", type=float, default=2.0)
        parser.add_argument("--batch", type=int, default=2_000)
        parser.add_argument("--seed", type=int, default=20261126)
        parser.add_argument(
            "--archived-only",
            action="store_true",
            help="every closed incident archived (none resolved or cancelled)",
        )

    def handle(self, *args, incidents, open, years, batch, seed, archived_only=False, **options):
        if incidents < 1 or not 0 <= open <= incidents:
            raise CommandError("need --incidents >= 1 and 0 <= --open <= --incidents")
        call_command("seed_demo", stdout=self.stdout)
        started = time.monotonic()
        rng = random.Random(seed)
        self.closed_weights = [(State.ARCHIVED, 1)] if archived_only else CLOSED_WEIGHTS
        self.now = clock.now()
        self.span = timedelta(days=365 * years)
        self.people = self._people()
        self.windows = {s: windows_for(s) for s in Severity.values}
        self.services = {
            team: list(Service.objects.filter(team__slug=team)) for team in self.people
        }
        self.sequence = dict(IncidentSequence.objects.values_list("day", "last"))
        counts: Counter = Counter()
        done = 0
        while done < incidents:
            size = min(batch, incidents - done)
            plans = [self._plan(rng, is_open=(done + i) < open) for i in range(size)]
            with transaction.atomic():
                self._write(rng, plans)
            counts.update(p["incident"].state for p in plans)
            done += size
            rate = done / (time.monotonic() - started)
            self.stdout.write(f"  {done}/{incidents} incidents ({rate:.0f}/s)")
        with transaction.atomic():
            for day, last in self.sequence.items():
                IncidentSequence.objects.update_or_create(day=day, defaults={"last": last})
        tallies.rebuild()
        figures.rebuild()
        # The open incidents' running clocks, as the services would have written
        # them (deadlines.desired), in bulk.
        steps = deadlines.ladder()
        rows = []
        for incident in Incident.objects.filter(state__in=OPEN_STATES).iterator(chunk_size=2000):
            windows = self.windows[incident.severity]
            for clock_name, (due_at, cycle) in deadlines.desired(incident, windows).items():
                rows.append(
                    Deadline(
                        incident_id=incident.pk,
                        clock=clock_name,
                        cycle=cycle,
                        due_at=due_at,
                        next_level=1,
                        next_at=deadlines.step_time(due_at, steps.get(clock_name, []), 1),
                    )
                )
        with transaction.atomic():
            Deadline.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        analyze()  # before autovacuum gets to it, the planner knows the tables as empty
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {incidents} incidents in {time.monotonic() - started:.0f} s: "
                + ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
            )
        )

    def _people(self) -> dict:
        people = {}
        for team in Team.objects.filter(slug__in=["platform", "payments"]):
            members = list(team.members.all())
            leads = list(team.tech_leads.all()) or list(User.objects.filter(username="admin"))
            people[team.slug] = {
                "team": team,
                "leads": leads,
                "workers": [u for u in members if u.username in ("engineer", "pay-engineer")]
                or members,
                "testers": [u for u in members if u.username == "tester"] or leads,
                "reporters": members,
            }
        return people

    def _number(self, at) -> str:
        day = timezone.localdate(at)
        self.sequence[day] = self.sequence.get(day, 0) + 1
        return f"INC-{day:%Y%m%d}-{self.sequence[day]:04d}"

    def _plan(self, rng: random.Random, *, is_open: bool) -> dict:
        team_slug = rng.choices(["platform", "payments"], [70, 30])[0]
        who = self.people[team_slug]
        severity = _pick(rng, SEVERITY_WEIGHTS)
        state = _pick(rng, OPEN_WEIGHTS if is_open else self.closed_weights)
        w = self.windows[severity]
        if is_open:
            received = self.now - timedelta(minutes=rng.uniform(10, 3 * 24 * 60))
        else:
            received = self.now - timedelta(
                seconds=rng.uniform(7 * 86400, self.span.total_seconds())
            )
        subject, problem = rng.choice(SUBJECTS), rng.choice(PROBLEMS)
        fix = rng.choice(FIXES)
        services = self.services[team_slug]
        users = rng.choice([1, 5, 30, 100, 800, 5000, 20000])
        host = f"{subject[1].split()[0]}-{rng.randint(1, 80)}"
        incident = Incident(
            number=self._number(received),
            title=f"{subject[0]}{problem[0]} / {subject[1].capitalize()} {problem[1]}",
            symptoms=f"{subject[0]}{problem[0]}，影响约 {users} 名用户（主机 {host}）。\n"
            f"The {subject[1]} {problem[1]} on host {host}; about {users} users affected.",
            impact_scope=f"{subject[0]} / {subject[1]}",
            affected_users=users,
            source=rng.choice(Source.values),
            category=rng.choice(Category.values),
            team=who["team"],
            service=rng.choice(services) if services and rng.random() < 0.7 else None,
            reporter=rng.choice(who["reporters"]),
            received_at=received,
            occurred_at=received - timedelta(minutes=rng.uniform(0, 30)),
            initial_severity=severity,
            severity=severity,
            urgent=severity == "P0",
            state=state,
            respond_by=received + w.respond,
            resolve_by=received + w.resolve,
        )
        lead = rng.choice(who["leads"])
        owner = rng.choice(who["workers"])
        tester = rng.choice(who["testers"])
        # Step times: how long each step took, late in some cases.
        ack = received + w.respond * rng.uniform(0.2, 1.6)
        assigned = ack + timedelta(minutes=rng.uniform(1, 20))
        started = assigned + timedelta(minutes=rng.uniform(1, 30))
        submitted = received + w.resolve * rng.uniform(0.3, 1.4)
        verified = submitted + timedelta(minutes=rng.uniform(5, 90))
        archived = verified + timedelta(hours=rng.uniform(1, 72))
        steps = {
            State.NEW: 0,
            State.ACKNOWLEDGED: 1,
            State.ASSIGNED: 2,
            State.IN_PROGRESS: 3,
            State.VERIFYING: 4,
            State.RESOLVED: 5,
            State.ARCHIVED: 6,
        }
        reached = steps.get(state, rng.randint(0, 3))  # cancelled: stopped somewhere
        if is_open:
            # Open work happened between reception and now, in order.
            last = self.now - timedelta(minutes=1)
            ack, assigned, started, submitted = (
                min(t, last - timedelta(minutes=4 - i))
                for i, t in enumerate((ack, assigned, started, submitted))
            )
        plan = {
            "incident": incident,
            "lead": lead,
            "owner": owner,
            "tester": tester,
            "events": [(received, incident.reporter, TimelineEvent.Kind.CREATED, "", State.NEW)],
            "gradings": [],
            "assignments": [],
            "logs": [],
            "resolution": None,
            "verification": None,
            "subject": subject,
            "problem": problem,
            "fix": fix,
        }
        events = plan["events"]
        if reached >= 1:
            incident.acknowledged_at = ack
            incident.update_clock_from = ack
            events.append(
                (ack, lead, TimelineEvent.Kind.ACKNOWLEDGED, State.NEW, State.ACKNOWLEDGED)
            )
            plan["gradings"].append(ack + timedelta(minutes=1))
            events.append((ack + timedelta(minutes=1), lead, TimelineEvent.Kind.GRADED, "", ""))
        if reached >= 2:
            incident.owner = owner
            incident.assigned_at = assigned
            incident.time_limit = incident.resolve_by
            incident.goal = f"{severity}: restore within {int(w.resolve.total_seconds() // 3600)} h"
            plan["assignments"].append(assigned)
            events.append(
                (assigned, lead, TimelineEvent.Kind.ASSIGNED, State.ACKNOWLEDGED, State.ASSIGNED)
            )
        if reached >= 3:
            incident.started_at = started
            kinds = [LogEntry.Kind.ACTION, LogEntry.Kind.PROGRESS, LogEntry.Kind.WORKAROUND]
            for i, kind in enumerate(kinds[: rng.randint(1, 3)]):
                at = started + timedelta(minutes=5 * i)
                if at >= self.now:
                    break
                plan["logs"].append((at, kind))
                if kind == LogEntry.Kind.PROGRESS:
                    incident.update_clock_from = at
                events.append(
                    (
                        at,
                        owner,
                        TimelineEvent.Kind.LOGGED,
                        State.ASSIGNED if i == 0 else "",
                        State.IN_PROGRESS if i == 0 else "",
                    )
                )
        if reached >= 4:
            incident.resolution_submitted_at = submitted
            plan["resolution"] = submitted
            events.append(
                (
                    submitted,
                    owner,
                    TimelineEvent.Kind.RESOLUTION_SUBMITTED,
                    State.IN_PROGRESS,
                    State.VERIFYING,
                )
            )
        if reached >= 5:
            incident.verification_count = 1
            incident.restored_at = submitted
            incident.resolved_at = verified
            incident.update_clock_from = None
            plan["verification"] = verified
            events.append(
                (
                    verified,
                    tester,
                    TimelineEvent.Kind.VERIFICATION_PASSED,
                    State.VERIFYING,
                    State.RESOLVED,
                )
            )
        if reached >= 6:
            incident.archived_at = archived
            incident.archive_summary = (
                f"{subject[0]}{problem[0]}，已{fix[0]}。/ {subject[1]} {problem[1]}; {fix[1]}."
            )
            events.append(
                (archived, lead, TimelineEvent.Kind.ARCHIVED, State.RESOLVED, State.ARCHIVED)
            )
        if state == State.CANCELLED:
            at = events[-1][0] + timedelta(minutes=rng.uniform(1, 30))
            incident.cancelled_at = at
            incident.cancel_reason = "重复事件 / duplicate"
            incident.update_clock_from = None
            prior = [State.NEW, State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS][reached]
            events.append((at, lead, TimelineEvent.Kind.CANCELLED, prior, State.CANCELLED))
        if incident.state in (
            State.ACKNOWLEDGED,
            State.ASSIGNED,
            State.IN_PROGRESS,
            State.VERIFYING,
        ):
            incident.next_update_by = incident.update_clock_from + w.update
        incident.version = len(events)
        return plan

    def _postmortems_and_index(self, rng, plans, resolutions) -> None:
        """Post-mortems for archived P0/P1 and the search documents of every archived
        incident, as incident_archive and postmortem_save would have written them."""
        from knowledge import search
        from knowledge.models import PostMortem, RootCause, SearchDocument
        from knowledge.services import carry_root_causes, incident_document

        by_incident = {r.incident_id: r for r in resolutions}
        archived = [p for p in plans if p["incident"].state == State.ARCHIVED]
        postmortems = {}
        for p in archived:
            incident = p["incident"]
            if incident.severity in ("P0", "P1"):
                postmortems[incident.pk] = PostMortem(
                    incident=incident,
                    author=p["lead"],
                    root_cause_category=rng.choice(RootCause.values),
                    root_cause=f"{p['subject'][0]}{p['problem'][0]} / {p['problem'][1]}",
                    contributing_factors="监控未覆盖 / monitoring gap",
                    lessons=f"{p['fix'][0]}前先检查 / check before: {p['fix'][1]}",
                    meeting_date=(incident.archived_at or self.now).date(),
                )
        PostMortem.objects.bulk_create(postmortems.values())
        carry_root_causes(postmortems.values())
        documents = []
        for p in archived:
            incident = p["incident"]
            resolution = by_incident.get(incident.pk)
            document = incident_document(
                incident,
                diagnoses=[f"{p['subject'][0]}{p['problem'][0]} / {p['problem'][1]}"]
                if p["gradings"]
                else [],
                log=[f"{p['fix'][0]} / {p['fix'][1]}" for _ in p["logs"]],
                resolutions=[resolution] if resolution else [],
                postmortem=postmortems.get(incident.pk),
            )
            documents.append(search.incident_row(incident, document))
        search.bulk_vectors(SearchDocument.objects.bulk_create(documents))

    def _write(self, rng: random.Random, plans: list[dict]) -> None:
        Incident.objects.bulk_create([p["incident"] for p in plans])
        gradings, assignments, logs, resolutions, events = [], [], [], [], []
        helpers = []
        for p in plans:
            incident = p["incident"]
            for at in p["gradings"]:
                gradings.append(
                    Grading(
                        incident=incident,
                        severity=incident.severity,
                        previous_severity=incident.severity,
                        diagnosis=f"{p['subject'][0]}{p['problem'][0]} / {p['problem'][1]}",
                        reproduced=rng.random() < 0.6,
                        graded_by=p["lead"],
                        graded_at=at,
                    )
                )
            for at in p["assignments"]:
                assignments.append(
                    Assignment(
                        incident=incident,
                        owner=p["owner"],
                        goal=incident.goal,
                        time_limit=incident.resolve_by,
                        assigned_by=p["lead"],
                        assigned_at=at,
                    )
                )
            for at, kind in p["logs"]:
                logs.append(
                    LogEntry(
                        incident=incident,
                        author=p["owner"],
                        kind=kind,
                        text=f"{p['fix'][0]} / {p['fix'][1]}",
                        happened_at=at,
                        created_at=at,
                    )
                )
            if p["resolution"]:
                passed = p["verification"] is not None
                resolutions.append(
                    Resolution(
                        incident=incident,
                        workaround=p["fix"][1],
                        fix=f"{p['fix'][0]} / {p['fix'][1]}",
                        submitted_by=p["owner"],
                        submitted_at=p["resolution"],
                        outcome=Resolution.Outcome.PASSED if passed else Resolution.Outcome.PENDING,
                    )
                )
            if incident.owner_id and rng.random() < 0.3 and p["tester"].pk != incident.owner_id:
                helpers.append(
                    Incident.helpers.through(incident_id=incident.pk, user_id=p["tester"].pk)
                )
            for at, actor, kind, from_state, to_state in p["events"]:
                events.append(
                    TimelineEvent(
                        incident=incident,
                        actor=actor,
                        kind=kind,
                        from_state=from_state,
                        to_state=to_state,
                        created_at=at,
                    )
                )
        Grading.objects.bulk_create(gradings)
        Assignment.objects.bulk_create(assignments)
        LogEntry.objects.bulk_create(logs)
        created = Resolution.objects.bulk_create(resolutions)
        Incident.helpers.through.objects.bulk_create(helpers)
        TimelineEvent.objects.bulk_create(events)
        self._postmortems_and_index(rng, plans, created)
        by_incident = {p["incident"].pk: p for p in plans}
        Verification.objects.bulk_create(
            Verification(
                incident_id=r.incident_id,
                resolution=r,
                functional_ok=True,
                regression_ok=True,
                monitoring_ok=True,
                passed=True,
                verifier=by_incident[r.incident_id]["tester"],
                verified_at=by_incident[r.incident_id]["verification"],
            )
            for r in created
            if by_incident[r.incident_id]["verification"]
        )
