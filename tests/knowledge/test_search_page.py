"""knowledge.search.page: a page of results and their count, from one statement on
PostgreSQL (the count was a second pass over every match), in the order of the whole
list, and Paginator.get_page's answer to a bad or too large page number."""

from datetime import timedelta

import pytest
from django.db import connection

from knowledge import search
from knowledge.models import SearchDocument
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one statement: the PostgreSQL search only"
)


def docs(team, n: int) -> None:
    """n documents matching "pool", every third with it in the title, each on its own day."""
    for i in range(n):
        title = f"Pool exhausted {i}" if i % 3 == 0 else f"Checkout slow {i}"
        search.upsert(
            kind=SearchDocument.Kind.INCIDENT,
            object_id=i + 1,
            team_id=team.pk,
            title=title,
            body="the connection pool ran dry " * (1 + i % 4),
            excerpt=f"fix {i}",
            at=NOW - timedelta(days=i),
        )


def titles(documents) -> list[str]:
    return [d.title for d in documents]


def test_it_pages_through_the_whole_list_in_its_order(manager, platform):
    docs(platform, 25)
    everything = titles(search.search(user=manager, q="pool"))

    first = search.page(search.search(user=manager, q="pool"), "1", 10)
    third = search.page(search.search(user=manager, q="pool"), "3", 10)

    assert len(everything) == 25
    assert titles(first) == everything[:10]
    assert titles(third) == everything[20:]
    assert first.paginator.count == third.paginator.count == 25
    assert everything[0].startswith("Pool exhausted")  # title matches first


@on_postgresql
def test_it_reads_a_page_and_the_count_in_one_statement(
    manager, platform, django_assert_num_queries
):
    docs(platform, 25)
    results = search.search(user=manager, q="pool", with_body=True)

    with django_assert_num_queries(1):
        page = search.page(results, "2", 10)
        assert page.paginator.count == 25
        assert len(page.object_list) == 10
        search.attach_passages(page.object_list, "pool")  # the bodies came with them

    assert "<mark>pool</mark>" in page.object_list[0].passage


@pytest.mark.parametrize(("asked", "number"), [("abc", 1), (None, 1), ("99", 3), ("0", 3)])
def test_it_answers_a_bad_page_number_as_paginator_does(manager, platform, asked, number):
    docs(platform, 25)
    everything = titles(search.search(user=manager, q="pool"))

    page = search.page(search.search(user=manager, q="pool"), asked, 10)

    assert page.number == number
    assert titles(page) == everything[(number - 1) * 10 : number * 10]


def test_it_pages_nothing_found(manager, platform):
    docs(platform, 3)

    page = search.page(search.search(user=manager, q="kafka"), "1", 10)

    assert page.paginator.count == 0
    assert list(page) == []
