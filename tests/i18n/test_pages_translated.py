"""Every page of DESIGN.md, for each role, in zh-Hans without English UI text
left, and in English without Chinese UI text left (the data aside)."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone, translation

from common.clock import now as clock_now
from common.responses import unavailable
from escalation.engine import sweep_due_deadlines
from escalation.models import BusinessCalendar, Rotation
from escalation.roster import services as roster_services
from incidents import services
from incidents.models import Team, UserProfile
from knowledge import services as knowledge
from tests.factories import (
    archived_incident,
    in_progress_incident,
    make_rotation,
    new_incident,
    resolved_incident,
    verifying_incident,
)

pytestmark = pytest.mark.django_db

ROLES = ["onduty", "engineer", "owner", "tester", "lead", "manager", "admin"]

# Words that are the same in both languages: codes, units of the data, names.
KEEP = {
    "responder",
    "p0",
    "p1",
    "p2",
    "p3",
    "mtta",
    "mttr",
    "p90",
    "csv",
    "xlsx",
    "api",
    "http",
    "authorization",  # the literal header a script sends: Authorization: Token …
    "token",
    "kib",
    "axes",  # django-axes, the admin section where locks are lifted
    "sla",
    "inc",
    "utc",
    "asia",
    "shanghai",
    "hong",
    "kong",
    "taipei",
    "singapore",
    "example",
    "com",
    "webhook",
    "slack",
    "wecom",
    "dingtalk",
    "feishu",
    "json",
    "url",
    "svg",
    "min",
    "ok",
    "english",
    "cpu",
    "cst",  # China Standard Time, as zoneinfo abbreviates Asia/Shanghai (like UTC)
    "outlook",  # the calendar programs a feed is for
    "apple",
}
CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


class _Text(HTMLParser):
    """The text a person reads: no scripts, styles, attributes or option lists of zones."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "svg"):
            self._skip += 1
        a = dict(attrs)
        for name in ("placeholder", "aria-label", "title", "alt"):
            if a.get(name):
                self.parts.append(a[name])
        if tag == "select" and a.get("name") == "time_zone":
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg", "select") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


@pytest.fixture
def world(request, clock, onduty, engineer, owner, helper, tester, lead, manager, admin):
    """Incidents in every state whose data is in one language only."""
    zh = request.param == "zh-hans"

    def t(zh_text, en_text):
        return zh_text if zh else en_text

    common = {
        "reporter": onduty,
        "symptoms": t("支付页面报错", "The payment page shows an error"),
        "impact_scope": t("全部用户", "all users"),
    }
    made = {
        "new": new_incident(
            title=t("订单服务报错", "Order service errors"), severity="P0", **common
        ),
        "working": in_progress_incident(
            lead=lead,
            owner=owner,
            helpers=[helper],
            title=t("支付回调超时", "Payment callbacks slow"),
            **common,
        ),
        "verifying": verifying_incident(
            lead=lead, owner=owner, title=t("部署失败", "Deploy fails"), **common
        ),
        "resolved": resolved_incident(
            lead=lead, owner=owner, tester=tester, title=t("推送延迟", "Push delayed"), **common
        ),
        "archived": archived_incident(
            lead=lead,
            owner=owner,
            tester=tester,
            title=t("连接池耗尽", "Connection pool exhausted"),
            severity="P1",
            **common,
        ),
    }
    services.incident_log(
        incident=made["working"],
        actor=owner,
        kind="blocker",
        text=t("等待供应商", "Waiting for vendor"),
    )
    knowledge.article_save(
        actor=lead,
        incident=made["archived"],
        title=t("连接池处理", "Handling the pool"),
        fix=t("加索引", "Add an index"),
        tags=t("数据库", "database"),
    )
    # The post-mortem written by the factory is English: rewrite it for the zh run.
    knowledge.postmortem_save(
        incident=made["archived"],
        actor=lead,
        expected_version=1,
        summary=t("复盘", "Review"),
        root_cause_category="capacity",
        root_cause=t("连接池太小", "Pool too small"),
        contributing_factors=t("无告警", "No alert"),
        lessons=t("加告警", "Add alerts"),
        meeting_date=timezone.localdate(),
        attendees=[lead, owner],
        timeline=t("时间线", "Timeline"),
    )
    for item in made["archived"].postmortem.action_items.all():
        item.text = t("加连接池告警", "Alert on the pool")
        item.save(update_fields=["text"])
    # A duty roster: a weekly rotation and an override, named in the run's language.
    team = Team.objects.get(slug="platform")
    make_rotation(
        actor=lead, team=team, people=[engineer, onduty], name=t("每周主值班", "Weekly primary")
    )
    roster_services.override_create(
        actor=lead,
        team=team,
        layer="primary",
        user=tester,
        start=clock_now() + timedelta(days=1),
        end=clock_now() + timedelta(days=1, hours=8),
        note=t("发布演练", "Release rehearsal"),
    )
    # The seeded business calendar is data too (its 2027 warning names it).
    BusinessCalendar.objects.update(name=t("中国大陆工作日", "Mainland China working days"))
    clock.shift(timedelta(hours=1))
    sweep_due_deadlines()
    for user in (onduty, engineer, owner, helper, tester, lead, manager, admin):
        UserProfile.objects.update_or_create(user=user, defaults={"language": request.param})
    return made


def pages(made):
    urls = [
        "/dashboard/",
        "/incidents/new/",
        "/my/",
        "/archive/",
        "/knowledge/",
        "/knowledge/?q=" + ("连接池" if False else "pool"),
        "/metrics/",
        "/notifications/",
        "/accounts/password/",
        "/accounts/profile/",
        "/accounts/token/",
    ]
    for incident in made.values():
        urls += [f"/incidents/{incident.pk}/", f"/incidents/{incident.pk}/print/"]
    urls += [f"/incidents/{made['archived'].pk}/postmortem/"]
    urls += [f"/knowledge/articles/{made['archived'].articles.get().pk}/"]
    urls += ["/oncall/", "/oncall/platform/", "/oncall/platform/rotations/new/"]
    urls += [f"/oncall/platform/rotations/{Rotation.objects.get().pk}/"]
    return urls


def data_strings() -> list[str]:
    """Every text the users typed or the system stored: the data, not the UI."""
    from django.contrib.auth import get_user_model

    from escalation.models import Delivery, Override
    from incidents.models import (
        Grading,
        Incident,
        LogEntry,
        Resolution,
        Team,
        TimelineEvent,
        UserFeedback,
        UserNotification,
        Verification,
    )
    from knowledge.models import ActionItem, KnowledgeArticle, PostMortem, SearchDocument

    fields = {
        Incident: ["number", "title", "symptoms", "impact_scope", "goal", "archive_summary"],
        LogEntry: ["text"],
        Resolution: ["workaround", "fix"],
        Verification: ["notes", "functional_evidence", "regression_evidence"],
        Grading: ["diagnosis", "findings", "impact_assessment"],
        TimelineEvent: ["message"],
        UserNotification: ["message"],
        UserFeedback: ["text"],
        PostMortem: ["summary", "timeline", "root_cause", "contributing_factors", "lessons"],
        ActionItem: ["text"],
        KnowledgeArticle: [
            "title",
            "symptoms",
            "diagnosis",
            "workaround",
            "fix",
            "lessons",
            "tags",
        ],
        SearchDocument: ["title", "excerpt"],
        Team: ["name", "slug"],
        Delivery: ["address", "last_error"],
        Rotation: ["name"],
        Override: ["note"],
        get_user_model(): ["username", "first_name", "last_name", "email"],
    }
    found = set()
    for model, names in fields.items():
        for row in model.objects.values_list(*names):
            for value in row:
                for line in str(value or "").splitlines():
                    if line.strip():
                        found.add(line.strip())
    # The facts of the audit trail's texts hold what people typed (an action's text).
    for facts in TimelineEvent.objects.values_list("data", flat=True):
        for value in facts.values() if isinstance(facts, dict) else []:
            for line in str(value if isinstance(value, str) else "").splitlines():
                if line.strip():
                    found.add(line.strip())
    return sorted(found, key=len, reverse=True)


def without_data(text: str) -> str:
    text = " ".join(text.split())
    for value in data_strings():
        text = text.replace(" ".join(value.split()), " ")
    return text


def leftover_english(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z]{2,}", without_data(text))
    return sorted({w for w in words if w.lower() not in KEEP})


@pytest.mark.parametrize("world", ["zh-hans"], indirect=True)
@pytest.mark.parametrize("role", ROLES)
def test_it_shows_no_english_ui_text_in_chinese(request, client, world, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    checked, problems = 0, {}
    urls = pages(world)
    urls[urls.index("/knowledge/?q=pool")] = "/knowledge/?q=连接池"
    urls += ["/", "/admin/"]
    for url in urls:
        response = client.get(url, follow=True)
        if response.status_code != 200:
            assert response.status_code in (403, 404), (url, response.status_code)
            continue
        checked += 1
        left = leftover_english(visible_text(response.content.decode()))
        if left:
            problems[url] = left
    assert problems == {}, f"{role}: English left: {problems}"
    assert checked >= 8


@pytest.mark.parametrize("world", ["en"], indirect=True)
@pytest.mark.parametrize("role", ROLES)
def test_it_shows_no_chinese_ui_text_in_english(request, client, world, role):
    client.force_login(request.getfixturevalue(role))
    checked = 0
    for url in pages(world):
        response = client.get(url)
        if response.status_code != 200:
            continue
        checked += 1
        text = without_data(visible_text(response.content.decode()))
        # The language switch names Chinese in Chinese, as language menus do.
        text = text.replace("简体中文", "")
        assert not CJK.findall(text), f"{url}: Chinese left: {set(CJK.findall(text))}"
    assert checked >= 8


def test_the_api_explains_errors_in_the_callers_language(engineer, token_client):
    api = token_client(engineer)
    chinese = api.get("/api/v1/knowledge/", {"q": " "}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    english = api.get("/api/v1/knowledge/", {"q": " "}, HTTP_ACCEPT_LANGUAGE="en")
    assert chinese.json() == {"q": ["请输入要搜索的词。"]}
    assert english.json() == {"q": ["Give the words to search for."]}
    missing = api.get("/api/v1/incidents/999999/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert missing.status_code == 404
    assert CJK.search(missing.json()["detail"])


@pytest.mark.parametrize(("language", "words"), [("zh-hans", "登录"), ("en", "Sign in")])
def test_the_sign_in_page_follows_the_browser(client, language, words):
    accept = "zh-CN,zh;q=0.9" if language == "zh-hans" else "en-US,en;q=0.9"
    body = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert words in body
    text = visible_text(body).replace("简体中文", "")
    if language == "zh-hans":
        assert leftover_english(text) == []
    else:
        assert not CJK.findall(text)


def test_the_error_pages_speak_chinese(clock, engineer):
    """Sign-in locked (429), too large (413) and database unavailable (503)."""
    browser = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    for _ in range(5):
        locked = browser.post("/accounts/login/", {"username": "engineer", "password": "x"})
    too_large = browser.post("/incidents/new/", {"symptoms": "x" * (2 * 1024 * 1024)})
    with translation.override("zh-hans"):
        down = unavailable(RequestFactory().get("/dashboard/"))

    for response, status in ((locked, 429), (too_large, 413), (down, 503)):
        assert response.status_code == status
        text = visible_text(response.content.decode())
        assert leftover_english(text) == [], (status, leftover_english(text))
        assert CJK.search(text), status
