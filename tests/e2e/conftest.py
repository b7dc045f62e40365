"""Browser tests: pytest-playwright driving Debian's Chromium against `live_server`.

Chromium is /usr/bin/chromium (`make browser` installs it and a CJK font);
Playwright's own browser download is never used. Every test in this folder is
marked `django_db(transaction=True, serialized_rollback=True)`, because the live
server reads the database from its own thread and so only sees committed rows.

Fixtures:

- `page` — pytest-playwright's page, in a context whose base URL is the live
  server, so `page.goto("/accounts/login/")` works. Its context is watched:
- `browser_problems` — the watch on every context of the test. It records
  console errors, uncaught page errors, and requests to any host but the live
  server (those are aborted), and fails the test at teardown if it recorded
  any. A test that expects a problem asserts on `browser_problems.problems`
  and clears the list.
- `login_as(username, password=PASSWORD, **context_args) -> Page` — a new page
  in a new (watched) context, signed in through the real form at
  /accounts/login/. Users come from `tests.factories.make_user` (or the role
  fixtures in tests/conftest.py), whose password is PASSWORD. `context_args`
  go to the new context (e.g. `viewport`, or `bypass_csp=True` for `axe`).
- `axe(page) -> list[str]` — axe-core's serious and critical violations of the
  page as it is now (WCAG 2.x A and AA rules), one line each: rule, impact,
  targets, summary. axe-core is the pinned copy `make browser` installs into
  node_modules/; the page's context needs `bypass_csp=True`, because Playwright
  injects the file as an inline script, which the policy refuses.
- `duty_roster` — the platform team's weekly primary and secondary rotations
  and overrides ahead (users engineer, owner, onduty and lead).
- `screenshot(page, name) -> Path` — a full-page PNG in $RESPONDER_SCREENSHOTS_DIR
  when set (created if missing), else in the test's tmp_path.
"""

import contextlib
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Response, Route

from escalation.roster import services as roster_services
from tests.factories import make_rotation

# Playwright's sync API keeps an asyncio loop registered as running in this thread
# from the first browser test until the session ends, so Django would refuse every
# ORM call made by the tests (this one and any test that runs after it) with
# SynchronousOnlyOperation. The check only guards against async callers, and the
# tests have none; it is read per call, so it must stay set for the whole process.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
LOGIN_PATH = "/accounts/login/"
PASSWORD = "responder-test"  # tests.factories.UserFactory's password
E2E_DIR = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark browser tests transactional before tests/conftest.py checks the marks.

    Without a mark, `live_server` alone makes a test transactional but not
    serialized_rollback, which would flush the migrations' data for later tests.
    """
    for item in items:
        if item.path.is_relative_to(E2E_DIR) and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))


@pytest.fixture(scope="session")
def _django_connections():
    """Django's connection objects, taken while no event loop runs (see `playwright`)."""
    return {alias: connections[alias] for alias in connections}


@pytest.fixture(scope="session")
def playwright(_django_connections, playwright):
    """pytest-playwright's `playwright`, with Django keeping its connection objects.

    While Playwright runs, Django sees a running event loop and keeps connections
    per async context instead of per thread, so this thread would get new
    connection objects: ones without the data that setup_databases() stored for
    serialized_rollback, which would then silently not restore the migrations'
    rows for every transactional test after the first browser test.
    """
    for alias, connection in _django_connections.items():
        connections[alias] = connection
    return playwright


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` to install Chromium.")
    return {
        "headless": True,
        **browser_type_launch_args,  # keeps --headed and --slowmo for debugging
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Contexts that ask for reduced motion: Bootstrap then scrolls without animating,
    so a click on a control far down a page does not wait for a smooth scroll."""
    return {**browser_context_args, "reduced_motion": "reduce"}


class BrowserProblems:
    """Console errors, uncaught page errors and off-server requests of watched contexts."""

    def __init__(self, origin: str):
        self.origin = origin
        self.problems: list[str] = []
        self.contexts: list[BrowserContext] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.route("**/*", self._route)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        self.contexts.append(context)
        return context

    def _route(self, route: Route) -> None:
        url = route.request.url
        if _origin(url) == self.origin:
            route.continue_()
        else:
            self.problems.append(f"request off the live server: {url}")
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url")
            text = f"{message.text} ({where})" if where else message.text
            self.problems.append(f"console error: {text}")

    def settle(self) -> None:
        """Let events the browser already sent reach the listeners: one round trip per page."""
        for context in self.contexts:
            for page in context.pages:
                with contextlib.suppress(Error):  # a page gone meanwhile reports nothing more
                    page.evaluate("0")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def browser_problems(new_context, live_server):
    # Requests new_context so this teardown runs while the contexts are still open.
    watch = BrowserProblems(_origin(live_server.url))
    yield watch
    watch.settle()
    if watch.problems:
        pytest.fail("the browser reported:\n  " + "\n  ".join(watch.problems))


@pytest.fixture
def context(new_context, browser_problems):
    """pytest-playwright's `context` (and so `page`), watched."""
    return browser_problems.watch(new_context())


@pytest.fixture
def login_as(new_context, browser_problems) -> Callable[..., Page]:
    def login_as(username: str, password: str = PASSWORD, **context_args) -> Page:
        page = browser_problems.watch(new_context(**context_args)).new_page()
        page.goto(LOGIN_PATH)
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        with page.expect_response(_is_login_post) as response:
            page.locator("form:has(input[name=password]) [type=submit]").click()
        if response.value.status != 302:  # a refused login renders the form again
            pytest.fail(f"could not sign in as {username!r} with password {password!r}")
        page.wait_for_url(lambda url: urlsplit(url).path != LOGIN_PATH)
        return page

    return login_as


def _is_login_post(response: Response) -> bool:
    return response.request.method == "POST" and urlsplit(response.url).path == LOGIN_PATH


@pytest.fixture
def duty_roster(platform, lead, engineer, owner, onduty):
    """Weekly primary and secondary rotations, overrides ahead in both layers (one
    that makes someone primary and secondary at once), long bilingual names."""
    for user, first, last in (
        (engineer, "王建国", "Wang Jianguo"),
        (onduty, "欧阳娜娜", "Ouyang Nana-Christensen"),
    ):
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    make_rotation(
        actor=lead, team=platform, people=[engineer, owner], name="主值班", start_date=monday
    )
    make_rotation(
        actor=lead,
        team=platform,
        people=[onduty, lead],
        layer="secondary",
        name="Secondary",
        start_date=monday,
    )
    start = timezone.localtime().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    roster_services.override_create(
        actor=lead,
        team=platform,
        layer="primary",
        user=onduty,
        start=start,
        end=start + timedelta(hours=8),
        note="发布演练 release rehearsal",
    )
    roster_services.override_create(
        actor=lead,
        team=platform,
        layer="secondary",
        user=owner,
        start=start + timedelta(days=2),
        end=start + timedelta(days=2, hours=10),
        note="",
    )


@pytest.fixture
def screenshot(tmp_path) -> Callable[[Page, str], Path]:
    folder = os.environ.get("RESPONDER_SCREENSHOTS_DIR")
    folder = Path(folder) if folder else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def screenshot(page: Page, name: str) -> Path:
        path = folder / (name if name.endswith(".png") else f"{name}.png")
        page.screenshot(path=path, full_page=True)
        return path

    return screenshot


# Runs axe-core on the whole document; the rules are WCAG 2.0-2.2 A and AA.
AXE_RUN_JS = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    nodes: v.nodes.map((n) => ({
      impact: n.impact,
      target: n.target.join(" "),
      summary: n.failureSummary.replace(/\\s+/g, " ").trim(),
    })),
  }));
}"""


@pytest.fixture
def axe() -> Callable[[Page], list[str]]:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `make browser` to install axe-core.")

    def axe(page: Page) -> list[str]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=AXE_JS)
        found = []
        for violation in page.evaluate(AXE_RUN_JS):
            for node in violation["nodes"]:
                if node["impact"] in ("serious", "critical"):
                    found.append(
                        f"{violation['id']} ({node['impact']}) {node['target']}: {node['summary']}"
                    )
        return found

    return axe
