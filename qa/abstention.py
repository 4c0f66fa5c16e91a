"""Decide whether the retrieved passages support an answer, and how confident to be.

The corpus "not answering" a question usually looks like this: the topic is there (so retrieval finds
something close) but the specific thing asked — a fee, a term of office, a named leader, a completion
date — is not. So the decision rests on evidence from the question's own terms, weighted by how rare
they are in the corpus (IDF), and on whether the passage the answer came from holds them:

- `coverage`: the share of the question's content terms (IDF-weighted) found in the supporting passage;
  terms the corpus has never seen count fully against it, since no passage can hold them;
- `missing_rare`: the rarest question terms (highest IDF) absent from the supporting passage;
- the extractor's own certainty (`answer.confidence`) and, for figures and dates, whether the clause
  it picked holds one at all.

The thresholds are few and general; their effect is measured on the dev set (README, calibration).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .answers import MONEY_FIGURE, is_yes_no
from .overlap import QUESTION_PHRASES
from .retrieval import Hit, HybridRetriever, QueryAnalysis

# question terms that ask *for* something rather than name the topic; they are not expected in passages
ASKING_TERMS = frozenset(
    "牵头 负责 部门 单位 哪些 哪个 谁 什么 多少 几 何时 时候 哪天 哪年 哪一年 时间 要求 规定 情况 怎么 怎样 如何 是否 有没有 "
    "能 可以 应该 找 管 归 属于 主要 内容 文件 哪份 印发 发布 文号 措施 工作 目标 达到 完成 具体 一共 共 安排 计划 开展 "
    "今年 明年".split()
)

# a fee, a fine, a budget: the answer must name a sum of money
_MONEY_ASKED = re.compile(
    r"多少钱|收费|收多少|(?:经费|资金|费用|罚款|罚金|补助|补贴|工资|报酬|奖励|投资|预算)[^，。？?]{0,6}多少"
    r"|[\u4e00-\u9fa5]费[^，。？?]{0,4}(?:多少|几)"  # a named fee: 学费、挂号费、停车费…是多少
    r"|多少[^，。？?]{0,6}(?:经费|资金|费用|罚款|钱)"
)
# a time of day (几点开门) is answered by a clock time, not by any figure
_CLOCK_ASKED = re.compile(r"几点|几时")
_CLOCK_TIME = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|[\d〇一二三四五六七八九十]{1,3}\s*[点时](?:\s*\d{1,2}\s*分|半)?")
UNSEEN_TERM_IDF = 8.0
FALLBACK_MIN_CONFIDENCE = 0.6
MIN_KNOWN_COVERAGE = 0.35
MIN_CLAUSE_OVERLAP = 0.35


@dataclass
class Evidence:
    coverage: float
    known_coverage: float  # the same over terms the corpus has (a citizen's own words are often unseen)
    missing: list[str]
    unseen: list[str]
    top_score: float
    top_dense: float


def content_terms(analysis: QueryAnalysis, retriever: HybridRetriever) -> dict[str, float]:
    """Question terms that name its topic, with their IDF (unseen terms get a high default)."""
    terms: dict[str, float] = {}
    for t in analysis.tokens:
        if t in ASKING_TERMS or len(t) < 2 or re.fullmatch(r"[\d.%]+", t) or QUESTION_PHRASES.fullmatch(t):
            continue
        terms[t] = analysis.idf.get(t, UNSEEN_TERM_IDF)
    # search mode yields a word and its parts: keep the longest forms so a term is not counted twice
    return {t: w for t, w in terms.items() if not any(t != u and t in u for u in terms)}


def gather_evidence(analysis: QueryAnalysis, hits: list[Hit], support: list[int],
                    retriever: HybridRetriever) -> Evidence:
    terms = content_terms(analysis, retriever)
    used = [hits[i] for i in support if i < len(hits)] or hits[:1]
    text = "".join(h.chunk.text + h.chunk.context for h in used).lower()
    norm_text = retriever.index.segmenter.tokenize(text)
    present_tokens = set(norm_text)
    total = sum(terms.values()) or 1.0
    missing = [t for t in terms if t not in present_tokens and t not in text]
    unseen = [t for t in terms if t not in analysis.idf]
    covered = sum(w for t, w in terms.items() if t not in missing)
    known = {t: w for t, w in terms.items() if t not in unseen}
    known_total = sum(known.values())
    known_covered = sum(w for t, w in known.items() if t not in missing)
    return Evidence(coverage=covered / total if terms else 1.0,
                    known_coverage=known_covered / known_total if known_total else 1.0,
                    missing=missing, unseen=unseen,
                    top_score=hits[0].score if hits else 0.0, top_dense=hits[0].dense if hits else 0.0)


def judge_answer(question: str, analysis: QueryAnalysis, hits: list[Hit], answer, retriever: HybridRetriever):
    """Return `answer`, turned into an abstention when the evidence does not support it.

    Three kinds of evidence, each general (nothing here knows any particular question):
    1. the extractor found nothing of the kind asked for — a unit, a figure, a date — and fell back to
       quoting a sentence, with little certainty;
    2. the question asks for a figure in a given measure (多少公里, 任期几年 → 年; 几天 is answered by 日)
       and no clause of the passages holds a figure in that measure; or it asks for a sum of money
       (收费多少, 罚款多少, 多少经费) and the answer names none — a sum in 元, or a share or multiple of
       another sum (工资的百分之八十, 一倍以上三倍以下的罚款). A yes/no question ("要收费吗？") asks
       whether, not how much: it is answered by the rule, with no figure; a time of day (几点) needs a
       clock time in the answer;
    3. the passage the answer came from leaves most of the question's topic terms (IDF-weighted, those
       the corpus knows) uncovered, and no clause of it matches the question well.
    """
    if not hits or answer.answer is None:
        return _abstain(answer, 0.9, "no passage" if not hits else "nothing extracted")
    ev = gather_evidence(analysis, hits, answer.support, retriever)
    f = answer.features if isinstance(getattr(answer, "features", None), dict) else {}
    f.update({"coverage": round(ev.coverage, 3), "known_coverage": round(ev.known_coverage, 3),
              "missing": ev.missing, "unseen": ev.unseen})
    intended = f.get("intended_type", answer.answer_type)
    overlap = float(f.get("clause_overlap") or 0.0)
    if intended != "passage" and answer.answer_type == "passage" and answer.confidence < FALLBACK_MIN_CONFIDENCE:
        return _abstain(answer, 0.7, f"no {intended} found in the passages")
    if intended == "number" and f.get("measure_asked") and not f.get("measure_match"):
        return _abstain(answer, 0.75, "no figure in the measure asked for")
    if _MONEY_ASKED.search(question) and not is_yes_no(question) and not MONEY_FIGURE.search(answer.answer):
        return _abstain(answer, 0.75, "asks for an amount of money; the answer holds none")
    if _CLOCK_ASKED.search(question) and not _CLOCK_TIME.search(answer.answer):
        return _abstain(answer, 0.75, "asks for a time of day; the answer holds none")
    if ev.known_coverage < MIN_KNOWN_COVERAGE and overlap < MIN_CLAUSE_OVERLAP:
        return _abstain(answer, 0.6 + 0.3 * (MIN_KNOWN_COVERAGE - ev.known_coverage), "topic terms not covered")
    # confidence: the extractor's certainty, discounted by what the passage leaves uncovered
    answer.confidence = float(max(0.0, min(1.0, answer.confidence * (0.6 + 0.4 * ev.known_coverage))))
    return answer


def _abstain(answer, confidence: float, why: str):
    if isinstance(getattr(answer, "features", None), dict):
        answer.features["abstained_because"] = why
    answer.answer = None
    answer.answer_type = "none"
    answer.lead_units = []
    answer.supporting_units = []
    answer.confidence = float(max(0.0, min(1.0, confidence)))
    return answer


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
