"""qa.followup: which questions lean on the previous one, and how they are made to stand alone.
Conversations written for these tests (none comes from the dev sets)."""
from __future__ import annotations

import pytest

from qa.followup import is_elliptical, read_question, resolve

LEAD_Q = "黄河滩区治理工程由哪个单位牵头？"


@pytest.mark.parametrize("question", [
    "那配合的单位有哪些？", "它的完成时限呢？", "这个文件是哪天发的？", "其责任单位是哪些？", "牵头单位呢？",
    "还有哪些单位参与？", "要完成多少公里？", "这项任务由谁负责？", "它在哪个乡镇实施？", "那么文号是什么？",
])
def test_questions_without_a_topic_of_their_own_are_elliptical(question):
    assert is_elliptical(question)


@pytest.mark.parametrize("question", [
    "污水处理站建设谁牵头？", "农村人居环境整治由哪个部门牵头？", "义务教育学校课后服务怎么收费？",
    "酿酒葡萄基地要建设多少亩？", "城市防洪工程的牵头单位是谁？", "低保对象怎么认定？",
])
def test_questions_with_a_topic_stand_alone(question):
    assert not is_elliptical(question)


def test_topic_of_a_question_leaves_out_the_asking_part():
    assert read_question(LEAD_Q).topic == "黄河滩区治理工程"
    assert read_question("谁负责污水处理站建设？").topic == "污水处理站建设"
    assert read_question("农村污水处理率要达到多少？").topic == "农村污水处理率"
    assert read_question("那配合的单位有哪些？").topic == ""


@pytest.mark.parametrize("follow_up,resolved", [
    ("那配合的单位有哪些？", "黄河滩区治理工程，配合的单位有哪些？"),
    ("它的完成时限呢？", "黄河滩区治理工程的完成时限呢？"),
    ("其完成时限是什么时候？", "黄河滩区治理工程的完成时限是什么时候？"),
    ("这个文件是哪天发的？", "黄河滩区治理工程的文件是哪天发的？"),
    ("它在哪个乡镇实施？", "黄河滩区治理工程在哪个乡镇实施？"),
    ("那污水处理站呢？", "污水处理站由哪个单位牵头？"),
])
def test_follow_ups_take_the_previous_topic(follow_up, resolved):
    r = resolve(follow_up, [LEAD_Q])
    assert r.elliptical and r.resolved == resolved and r.changed


def test_a_question_that_stands_alone_is_unchanged():
    r = resolve("污水处理站建设谁牵头？", [LEAD_Q])
    assert not r.elliptical and r.resolved == "污水处理站建设谁牵头？" and not r.changed


def test_no_earlier_question_leaves_it_unchanged():
    for previous in ([], [""], ["   "], ["那配合的单位有哪些？"]):  # the last: an earlier question with no topic
        r = resolve("那配合的单位有哪些？", previous)
        assert r.resolved == "那配合的单位有哪些？" and r.topic is None


def test_a_chain_of_follow_ups_keeps_the_first_topic():
    conversation = [LEAD_Q, "那配合的单位有哪些？", "要完成多少公里？"]
    assert resolve("它的完成时限呢？", conversation).resolved == "黄河滩区治理工程的完成时限呢？"
    # a question with its own topic starts a new one
    conversation += ["河岸堤防工程谁牵头？"]
    assert resolve("那配合的单位有哪些？", conversation).resolved == "河岸堤防工程，配合的单位有哪些？"
