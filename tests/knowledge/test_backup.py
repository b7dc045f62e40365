"""knowledge.backup: post-mortems, articles and search documents in the incident dump."""

import json

import pytest

from incidents.backup import registry
from knowledge import backup
from knowledge import services as knowledge
from knowledge.models import KnowledgeArticle, SearchDocument
from tests.dumps import export, import_text
from tests.factories import archived_incident, new_incident

pytestmark = pytest.mark.django_db


def test_it_registers_the_post_mortem_the_articles_and_the_search_index():
    assert backup.INCIDENT_ROWS in registry.nested()
    assert backup.INCIDENT_ROWS.after is not None  # the search documents, rebuilt
    assert registry.section_keys()[-1] == "articles"
    assert {p.model.__name__ for p in [*backup.INCIDENT_ROWS.parts, *backup.ARTICLES.parts]} == {
        "PostMortem",
        "ActionItem",
        "KnowledgeArticle",
    }


def test_it_writes_no_post_mortem_for_an_incident_without_one(clock, lead):
    new_incident(reporter=lead)

    [written] = json.loads(export())["incidents"]

    assert written["postmortem"] is None


def test_it_keeps_an_article_whose_incident_is_missing_and_says_so(
    clock, lead, owner, tester, tmp_path
):
    incident = archived_incident(lead=lead, owner=owner, tester=tester)
    knowledge.article_save(
        actor=lead, incident=incident, title="Pool exhausted", symptoms="slow", fix="bigger pool"
    )
    dump = json.loads(export())
    [article] = dump["articles"]
    assert article["incident"] == incident.number
    article.update(title="Pool exhausted again", incident="INC-20000101-0001")

    output = import_text(json.dumps(dump), tmp_path)

    assert "incident INC-20000101-0001 is not in the database" in output
    restored = KnowledgeArticle.objects.get(title="Pool exhausted again")
    assert restored.incident is None
    assert SearchDocument.objects.filter(
        kind=SearchDocument.Kind.ARTICLE, object_id=restored.pk
    ).exists()
