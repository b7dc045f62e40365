"""Load the demo: teams, the demo users of DESIGN.md and a dozen incidents.

Idempotent: users and teams are created or brought back to the demo state
(password from DEMO_PASSWORD); an incident is created only if no incident of
the same title exists in its team. Incidents are driven through the real
services with the clock set back, so their histories, deadlines and audit
trails are exactly what the product would have written; the escalation sweep
runs as each level falls due, so the notices are what a running beat would
have sent (on time, but for one filed after its deadline).

The status page gets three components of `platform`, one incident published
on them (in public words, with one follow-up update) and one public maintenance
window ahead, made again once the last one is over.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from common import clock
from escalation import unread
from escalation.engine import sweep_due_deadlines
from escalation.models import Deadline, Delivery, Layer, Override, Rotation
from escalation.roster import selectors as roster_selectors
from escalation.roster import services as roster_services
from escalation.status import services as status_services
from escalation.status.models import Component, Impact, PublicStatus
from incidents import services
from incidents.maintenance import services as maintenance_services
from incidents.maintenance.schedule import team_zone
from incidents.models import (
    Category,
    Incident,
    LogEntry,
    MaintenanceWindow,
    Service,
    Source,
    Team,
    TimelineEvent,
    UserProfile,
)
from incidents.rules import Role
from knowledge import services as knowledge_services
from knowledge.clocks import action_item_deadline
from knowledge.models import ActionItem
from knowledge.selectors import postmortem_prefill

User = get_user_model()

# How long after a level falls due the seeded sweep sends its notice: within
# beat's sweep interval, as a running beat would.
SWEEP_DELAY = timedelta(seconds=7)

# username, full name, role, team slug, tech lead of the team?
DEMO_USERS = [
    ("onduty", "赵敏 Zhao Min", Role.ON_DUTY, "platform", False),
    ("engineer", "李伟 Li Wei", Role.ENGINEER, "platform", False),
    ("tester", "王芳 Wang Fang", Role.TESTER, "platform", False),
    ("lead", "陈杰 Chen Jie", Role.TECH_LEAD, "platform", True),
    ("manager", "刘洋 Liu Yang", Role.MANAGER, "platform", False),
    ("admin", "周强 Zhou Qiang", Role.ADMIN, "platform", False),
    ("pay-engineer", "孙浩 Sun Hao", Role.ENGINEER, "payments", False),
]

TEAMS = [
    ("platform", "平台组 Platform", ["order-service", "user-center", "reporting", "database"]),
    ("payments", "支付组 Payments", ["payment-gateway", "settlement"]),
]

# The status page components of `platform`: slug, name, description, its services.
COMPONENTS = [
    ("website", "网站 / Website", "官网与用户账号 / the site and user accounts", ["user-center"]),
    (
        "ordering",
        "下单 / Ordering",
        "下单与订单查询 / placing and tracking orders",
        ["order-service", "database"],
    ),
    ("reports", "报表 / Reports", "报表与导出 / reports and exports", ["reporting"]),
]

# The public maintenance window ahead (on reporting: the Reports component shows it).
PUBLIC_WINDOW = {
    "title": "报表系统升级 / Reports upgrade",
    "description": "升级期间报表导出暂不可用。/ Report exports are unavailable during the upgrade.",
    "services": ["reporting"],
    "days_ahead": 2,
    "start": time(2, 0),
    "hours": 2,
}


@dataclass
class Step:
    """One thing that happens `minutes_ago` before now, done by `actor`."""

    minutes_ago: float
    actor: str
    action: str
    kwargs: dict = field(default_factory=dict)


@dataclass
class Scenario:
    team: str
    title: str
    severity: str
    minutes_ago: float  # when it was filed
    reporter: str
    symptoms: str
    impact_scope: str
    affected_users: int
    source: str = Source.USER_COMPLAINT
    category: str = Category.PRODUCTION
    service: str = ""
    urgent: bool = False
    phone_call_to: str = ""
    # When the problem was received, if it was filed only later (a phone call
    # written up afterwards); default: when it was filed.
    received_minutes_ago: float | None = None
    steps: list[Step] = field(default_factory=list)


def _log(minutes_ago, actor, kind, text):
    return Step(minutes_ago, actor, "log", {"kind": kind, "text": text})


SCENARIOS = [
    Scenario(
        team="platform",
        title="订单服务全部返回 HTTP 500 / Order service returns HTTP 500 for every request",
        severity="P0",
        minutes_ago=12,
        reporter="onduty",
        source=Source.MONITORING,
        service="order-service",
        urgent=True,
        phone_call_to="lead (陈杰 Chen Jie)",
        symptoms="下单接口全部 500，监控显示错误率 100%。\nPOST /api/orders returns HTTP 500; "
        "error rate 100% since 20:41.",
        impact_scope="核心下单流程不可用 / core ordering unavailable for all users",
        affected_users=12000,
    ),
    Scenario(
        team="platform",
        title="用户登录偶发超时 / Intermittent login timeouts",
        severity="P1",
        minutes_ago=3,
        reporter="onduty",
        service="user-center",
        symptoms="部分用户点击登录后 30 秒无响应。\nSome users wait 30 s after pressing Sign in.",
        impact_scope="登录模块部分不可用 / login partly unavailable",
        affected_users=300,
    ),
    Scenario(
        team="platform",
        title="测试环境部署失败 / Test environment deployment fails",
        severity="P2",
        minutes_ago=50,
        reporter="engineer",
        source=Source.INTERNAL_CHAT,
        category=Category.DEV_TEST,
        symptoms="流水线在镜像推送阶段报错 403。\nPipeline fails at image push with 403.",
        impact_scope="测试团队无法部署 / test team cannot deploy",
        affected_users=8,
        steps=[Step(40, "lead", "acknowledge")],
    ),
    Scenario(
        team="platform",
        title="APP 首页加载缓慢 / App home page loads slowly",
        severity="P1",
        minutes_ago=120,
        reporter="onduty",
        category=Category.USER_FACING,
        symptoms="首页首屏超过 8 秒。\nFirst paint of the home page takes over 8 s.",
        impact_scope="约 2000 名移动端用户 / about 2,000 mobile users",
        affected_users=2000,
        steps=[
            Step(110, "lead", "acknowledge"),
            Step(
                105,
                "lead",
                "grade",
                {
                    "severity": "P1",
                    "diagnosis": "CDN 回源命中率下降，首页接口 p99 8 s。\nCDN origin hit ratio "
                    "dropped; home API p99 at 8 s.",
                    "reproduced": True,
                    "findings": "Nginx 日志显示回源请求激增 / origin requests spiked in Nginx logs",
                },
            ),
            Step(100, "lead", "assign", {"owner": "engineer", "helpers": ["tester"]}),
        ],
    ),
    Scenario(
        team="platform",
        title="数据库连接池耗尽导致超时 / Database connection pool exhausted, requests time out",
        severity="P0",
        minutes_ago=180,
        reporter="onduty",
        source=Source.MONITORING,
        service="database",
        urgent=True,
        phone_call_to="lead (陈杰 Chen Jie)",
        symptoms="应用日志大量 'too many connections'，接口超时。\nApplication logs show 'too "
        "many connections'; APIs time out.",
        impact_scope="全站接口超时 / site-wide API timeouts",
        affected_users=50000,
        steps=[
            Step(177, "lead", "acknowledge"),
            Step(
                172,
                "lead",
                "grade",
                {
                    "severity": "P0",
                    "diagnosis": "数据库连接池耗尽，慢查询占满连接。\nConnection pool exhausted by "
                    "slow queries.",
                    "reproduced": False,
                    "findings": "DB CPU 95%，活跃连接 500/500 / DB CPU 95%, 500/500 connections",
                    "impact_assessment": "核心业务中断 / core business interrupted",
                },
            ),
            Step(170, "lead", "assign", {"owner": "engineer", "helpers": ["lead"]}),
            _log(
                165,
                "engineer",
                LogEntry.Kind.ACTION,
                "执行数据库重启脚本 / ran the DB restart script",
            ),
            # On the status page in public words only: no title, symptoms or names.
            Step(
                163,
                "lead",
                "publish",
                {
                    "components": ["ordering"],
                    "impact": Impact.MAJOR_OUTAGE,
                    "public_title": "下单请求超时 / Orders time out",
                    "message": "部分用户下单时遇到超时，我们正在排查。\n"
                    "Some users see timeouts when placing orders; we are investigating.",
                },
            ),
            _log(
                150,
                "engineer",
                LogEntry.Kind.WORKAROUND,
                "切换到备用库 / switched to the standby database",
            ),
            Step(
                148,
                "onduty",
                "public_update",
                {
                    "status": PublicStatus.IDENTIFIED,
                    "impact": Impact.PARTIAL_OUTAGE,
                    "message": "我们已找到原因并切换到备用系统，下单正在逐步恢复。\n"
                    "We found the cause and moved to a standby system; ordering is recovering.",
                },
            ),
            _log(
                140, "engineer", LogEntry.Kind.PROGRESS, "核心接口恢复 80% / 80% of core APIs back"
            ),
        ],
    ),
    Scenario(
        team="platform",
        title="第三方短信接口无响应 / Third-party SMS API not responding",
        severity="P2",
        minutes_ago=200,
        reporter="onduty",
        category=Category.DEV_TEST,
        symptoms="验证码短信发送失败，供应商接口超时。\n"
        "Verification SMS fail; the vendor's API times out.",
        impact_scope="注册和找回密码受影响 / sign-up and password reset affected",
        affected_users=150,
        steps=[
            Step(190, "lead", "acknowledge"),
            Step(
                185,
                "lead",
                "assign",
                {
                    "owner": "engineer",
                    "external_contacts": [
                        {
                            "name": "张经理 Zhang",
                            "organisation": "某短信服务商 SMS vendor",
                            "contact": "+86 400 000 0000",
                            "owes": "接口故障原因与恢复时间 / cause and ETA",
                        }
                    ],
                },
            ),
            _log(
                180,
                "engineer",
                LogEntry.Kind.ACTION,
                "抓包确认请求已发出 / packet capture: requests leave us",
            ),
            _log(
                170,
                "engineer",
                LogEntry.Kind.BLOCKER,
                "供应商未回复工单 / vendor has not answered the ticket",
            ),
            _log(
                130,
                "engineer",
                LogEntry.Kind.PROGRESS,
                "已切换备用通道 30% 流量 / 30% on backup channel",
            ),
            # Waiting on the vendor: the resolve and update clocks are held.
            Step(
                120,
                "engineer",
                "pause",
                {
                    "reason": "等待供应商修复接口 / waiting for the vendor to fix its API",
                    "waiting_on": "某短信服务商 SMS vendor",
                },
            ),
        ],
    ),
    Scenario(
        team="platform",
        title="报表页面字体错位 / Report page fonts misaligned",
        severity="P3",
        minutes_ago=300,
        reporter="onduty",
        category=Category.USER_FACING,
        service="reporting",
        symptoms="导出页面表头错位。\nTable headers shift on the export page.",
        impact_scope="单个用户反馈 / one user reported",
        affected_users=1,
        steps=[
            Step(280, "lead", "acknowledge"),
            Step(275, "lead", "assign", {"owner": "engineer"}),
            _log(200, "engineer", LogEntry.Kind.FIX, "修正 CSS 栅格 / fixed the CSS grid"),
            Step(60, "engineer", "resolve", {"fix": "修正表头 CSS / corrected header CSS"}),
        ],
    ),
    Scenario(
        team="platform",
        title="用户数据同步失败 / User data sync fails",
        severity="P1",
        minutes_ago=210,
        reporter="onduty",
        category=Category.USER_FACING,
        symptoms="移动端资料修改后未同步到 Web。\nProfile edits on mobile do not reach the web.",
        impact_scope="约 500 名用户 / about 500 users",
        affected_users=500,
        steps=[
            Step(205, "lead", "acknowledge"),
            Step(200, "lead", "assign", {"owner": "engineer", "helpers": ["tester"]}),
            _log(190, "engineer", LogEntry.Kind.ACTION, "重放同步队列 / replayed the sync queue"),
            Step(120, "engineer", "resolve", {"workaround": "重放队列 / replayed queue"}),
            Step(
                100,
                "tester",
                "verify",
                {
                    "functional_ok": True,
                    "regression_ok": False,
                    "monitoring_ok": True,
                    "regression_evidence": "支付页面资料显示旧数据 / payment page shows stale data",
                },
            ),
            _log(
                20, "engineer", LogEntry.Kind.PROGRESS, "定位到缓存未失效 / cache not invalidated"
            ),
        ],
    ),
    Scenario(
        team="platform",
        title="搜索结果为空 / Search returns no results",
        severity="P2",
        minutes_ago=26 * 60,
        reporter="onduty",
        category=Category.USER_FACING,
        symptoms="关键词搜索全部为空。\nEvery keyword search returns nothing.",
        impact_scope="搜索功能 / search feature",
        affected_users=800,
        steps=[
            Step(26 * 60 - 10, "lead", "acknowledge"),
            Step(26 * 60 - 15, "lead", "assign", {"owner": "engineer"}),
            _log(25 * 60, "engineer", LogEntry.Kind.ACTION, "重建索引 / rebuilt the index"),
            Step(24 * 60, "engineer", "resolve", {"fix": "重建搜索索引 / rebuilt search index"}),
            Step(
                23 * 60,
                "tester",
                "verify",
                {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
            ),
            Step(22 * 60, "onduty", "notify_users", {"message": "搜索已恢复 / search is back"}),
            Step(20 * 60, "onduty", "feedback", {"text": "用户确认正常 / users confirm it works"}),
        ],
    ),
    Scenario(
        team="platform",
        title="监控面板 CPU 图表缺失 / CPU chart missing on monitoring board",
        severity="P3",
        minutes_ago=3 * 24 * 60,
        reporter="engineer",
        source=Source.INTERNAL_CHAT,
        category=Category.INFRASTRUCTURE,
        symptoms="Grafana CPU 面板无数据。\nGrafana CPU panel shows no data.",
        impact_scope="运维内部 / ops only",
        affected_users=0,
        steps=[
            Step(3 * 24 * 60 - 30, "lead", "acknowledge"),
            Step(3 * 24 * 60 - 35, "lead", "assign", {"owner": "engineer"}),
            Step(
                3 * 24 * 60 - 200, "engineer", "resolve", {"fix": "修复采集器配置 / fixed exporter"}
            ),
            Step(
                3 * 24 * 60 - 260,
                "tester",
                "verify",
                {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
            ),
            Step(
                2 * 24 * 60,
                "lead",
                "archive",
                {"summary": "采集器配置错误，已修复并加入巡检 / exporter misconfigured; fixed"},
            ),
        ],
    ),
    Scenario(
        team="platform",
        title="订单库连接池耗尽导致下单超时 / Order DB pool exhausted, checkout timeouts",
        severity="P1",
        minutes_ago=12 * 24 * 60,
        reporter="onduty",
        source=Source.MONITORING,
        service="database",
        symptoms=(
            "下单接口大量超时，数据库连接池耗尽。\n"
            "Checkout requests time out; the database connection pool is exhausted."
        ),
        impact_scope="下单 / checkout",
        affected_users=800,
        steps=[
            Step(12 * 24 * 60 - 6, "lead", "acknowledge"),
            Step(
                12 * 24 * 60 - 10,
                "lead",
                "grade",
                {"severity": "P1", "diagnosis": "连接池被慢查询占满 / slow queries hold the pool"},
            ),
            Step(12 * 24 * 60 - 12, "lead", "assign", {"owner": "engineer"}),
            _log(
                12 * 24 * 60 - 20,
                "engineer",
                LogEntry.Kind.WORKAROUND,
                "临时调大连接池并重启 / raised the pool size and restarted",
            ),
            Step(
                12 * 24 * 60 - 90,
                "engineer",
                "resolve",
                {
                    "workaround": "调大连接池 / larger pool",
                    "fix": "为订单查询加索引 / indexed the order lookup query",
                },
            ),
            Step(
                12 * 24 * 60 - 150,
                "tester",
                "verify",
                {"functional_ok": True, "regression_ok": True, "monitoring_ok": True},
            ),
            Step(
                11 * 24 * 60,
                "lead",
                "postmortem",
                {
                    "summary": "P1 订单库连接池耗尽 / order DB pool exhausted for 90 min",
                    "root_cause_category": "code_defect",
                    "root_cause": "缺少索引的查询占满连接池 / an unindexed query held the pool",
                    "contributing_factors": "没有连接池饱和告警 / no pool saturation alert",
                    "lessons": "上线前检查慢查询 / check slow queries before release",
                    "attendees": ["lead", "engineer", "tester"],
                },
            ),
            Step(
                11 * 24 * 60 - 5,
                "lead",
                "action_item",
                {
                    "text": "增加连接池饱和告警 / alert on pool saturation",
                    "owner": "engineer",
                    "days": 5,
                },
            ),
            Step(
                11 * 24 * 60 - 6,
                "lead",
                "action_item",
                {
                    "text": "慢查询审查纳入发布流程 / slow-query review in releases",
                    "owner": "lead",
                    "days": 30,
                },
            ),
            Step(
                11 * 24 * 60 - 10,
                "lead",
                "archive",
                {"summary": "索引缺失导致连接池耗尽，已加索引 / missing index exhausted the pool"},
            ),
            Step(11 * 24 * 60 - 15, "lead", "article", {}),
        ],
    ),
    Scenario(
        team="platform",
        title="重复告警：订单服务 500 / Duplicate alert: order service 500",
        severity="P3",
        minutes_ago=10,
        reporter="onduty",
        source=Source.MONITORING,
        symptoms="与主事件重复。\nDuplicate of the main order-service incident.",
        impact_scope="无 / none",
        affected_users=0,
        steps=[Step(8, "lead", "cancel", {"reason": "重复事件 / duplicate"})],
    ),
    Scenario(
        team="payments",
        title="支付回调延迟 / Payment callbacks delayed",
        severity="P1",
        minutes_ago=90,
        reporter="pay-engineer",
        source=Source.MONITORING,
        service="payment-gateway",
        symptoms="支付成功后订单状态 10 分钟才更新。\nOrders stay unpaid for 10 min after payment.",
        impact_scope="支付用户 / paying users",
        affected_users=1200,
        steps=[
            Step(85, "admin", "acknowledge"),
            Step(80, "admin", "assign", {"owner": "pay-engineer"}),
            _log(
                70,
                "pay-engineer",
                LogEntry.Kind.ACTION,
                "扩容回调消费者 / scaled callback consumers",
            ),
        ],
    ),
    Scenario(
        team="payments",
        title="对账文件缺失 / Settlement file missing",
        severity="P2",
        # The bank phoned 88 minutes ago; it was written up 36 minutes later, after
        # its 30-minute respond deadline: the one notice the demo sends late.
        minutes_ago=52,
        received_minutes_ago=88,
        reporter="pay-engineer",
        source=Source.PHONE,
        service="settlement",
        symptoms="银行来电：对账文件未按时生成。\nThe bank phoned: the settlement file was not "
        "generated.",
        impact_scope="财务对账 / finance reconciliation",
        affected_users=3,
    ),
]


class Command(BaseCommand):
    help = "Create or refresh the demo teams, users and incidents (idempotent)."

    def handle(self, *args, **options):
        password = settings.DEMO_PASSWORD
        with transaction.atomic():
            users = self._users(password)
        with transaction.atomic():
            self._roster(users)
        with transaction.atomic():
            self._status_page(users)
        created = 0
        # Oldest first, so incident numbers follow the order of events.
        for scenario in sorted(SCENARIOS, key=lambda s: -s.minutes_ago):
            if Incident.objects.filter(team__slug=scenario.team, title=scenario.title).exists():
                continue
            with transaction.atomic():
                self._play(scenario, users)
            created += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(users)} users, {created} incidents created, "
                f"{Incident.objects.count()} in total."
            )
        )

    def _users(self, password: str) -> dict:
        teams = {}
        for slug, name, services_ in TEAMS:
            team, _ = Team.objects.get_or_create(slug=slug, defaults={"name": name})
            for service_slug in services_:
                Service.objects.get_or_create(
                    team=team, slug=service_slug, defaults={"name": service_slug}
                )
            teams[slug] = team
        users = {}
        for username, full_name, role, team_slug, leads in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            first, _, last = full_name.partition(" ")
            user.first_name, user.last_name = first, last
            user.email = f"{username}@example.com"
            user.is_active = True
            # Only administrators use /admin/ (rules.uses_admin); set on every run, so a
            # database seeded when leads and managers were staff loses that too.
            user.is_staff = role == Role.ADMIN
            user.is_superuser = role == Role.ADMIN
            user.set_password(password)
            user.save()
            user.groups.add(Group.objects.get(name=role))
            UserProfile.objects.get_or_create(user=user)
            team = teams[team_slug]
            team.members.add(user)
            if leads:
                team.tech_leads.add(user)
            if role == Role.MANAGER:
                for t in teams.values():
                    if t.manager_id is None:
                        t.manager = user
                        t.save(update_fields=["manager"])
            users[username] = user
        return users

    def _roster(self, users: dict) -> None:
        """A weekly rotation for `platform` in both layers, handed over on Mondays at
        09:00, and one override ahead (made again once the last one is over)."""
        team = Team.objects.get(slug="platform")
        lead = users["lead"]
        roster_ = roster_selectors.roster_for(team)
        today = clock.now().astimezone(roster_.zone).date()
        monday = today - timedelta(days=today.weekday())
        if not Rotation.objects.filter(team=team).exists():
            for name, layer, people in [
                ("Weekly primary", Layer.PRIMARY, ["engineer", "onduty"]),
                ("Weekly secondary", Layer.SECONDARY, ["lead", "engineer"]),
            ]:
                roster_services.rotation_save(
                    actor=lead,
                    team=team,
                    spec=roster_services.RotationSpec(
                        name=name,
                        layer=layer,
                        participants=[users[u] for u in people],
                        shift_days=7,
                        handoff_time=time(9, 0),
                        start_date=monday - timedelta(days=7),
                    ),
                )
        if not Override.objects.filter(team=team, end__gt=clock.now()).exists():
            tomorrow = today + timedelta(days=1)
            start = datetime.combine(tomorrow, time(9, 0), tzinfo=roster_.zone)
            roster_services.override_create(
                actor=lead,
                team=team,
                layer=Layer.PRIMARY,
                user=users["tester"],
                start=start,
                end=start + timedelta(hours=9),
                note="Covers the primary shift during the release rehearsal",
            )

    def _status_page(self, users: dict) -> None:
        """The components of `platform` (made once, by slug) and one public window ahead
        (made again once the last one is over), through the services as a lead would."""
        team = Team.objects.get(slug="platform")
        lead = users["lead"]
        for order, (slug, name, description, service_slugs) in enumerate(COMPONENTS, start=1):
            if Component.objects.filter(slug=slug).exists():
                continue
            status_services.component_create(
                actor=lead,
                slug=slug,
                name=name,
                team=team,
                description=description,
                order=order,
                services=Service.objects.filter(team=team, slug__in=service_slugs),
            )
        window = PUBLIC_WINDOW
        ahead = MaintenanceWindow.objects.filter(
            team=team, title=window["title"], public=True, ends_at__gt=clock.now()
        )
        if ahead.exists():
            return
        day = clock.now().astimezone(team_zone(team)).date() + timedelta(days=window["days_ahead"])
        start = datetime.combine(day, window["start"], tzinfo=team_zone(team))
        maintenance_services.window_create(
            actor=lead,
            team=team,
            title=window["title"],
            description=window["description"],
            starts_at=start,
            ends_at=start + timedelta(hours=window["hours"]),
            services=window["services"],
            public=True,
        )

    def _play(self, s: Scenario, users: dict) -> None:
        now = clock.now()
        team = Team.objects.get(slug=s.team)
        service = Service.objects.filter(team=team, slug=s.service).first() if s.service else None
        at = now - timedelta(minutes=s.minutes_ago)
        received = now - timedelta(minutes=s.received_minutes_ago or s.minutes_ago)
        with clock.frozen(at):
            incident = services.incident_create(
                actor=users[s.reporter],
                title=s.title,
                symptoms=s.symptoms,
                severity=s.severity,
                source=s.source,
                category=s.category,
                impact_scope=s.impact_scope,
                affected_users=s.affected_users,
                team=team,
                service=service,
                urgent=s.urgent,
                phone_call_to=s.phone_call_to,
                received_at=received,
                occurred_at=received - timedelta(minutes=2),
            )
        # Filed then, not when the demo was loaded (created_at is the row's own clock).
        Incident.objects.filter(pk=incident.pk).update(created_at=at)
        for step in s.steps:
            step_at = now - timedelta(minutes=step.minutes_ago)
            self._sweep(incident, filed=at, until=step_at)
            with clock.frozen(step_at):
                incident = self._do(step, incident, users)
        self._sweep(incident, filed=at, until=now)
        self._settle(incident)

    def _sweep(self, incident: Incident, *, filed: datetime, until: datetime) -> None:
        """Run the escalation sweep each time a level of the incident fell due before
        `until` (never before it was filed), as a running beat would have."""
        for _ in range(100):  # every level of every clock; far more than any demo needs
            due = self._next_due(incident, until)
            if due is None:
                return
            at = min(max(due, filed) + SWEEP_DELAY, until)
            with clock.frozen(at):
                sweep_due_deadlines(now=at)

    def _next_due(self, incident: Incident, until: datetime) -> datetime | None:
        """The first level of the incident's clocks, or of its improvement actions,
        due by `until` and not sent yet."""

        due = list(
            Deadline.objects.filter(incident=incident, next_at__lte=until).values_list(
                "next_at", flat=True
            )
        )
        items = ActionItem.objects.filter(
            postmortem__incident=incident, done_at__isnull=True, overdue_notified_at__isnull=True
        )
        due += [action_item_deadline(d) for d in items.values_list("due_date", flat=True)]
        return min((d for d in due if d <= until), default=None)

    def _settle(self, incident: Incident) -> None:
        """The seeded notices are history: their e-mails went out when they were
        written, and whoever acted on the incident afterwards had read theirs then."""
        acted = list(
            TimelineEvent.objects.filter(incident=incident, actor__isnull=False).values_list(
                "actor_id", "created_at"
            )
        )
        read = Counter()
        for delivery in Delivery.objects.filter(notice__incident=incident).select_related("notice"):
            sent_at = delivery.notice.created_at
            if delivery.status == Delivery.Status.PENDING:
                delivery.status = Delivery.Status.SENT
                delivery.attempts, delivery.sent_at, delivery.next_attempt_at = 1, sent_at, None
            if unread.is_unread(delivery):
                later = [at for who, at in acted if who == delivery.user_id and at >= sent_at]
                delivery.read_at = min(later, default=None)
                read[delivery.user_id] += delivery.read_at is not None
            delivery.save()
        for user_id, count in read.items():
            unread.read(user_id, count)

    def _do(self, step: Step, incident: Incident, users: dict) -> Incident:
        actor = users[step.actor]
        kwargs = dict(step.kwargs)
        if step.action in ("postmortem", "action_item", "article"):
            self._knowledge(step.action, incident, actor, kwargs, users)
            return Incident.objects.get(pk=incident.pk)
        if step.action == "publish":
            kwargs["components"] = Component.objects.filter(slug__in=kwargs["components"])
            status_services.incident_publish(incident=incident, actor=actor, **kwargs)
            return Incident.objects.get(pk=incident.pk)
        if step.action == "public_update":
            status_services.incident_public_update(incident=incident, actor=actor, **kwargs)
            return Incident.objects.get(pk=incident.pk)
        fn = {
            "acknowledge": services.incident_acknowledge,
            "grade": services.incident_grade,
            "assign": services.incident_assign,
            "log": services.incident_log,
            "resolve": services.incident_resolve,
            "verify": services.incident_verify,
            "notify_users": services.incident_notify_users,
            "feedback": services.incident_record_feedback,
            "archive": knowledge_services.incident_archive,
            "cancel": services.incident_cancel,
            "pause": services.incident_pause,
            "resume": services.incident_resume,
        }[step.action]
        if step.action == "assign":
            kwargs["owner"] = users[kwargs["owner"]]
            kwargs["helpers"] = [users[h] for h in kwargs.get("helpers", [])]
        result = fn(incident=incident, actor=actor, **kwargs)
        if isinstance(result, Incident):
            return result
        return Incident.objects.get(pk=incident.pk)

    def _knowledge(self, action, incident, actor, kwargs, users) -> None:

        today = clock.now().date()
        if action == "postmortem":
            kwargs["attendees"] = [users[u] for u in kwargs.get("attendees", [])]
            kwargs["timeline"] = postmortem_prefill(incident)["timeline"]
            knowledge_services.postmortem_save(
                incident=incident, actor=actor, meeting_date=today, **kwargs
            )
        elif action == "action_item":
            knowledge_services.action_item_add(
                incident=incident,
                actor=actor,
                text=kwargs["text"],
                owner=users[kwargs["owner"]],
                due_date=today + timedelta(days=kwargs["days"]),
            )
        else:
            knowledge_services.article_save(
                actor=actor, incident=incident, **knowledge_services.article_draft(incident)
            )
