"""knowledge.search: Chinese words inside unspaced text, English stems, ranking,
visibility — on SQLite and on PostgreSQL (the suite runs on both)."""

import pytest
from django.db import connection

from knowledge import search
from knowledge.models import SearchDocument
from knowledge.search import Query, cjk_lexemes, phrase_tsquery, tsvector_literal
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def doc(title, body="", *, team=None, kind="incident", object_id=None):
    object_id = object_id or (SearchDocument.objects.count() + 1)
    return search.upsert(
        kind=kind,
        object_id=object_id,
        team_id=team.pk if team else None,
        title=title,
        body=body,
        excerpt="",
        at=NOW,
    )


def found(user, q):
    return [d.title for d in search.search(user=user, q=q)]


# ---------------------------------------------------------------- tokens


def test_it_splits_chinese_into_bigrams_and_a_last_character():
    assert cjk_lexemes("连接池耗尽") == ["连接", "接池", "池耗", "耗尽", "尽"]
    assert cjk_lexemes("DB 超时 and 重启") == ["超时", "时", "重启", "启"]


def test_it_writes_locale_free_tsvector_and_tsquery_literals():
    assert tsvector_literal("超时超时", "A") == "'超时':1A,3A '时超':2A '时':4A"
    assert phrase_tsquery("连接池") == "'连接' <-> '接池'"
    assert phrase_tsquery("池") == "'池':*"


def test_it_parses_a_mixed_query():
    query = Query.parse("连接池 Timeout, DB-2")
    assert query.runs == ("连接池",)
    assert query.words == ("timeout", "db", "2")


# ---------------------------------------------------------------- Chinese


def test_it_finds_a_chinese_word_inside_an_unspaced_sentence(manager, platform):
    doc("订单服务故障", "数据库连接池耗尽导致超时", team=platform)
    doc("报表页面字体错位", "字体加载失败", team=platform)

    assert found(manager, "连接池耗尽") == ["订单服务故障"]
    assert found(manager, "耗尽") == ["订单服务故障"]
    assert found(manager, "池") == ["订单服务故障"]


def test_it_finds_nothing_for_a_chinese_word_that_appears_nowhere(manager, platform):
    doc("订单服务故障", "数据库连接池耗尽导致超时", team=platform)

    assert found(manager, "内存泄漏") == []
    # The characters all occur, but not as this word: no match.
    assert found(manager, "池连接") == []


def test_it_needs_every_word(manager, platform):
    doc("订单服务故障", "数据库连接池耗尽导致超时", team=platform)
    assert found(manager, "连接池 超时") == ["订单服务故障"]
    assert found(manager, "连接池 磁盘") == []


# ---------------------------------------------------------------- English


def test_it_finds_english_words_case_insensitively(manager, platform):
    doc("Checkout returns HTTP 500", "The payment gateway timed out", team=platform)
    doc("Report fonts misaligned", "CSS regression", team=platform)

    assert found(manager, "gateway") == ["Checkout returns HTTP 500"]
    assert found(manager, "PAYMENT Gateway") == ["Checkout returns HTTP 500"]
    assert found(manager, "kubernetes") == []


def test_it_matches_english_stems_on_postgresql_and_substrings_on_sqlite(manager, platform):
    doc("Login timeouts", "Users see timeouts when signing in", team=platform)
    assert found(manager, "timeout") == ["Login timeouts"]  # a stem, and a substring
    # "signed" and "signing" share a stem (PostgreSQL); SQLite's LIKE sees two words.
    stems = connection.vendor == "postgresql"
    assert found(manager, "signed") == (["Login timeouts"] if stems else [])


def test_it_mixes_chinese_and_english(manager, platform):
    doc("订单服务 500", "数据库连接池耗尽 gateway timeout", team=platform)
    doc("支付回调", "gateway 正常", team=platform)
    assert found(manager, "连接池 gateway") == ["订单服务 500"]


# ---------------------------------------------------------------- ranking


def test_it_ranks_a_title_match_first(manager, platform):
    doc("支付回调延迟", "连接池耗尽 连接池耗尽 连接池耗尽", team=platform, object_id=1)
    doc("连接池耗尽", "订单服务超时", team=platform, object_id=2)

    assert found(manager, "连接池耗尽") == ["连接池耗尽", "支付回调延迟"]


def test_it_ranks_an_english_title_match_first(manager, platform):
    doc("Checkout slow", "the connection pool pool pool is exhausted", team=platform)
    doc("Connection pool exhausted", "checkout slow", team=platform)
    assert found(manager, "pool")[0] == "Connection pool exhausted"


# ---------------------------------------------------------------- visibility and edges


def test_it_shows_only_the_users_teams(pay_engineer, platform, payments, manager):
    doc("平台连接池耗尽", "", team=platform)
    doc("支付连接池耗尽", "", team=payments)

    assert found(pay_engineer, "连接池") == ["支付连接池耗尽"]
    assert sorted(found(manager, "连接池")) == ["平台连接池耗尽", "支付连接池耗尽"]


@pytest.mark.parametrize("q", ["", "   ", "!!!"])
def test_it_answers_an_empty_query_with_nothing(manager, platform, q):
    doc("the pool", "the end", team=platform)
    assert found(manager, q) == []


def test_it_ignores_english_stop_words_on_postgresql_only(manager, platform):
    doc("the pool", "the end", team=platform)
    # PostgreSQL's English configuration drops "the"; SQLite's LIKE finds it.
    expected = [] if connection.vendor == "postgresql" else ["the pool"]
    assert found(manager, "the") == expected


def test_it_copes_with_quotes_backslashes_and_operators(manager, platform):
    doc("O'Brien's 连接池 \\ <-> & | !", "", team=platform)
    assert found(manager, "O'Brien's") == ["O'Brien's 连接池 \\ <-> & | !"]
    assert found(manager, "连接池 & | ! <->") == ["O'Brien's 连接池 \\ <-> & | !"]


def test_it_updates_a_document_in_place(manager, platform):
    doc("旧标题", "", team=platform, object_id=7)
    doc("新标题 连接池", "", team=platform, object_id=7)
    assert SearchDocument.objects.count() == 1
    assert found(manager, "连接池") == ["新标题 连接池"]
    assert found(manager, "旧标题") == []


def test_it_finds_host_names_and_codes(manager, platform):
    doc("Checkout down", "Pool exhausted on host order-17 (ERR-4821).", team=platform)
    doc("Reports slow", "host order-2", team=platform)
    assert found(manager, "order-17") == ["Checkout down"]
    assert found(manager, "ERR-4821") == ["Checkout down"]
