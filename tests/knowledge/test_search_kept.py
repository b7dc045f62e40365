"""knowledge.search.PgResults keeps a page's ranking in the cache (PostgreSQL): the
same page again reads only its documents, and every write to the search index
(upsert, remove, bulk_vectors) makes the kept ranking stale at once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import search
from knowledge.models import SearchDocument, SearchIndexVersion
from tests.conftest import NOW

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the ranking is kept on PostgreSQL only"
    ),
]


def add(team, object_id: int, title: str, *, days_ago: int = 0) -> None:
    search.upsert(
        kind=SearchDocument.Kind.INCIDENT,
        object_id=object_id,
        team_id=team.pk if team else None,
        title=title,
        body="the pool ran dry",
        excerpt=f"fix {object_id}",
        at=NOW - timedelta(days=days_ago),
    )


def first_page(user, q="pool"):
    """Titles and count of the first page of 10, whether the kept ranking gave it,
    and the statements on the documents."""
    with CaptureQueriesContext(connection) as queries:
        page = search.page(search.search(user=user, q=q, with_body=True), "1", 10)
        titles = [d.title for d in page.object_list]
        count = page.paginator.count
    sqls = [q["sql"] for q in queries.captured_queries]
    kept = {d.kept for d in page.object_list} == {True}
    return titles, count, kept, [sql for sql in sqls if "knowledge_searchdocument" in sql]


@pytest.fixture
def pools(platform):
    for i in range(12):
        add(platform, i + 1, f"Pool exhausted {i}", days_ago=i + 1)


def test_it_reads_the_same_page_again_without_ranking(manager, pools):
    titles, count, kept, sqls = first_page(manager)
    again, count_again, kept_again, sqls_again = first_page(manager)

    assert again == titles
    assert count_again == count == 12
    assert len(sqls) == len(sqls_again) == 1
    assert not kept
    assert kept_again  # the page's documents by id: the ranking's part did not run


def test_the_ranking_part_does_not_run_while_the_version_holds(manager, pools):
    first_page(manager)
    _titles, _count, _kept, (sql,) = first_page(manager)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "WindowAgg (never executed)" in plan, plan  # no match was ranked


def test_it_shows_a_new_document_at_once(manager, pools, platform):
    first_page(manager)

    add(platform, 100, "Pool exhausted today", days_ago=0)
    titles, count, kept, sqls = first_page(manager)

    assert titles[0] == "Pool exhausted today"
    assert count == 13
    assert not kept
    assert len(sqls) == 1  # ranked again in the statement that found the version moved


def test_it_forgets_a_removed_document_at_once(manager, pools):
    titles, _count, _kept, _sqls = first_page(manager)

    search.remove(kind=SearchDocument.Kind.INCIDENT, object_id=1)  # "Pool exhausted 0"
    after, count, _kept, _sqls = first_page(manager)

    assert titles[0] == "Pool exhausted 0"
    assert "Pool exhausted 0" not in after
    assert count == 11


def test_it_reads_a_changed_title_afresh(manager, pools, platform):
    first_page(manager)

    add(platform, 1, "Pool exhausted again", days_ago=1)
    titles, _count, _kept, _sqls = first_page(manager)

    assert titles[0] == "Pool exhausted again"


def test_it_ranks_again_after_a_bulk_write(manager, pools, platform):
    first_page(manager)
    version = SearchIndexVersion.objects.get(pk=1).version

    rows = SearchDocument.objects.bulk_create(
        [
            search.incident_row(
                type("Incident", (), {"pk": 200, "team_id": platform.pk})(),
                {"title": "Pool bulk", "body": "the pool ran dry", "excerpt": "", "at": NOW},
            )
        ]
    )
    search.bulk_vectors(rows)
    titles, count, _kept, _sqls = first_page(manager)

    assert SearchIndexVersion.objects.get(pk=1).version == version + 1
    assert titles[0] == "Pool bulk"
    assert count == 13


def test_it_keeps_a_ranking_per_scope(manager, lead, pay_lead, pools, payments):
    add(payments, 300, "Pool of payments", days_ago=0)

    assert first_page(manager)[1] == 13
    assert first_page(lead)[1] == 12  # the platform team's only
    titles, count, _kept, _sqls = first_page(pay_lead)
    assert (titles, count) == (["Pool of payments"], 1)


def test_it_does_not_keep_the_ranking_without_the_version_row(manager, pools):
    SearchIndexVersion.objects.all().delete()

    first_page(manager)
    _titles, _count, kept, _sqls = first_page(manager)

    assert not kept
