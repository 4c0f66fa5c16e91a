"""Abstention on evidence (`qa.abstention.judge_answer`), with the extractor's real answers on real snippets
of the laws corpus and of the gazette, and a stand-in for the retriever (its tokenizer and IDF table).

Each test states one rule: the kind of answer found, the measure asked, or the coverage of the question's
topic terms. Questions are written for these tests.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from qa.abstention import judge_answer  # noqa: E402
from qa.answers import Passage, answer_question  # noqa: E402

DOC = dict(doc_title="条例", doc_number=None, issuer=None, date=None)


def _tokens(text: str) -> list[str]:
    # a crude stand-in for the segmenter: runs of CJK characters cut into words of two to four characters
    out = []
    for run in re.findall(r"[\u4e00-\u9fa5]+", text):
        out += [run[i:i + 2] for i in range(0, len(run) - 1)]
    return out


def _judge(question: str, texts: list[str], idf: dict[str, float] | None = None):
    passages = [Passage(text=t, score=1.0 - 0.1 * k, section=[], **DOC) for k, t in enumerate(texts)]
    answer = answer_question(question, passages)
    hits = [SimpleNamespace(chunk=SimpleNamespace(text=t, context=""), score=1.0 - 0.1 * k, dense=0.5)
            for k, t in enumerate(texts)]
    tokens = _tokens(question)
    # every question token is known to the corpus with a middling IDF unless the test says otherwise
    analysis = SimpleNamespace(tokens=tokens, idf={t: 5.0 for t in tokens} | (idf or {}))
    retriever = SimpleNamespace(index=SimpleNamespace(segmenter=SimpleNamespace(tokenize=_tokens)))
    return judge_answer(question, analysis, hits, answer, retriever)


# 国家机关工作人员病假期间生活待遇的规定 二、(一)
SICK_PAY = ("二、工作人员病假超过两个月的，从第三个月起按照下列标准发给病假期间工资：\n"
            "(一)工作年限不满十年的，发给本人工资的百分之九十；")
# 中华人民共和国人民币管理条例 第二十二条
BANKNOTES = ("第二十二条 办理人民币存取款业务的金融机构应当按照中国人民银行的规定，无偿为公众兑换残缺、污损的人民币，"
             "挑剔残缺、污损的人民币，并将其交存当地中国人民银行。")
# 浙江省见义勇为人员奖励和保障条例 第六条
BRAVERY = "第二章 确认\n第六条 见义勇为行为的确认，由行为发生地的公安机关负责。"
# 社会团体登记管理条例 第十二条 (figures in 日, none in 元)
REGISTRATION = ("第十二条 登记管理机关应当自收到本条例第十一条所列全部有效文件之日起60日内，作出准予或者不予登记的决定。")


def test_a_share_of_a_wage_answers_how_much_pay():
    a = _judge("病假超过两个月、工作不满十年的，工资发多少？", [SICK_PAY])
    assert a.answer_type == "number" and "百分之九十" in a.answer


def test_money_asked_and_none_in_the_answer_abstains():
    a = _judge("社会团体登记要交多少费用？", [REGISTRATION])
    assert a.answer_type == "none" and a.answer is None
    assert "money" in a.features["abstained_because"] or "measure" in a.features["abstained_because"]


def test_yes_no_question_about_cost_is_not_a_money_question():
    a = _judge("破损的人民币去银行兑换要收费吗？", [BANKNOTES])
    assert a.answer_type == "passage" and "无偿" in a.answer


def test_body_named_in_running_text_is_a_unit_answer_not_an_abstention():
    a = _judge("见义勇为行为由哪个机关确认？", [BRAVERY])
    assert a.answer_type == "lead_unit" and a.answer == "行为发生地的公安机关"


def test_no_unit_found_abstains():
    # the passage names no body at all: a unit question falls back to a sentence, with little certainty
    a = _judge("残缺人民币的挑剔工作由哪个部门牵头？", ["残缺、污损的人民币不得流通。"])
    assert a.answer_type == "none"


def test_measure_asked_that_no_clause_holds_abstains():
    a = _judge("登记管理机关作出决定最多要多少公里？", [REGISTRATION])
    assert a.answer_type == "none"
    assert a.features["abstained_because"] == "no figure in the measure asked for"
    # the same question in a measure the text has (天 → 日) is answered
    b = _judge("登记管理机关要在多少天内作出登记决定？", [REGISTRATION])
    assert b.answer_type == "number" and "60日内" in b.answer


def test_topic_terms_not_covered_abstains():
    a = _judge("驾驶证换证要提前几个月申请？", [BRAVERY], idf={"驾驶": 8.0, "换证": 8.0})
    assert a.answer_type == "none"


def test_fee_and_clock_questions_need_the_figure_they_ask_for():
    from qa.abstention import _CLOCK_ASKED, _CLOCK_TIME, _MONEY_ASKED

    assert _MONEY_ASKED.search("医院挂号费是多少？") and _MONEY_ASKED.search("停车费一小时几块？")
    assert not _MONEY_ASKED.search("费用由谁承担？")
    assert _CLOCK_ASKED.search("图书馆几点开门？")
    assert _CLOCK_TIME.search("每日9:00至17:30开放") and _CLOCK_TIME.search("早上八点半开门")
    assert not _CLOCK_TIME.search("实施5个总分馆建设工程")
