"""Knowledge search results show the passage that matched (from whichever part of
the record: symptoms, log, cause, fix …) with the match marked, HTML-escaped."""

import pytest

from knowledge import search
from tests.factories import archived_incident

pytestmark = pytest.mark.django_db


def results(client, user, q: str) -> str:
    client.force_login(user)
    body = client.get("/knowledge/", {"q": q}).content.decode()
    return body.split('id="results"')[1].split("</ol>")[0]


@pytest.fixture
def past(clock, lead, owner, tester):
    return archived_incident(
        lead=lead,
        owner=owner,
        tester=tester,
        title="订单服务故障",
        symptoms="下单接口大量超时，数据库连接池耗尽，用户无法支付 <b>紧急</b> & 投诉增多。",
    )


def test_it_marks_a_chinese_phrase_inside_a_sentence_without_spaces(client, past, engineer):
    found = results(client, engineer, "连接池耗尽")

    assert "数据库<mark>连接池耗尽</mark>，用户无法支付" in found
    # The text around the match is escaped; only the mark is markup.
    assert "&lt;b&gt;紧急&lt;/b&gt; &amp; 投诉增多" in found
    assert "<b>紧急</b>" not in found


def test_it_shows_the_passage_of_the_part_that_matched_not_only_the_fix(client, past, engineer):
    found = results(client, engineer, "GATEWAY back")  # in the log, not in the fix

    assert "Rolled the <mark>gateway</mark> <mark>back</mark> to yesterday&#x27;s build." in found


def test_a_passage_is_cut_around_the_match_within_its_part():
    text = "第一部分与此无关。\n" + "甲" * 200 + "连接池耗尽" + "乙" * 200 + "\n结尾"
    html = str(search.passage(text, search.Query.parse("连接池耗尽")))

    assert "<mark>连接池耗尽</mark>" in html
    assert html.startswith("…")
    assert html.endswith("…")
    assert "第一部分" not in html  # the matching part of the record only
    assert "结尾" not in html
    assert len(html) < 300


def test_no_passage_when_nothing_in_the_text_matches():
    assert search.passage("nothing here", search.Query.parse("连接池")) == ""
