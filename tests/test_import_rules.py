"""The house rules, read from the code (STYLE.md habit 10, docs/architecture.md).

Every import of every module of the apps is read with `ast` (function-local
imports too: a lazy import is still a dependency).

Apps import downward only: common < incidents < escalation < knowledge, with
config (wiring) on top. `common` imports no app. The domain code of `incidents`
reaches `escalation` only through the one seam, `escalation.deadlines`, and never
`knowledge`; `escalation`'s domain never imports `knowledge` (clocks knowledge
owns register with escalation.registry). Entry points — the pages, the API and
the management commands of any app — may import any app's services and selectors.

Within an app, three layers:

- web: the pages (views, forms, urls, templatetags, context processors,
  middleware, admin);
- api: `incidents/api/`, every `api.py` and every `serializers.py`;
- domain: everything else (models, services, selectors, the engine, tasks,
  exports ...).

Forbidden: domain → web or api; web → api; api → web. A `_name` is private to
its package: no module outside imports it. And no import circle between files.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("incidents", "escalation", "knowledge", "common", "config")
# How low each app sits: domain code imports its own app and lower ones only.
LEVEL = {"common": 0, "incidents": 1, "escalation": 2, "knowledge": 3, "config": 4}
SEAM = "escalation.deadlines"
WEB_NAMES = {"views", "forms", "urls", "context_processors", "middleware", "admin"}
API_NAMES = {"api", "serializers"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # path:line
    names: tuple[str, ...] = ()  # what a from-import takes from the target

    def __str__(self):
        return f"{self.where}: {self.source} imports {self.target}"


def layer(module: str) -> str:
    parts = module.split(".")
    if (len(parts) > 1 and parts[1] == "api") or parts[-1] in API_NAMES:
        return "api"
    if parts[-1] in WEB_NAMES or "templatetags" in parts or "views" in parts[1:-1]:
        return "web"
    return "domain"


def modules(root: Path) -> dict[str, Path]:
    """Dotted name → file, for every module of the apps (migrations left out)."""
    found = {}
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            if "migrations" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


def edges(root: Path) -> list[Edge]:
    """Every import between two modules of the apps, resolved to the module imported."""
    known = modules(root)
    out = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg import mod` imports the module pkg.mod; else names of pkg.
                targets = [
                    (f"{base}.{alias.name}", ())
                    if f"{base}.{alias.name}" in known
                    else (base, (alias.name,))
                    for alias in node.names
                ]
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            for target in targets:
                target, names = target if isinstance(target, tuple) else (target, ())
                if target in known and target != name:
                    out.append(Edge(name, target, where, names))
    return out


FORBIDDEN = {
    ("domain", "web"): "domain code imports a page module",
    ("domain", "api"): "domain code imports an API module",
    ("web", "api"): "a page imports the API",
    ("api", "web"): "the API imports a page module",
}


def layer_violations(root: Path) -> list[str]:
    found = []
    for edge in edges(root):
        why = FORBIDDEN.get((layer(edge.source), layer(edge.target)))
        if why:
            found.append(f"{edge} ({why})")
    return sorted(set(found))


def is_entry(module: str) -> bool:
    """Pages, API and management commands: they may use any app."""
    return layer(module) != "domain" or "management" in module.split(".")


def direction_violations(root: Path) -> list[str]:
    found = []
    for edge in edges(root):
        src, dst = edge.source.split(".")[0], edge.target.split(".")[0]
        if src == dst:
            continue
        if src == "common":
            found.append(f"{edge} (common imports no app)")
        elif is_entry(edge.source):
            continue
        elif src == "incidents" and dst == "escalation":
            if edge.target != SEAM:
                found.append(f"{edge} (incidents reaches escalation only through {SEAM})")
        elif LEVEL[dst] > LEVEL[src]:
            found.append(f"{edge} ({src} may not import {dst}: imports go down)")
    return sorted(set(found))


def private_violations(root: Path) -> list[str]:
    """`_name`s imported from a module of another package."""
    known = modules(root)

    def package(module: str) -> str:
        return module if known[module].name == "__init__.py" else module.rpartition(".")[0]

    found = []
    for edge in edges(root):
        if package(edge.source) == package(edge.target):
            continue
        for name in edge.names:
            if name.startswith("_") and not name.startswith("__"):
                found.append(f"{edge} ({name} is private to {package(edge.target)})")
    return sorted(set(found))


def cycles(root: Path) -> list[list[str]]:
    """The strongly connected groups of more than one file (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {name: set() for name in modules(root)}
    for edge in edges(root):
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(groups)


def test_it_finds_no_forbidden_import_direction():
    assert layer_violations(ROOT) == []


def test_it_finds_every_app_importing_downward():
    assert direction_violations(ROOT) == []


def test_it_finds_no_private_name_imported_from_another_package():
    assert private_violations(ROOT) == []


def test_it_finds_no_import_circle_between_files():
    assert cycles(ROOT) == []


def test_it_reads_the_real_tree():
    # The checks above mean something only if the walk sees the apps' imports.
    found = {(e.source, e.target) for e in edges(ROOT)}
    assert ("incidents.views", "incidents.services") in found
    assert ("escalation.tasks", "escalation.engine") in found
    assert ("incidents.api.views", "incidents.selectors") in found
    assert layer("incidents.api.views") == "api"
    assert layer("knowledge.api") == "api"
    assert layer("knowledge.views") == "web"
    assert layer("incidents.templatetags.responder") == "web"
    assert layer("knowledge.exports") == "domain"
    assert layer("escalation.engine") == "domain"
    assert ("incidents.services.base", SEAM) in found
    assert ("knowledge.services", "incidents.services") in found


# ---------------------------------------------------------------- the checker catches


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for app in APPS:
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # A page reaching into the API (the old overdue_q import).
        (
            {
                "incidents/api/__init__.py": "",
                "incidents/api/views.py": "def overdue_q(now): ...\n",
                "incidents/views.py": "from incidents.api.views import overdue_q\n",
            },
            "incidents/views.py:1: incidents.views imports incidents.api.views "
            "(a page imports the API)",
        ),
        # An export reaching into a page, imported lazily inside a function.
        (
            {
                "incidents/views.py": "def archive_query(request): ...\n",
                "knowledge/exports.py": (
                    "def rows(request):\n    from incidents.views import archive_query\n"
                ),
            },
            "knowledge/exports.py:2: knowledge.exports imports incidents.views "
            "(domain code imports a page module)",
        ),
        # The API parsing its query with a page's form.
        (
            {
                "knowledge/forms.py": "class MetricsFilter: ...\n",
                "knowledge/api.py": "from knowledge.forms import MetricsFilter\n",
            },
            "knowledge/api.py:1: knowledge.api imports knowledge.forms "
            "(the API imports a page module)",
        ),
        # Domain code importing a serializer, by a relative import.
        (
            {
                "incidents/api/__init__.py": "",
                "incidents/api/serializers.py": "",
                "incidents/alerts.py": "from .api import serializers\n",
            },
            "incidents/alerts.py:1: incidents.alerts imports incidents.api.serializers "
            "(domain code imports an API module)",
        ),
    ],
    ids=["page-to-api", "domain-to-page-lazily", "api-to-form", "domain-to-serializer"],
)
def test_it_catches_a_forbidden_direction(tmp_path, files, expected):
    assert layer_violations(_tree(tmp_path, files)) == [expected]


def test_it_catches_a_circle_even_through_a_lazy_import(tmp_path):
    root = _tree(
        tmp_path,
        {
            "escalation/engine.py": "def sweep():\n    from escalation.tasks import deliver\n",
            "escalation/tasks.py": "from escalation.engine import sweep\n",
            "incidents/services.py": "from knowledge import services as knowledge\n",
            "knowledge/services.py": "from incidents.timeline import record_event\n",
            "incidents/timeline.py": "",
        },
    )
    assert cycles(root) == [["escalation.engine", "escalation.tasks"]]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "common/people.py": "def f():\n    from incidents.models import Team\n",
                "incidents/models.py": "",
            },
            "common/people.py:2: common.people imports incidents.models (common imports no app)",
        ),
        (
            {"incidents/services.py": "from escalation import sla\n", "escalation/sla.py": ""},
            "incidents/services.py:1: incidents.services imports escalation.sla "
            "(incidents reaches escalation only through escalation.deadlines)",
        ),
        (
            {"incidents/rules.py": "from knowledge import models\n", "knowledge/models.py": ""},
            "incidents/rules.py:1: incidents.rules imports knowledge.models "
            "(incidents may not import knowledge: imports go down)",
        ),
        (
            {
                "escalation/engine.py": "def f():\n    from knowledge.models import ActionItem\n",
                "knowledge/models.py": "",
            },
            "escalation/engine.py:2: escalation.engine imports knowledge.models "
            "(escalation may not import knowledge: imports go down)",
        ),
    ],
    ids=["common-to-app", "around-the-seam", "incidents-to-knowledge", "escalation-to-knowledge"],
)
def test_it_catches_an_upward_import(tmp_path, files, expected):
    assert direction_violations(_tree(tmp_path, files)) == [expected]


def test_it_allows_the_seam_downward_imports_and_entry_points(tmp_path):
    root = _tree(
        tmp_path,
        {
            "escalation/deadlines.py": "from incidents.models import Incident\n",
            "incidents/models.py": "",
            "incidents/services.py": "from escalation import deadlines\n",
            "incidents/views.py": "from knowledge import services\n",
            "knowledge/services.py": "from incidents import services\n",
            "incidents/management/__init__.py": "",
            "incidents/management/seed.py": "from knowledge import services\n",
        },
    )
    assert direction_violations(root) == []


def test_it_catches_a_private_name_from_another_package(tmp_path):
    root = _tree(
        tmp_path,
        {
            "incidents/views.py": "def _add_errors(form, error): ...\n",
            "knowledge/views.py": "from incidents.views import _add_errors\n",
            "knowledge/forms.py": "from knowledge.views import _helper, __doc__\n",
        },
    )
    assert private_violations(root) == [
        "knowledge/views.py:1: knowledge.views imports incidents.views "
        "(_add_errors is private to incidents)"
    ]
