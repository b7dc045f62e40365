"""incidents.backup.registry: the parts escalation and knowledge add to the dump.

incidents never imports those apps; the order of the dump follows each part's
`order`, never the order in which the apps register.
"""

import ast
from pathlib import Path

import pytest

from incidents import backup
from incidents.backup import registry
from incidents.backup.registry import Nested, Registry, Section

BACKUP = Path(backup.__file__).resolve().parent


def section(key: str, order: int) -> Section:
    return Section(
        order=order, key=key, parts=(), write=lambda exporter: iter(()), read=lambda *args: None
    )


def nested(keys: tuple[str, ...], order: int) -> Nested:
    return Nested(order=order, keys=keys, parts=(), write=lambda chunk: [], read=lambda *args: None)


def test_it_orders_the_parts_by_their_order_not_by_when_they_register():
    parts = Registry()
    parts.register(section("late", 300))
    parts.register(section("early", 100))
    parts.register(section("middle", 200))
    parts.register(nested(("second",), 20))
    parts.register(nested(("first", "also_first"), 10))

    assert [s.key for s in parts.sections()] == ["early", "middle", "late"]
    assert [n.keys for n in parts.nested()] == [("first", "also_first"), ("second",)]


def test_it_takes_the_same_part_twice_without_change():
    parts = Registry()
    articles = section("articles", 100)
    parts.register(articles)
    parts.register(articles)  # AppConfig.ready() may run again (a test's app registry)

    assert parts.sections() == [articles]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (section("incidents", 500), "incidents already in the dump"),
        (section("format", 500), "format already in the dump"),
        (section("articles", 500), "articles already in the dump"),
        (section("other", 100), "two Section parts with order 100"),
        (nested(("alerts",), 500), "alerts already in the dump"),
        (nested(("title",), 500), "title already in the dump"),
        (nested(("x", "postmortem"), 500), "postmortem already in the dump"),
        (nested(("other",), 100), "two Nested parts with order 100"),
    ],
)
def test_it_refuses_a_key_or_an_order_that_is_taken(part, message):
    parts = Registry()
    parts.register(section("articles", 100))
    parts.register(nested(("postmortem",), 100))

    with pytest.raises(ValueError, match=message):
        parts.register(part)


def test_it_holds_what_escalation_and_knowledge_register():
    assert registry.section_keys() == ("users", "teams", "integrations", "incidents", "articles")
    assert registry.nested_keys() == ("postmortem", "deadlines", "notices")
    names = {part.model.__name__ for part in backup.parts()}
    assert {"PostMortem", "ActionItem", "KnowledgeArticle"} <= names
    assert {"Deadline", "Notice", "Delivery"} <= names


def test_incidents_backup_imports_neither_escalation_nor_knowledge():
    """Imports go down (STYLE.md habit 10), in functions too."""
    found = []
    for path in sorted(BACKUP.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in ("escalation", "knowledge")
            ]
    assert found == []
    assert len(list(BACKUP.glob("*.py"))) >= 6  # the walk sees the package
