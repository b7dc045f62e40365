"""Knowledge articles made from archived incidents, and the /knowledge/ page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from knowledge import services as knowledge
from knowledge.models import KnowledgeArticle, SearchDocument
from tests.factories import archived_incident, resolved_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived(clock, lead, owner, tester):
    return archived_incident(
        lead=lead, owner=owner, tester=tester, title="数据库连接池耗尽导致超时", severity="P1"
    )


def test_it_drafts_an_article_from_the_record(archived):
    draft = knowledge.article_draft(archived)
    assert draft["title"] == "数据库连接池耗尽导致超时"
    assert draft["fix"] == "Connection pool size raised and alerting added."
    assert draft["workaround"] == "Traffic moved to the standby gateway."
    assert draft["lessons"] == "Alert on pool saturation; review config pushes."


def test_it_publishes_and_indexes_an_article(archived, lead, manager):
    article = knowledge.article_save(
        actor=lead,
        incident=archived,
        **knowledge.article_draft(archived),
    )
    assert article.team_id == archived.team_id
    assert SearchDocument.objects.filter(kind="article", object_id=article.pk).exists()
    from knowledge.search import search

    kinds = sorted(d.kind for d in search(user=manager, q="连接池耗尽"))
    assert kinds == ["article", "incident"]


def test_it_writes_articles_only_from_archived_incidents(clock, lead, owner):
    incident = resolved_incident(lead=lead, owner=owner)
    with pytest.raises(ValidationError):
        knowledge.article_save(actor=lead, incident=incident, title="Too early")
    assert not KnowledgeArticle.objects.exists()


@pytest.mark.parametrize("role", ["engineer", "tester", "onduty", "pay_lead"])
def test_it_refuses_other_roles(request, archived, role):
    with pytest.raises(PermissionDenied):
        knowledge.article_save(actor=request.getfixturevalue(role), incident=archived, title="x")


def test_its_pages_create_show_and_edit(client, archived, lead, engineer):
    client.force_login(lead)
    form = client.get(f"/knowledge/articles/new/{archived.pk}/").content.decode()
    assert "Connection pool size raised and alerting added." in form  # pre-filled

    created = client.post(
        f"/knowledge/articles/new/{archived.pk}/",
        {"title": "连接池耗尽的处理", "fix": "加索引", "tags": "database, 连接池"},
    )
    assert created.status_code == 302
    article = KnowledgeArticle.objects.get()
    page = client.get(f"/knowledge/articles/{article.pk}/").content.decode()
    assert "加索引" in page
    assert "连接池</span>" in page  # a tag

    edited = client.post(f"/knowledge/articles/{article.pk}/edit/", {"title": "", "fix": "x"})
    assert edited.status_code == 400
    assert KnowledgeArticle.objects.get().title == "连接池耗尽的处理"

    client.force_login(engineer)  # may read, may not edit
    assert client.get(f"/knowledge/articles/{article.pk}/").status_code == 200
    assert client.get(f"/knowledge/articles/{article.pk}/edit/").status_code == 403


def test_its_article_is_404_for_another_team(client, archived, lead, pay_engineer):
    article = knowledge.article_save(actor=lead, incident=archived, title="Pool")
    client.force_login(pay_engineer)
    assert client.get(f"/knowledge/articles/{article.pk}/").status_code == 404


def test_the_knowledge_page_finds_a_chinese_phrase(client, archived, engineer):
    client.force_login(engineer)
    body = client.get("/knowledge/?q=连接池耗尽").content.decode()
    assert archived.number in body
    assert 'id="result-count">1 result<' in body
    empty = client.get("/knowledge/?q=内存泄漏").content.decode()
    assert "Nothing found" in empty


def test_the_api_searches_in_both_languages(archived, engineer, pay_engineer, token_client):
    api = token_client(engineer)
    chinese = api.get("/api/v1/knowledge/", {"q": "连接池耗尽"}).json()
    assert chinese["count"] == 1
    result = chinese["results"][0]
    assert result["kind"] == "incident"
    assert result["id"] == archived.pk
    assert result["url"] == f"/incidents/{archived.pk}/"
    assert result["excerpt"] == "Connection pool size raised and alerting added."
    assert result["title_match"] is True

    assert api.get("/api/v1/knowledge/", {"q": "standby gateway"}).json()["count"] == 1
    assert api.get("/api/v1/knowledge/", {"q": "kubernetes"}).json()["count"] == 0
    assert (
        token_client(pay_engineer).get("/api/v1/knowledge/", {"q": "连接池"}).json()["count"] == 0
    )


@pytest.mark.parametrize(
    "params", [{}, {"q": " "}, {"q": "x" * 201}, {"q": "pool", "kind": "blog"}]
)
def test_the_api_refuses_bad_queries(engineer, token_client, params):
    response = token_client(engineer).get("/api/v1/knowledge/", params)
    assert response.status_code == 400


@pytest.mark.parametrize("q", ["=", "!", "'", "<->", "&|"])
def test_the_api_answers_a_query_without_words_with_no_results(engineer, token_client, q):
    response = token_client(engineer).get("/api/v1/knowledge/", {"q": q})
    assert response.status_code == 200
    assert response.json()["count"] == 0
