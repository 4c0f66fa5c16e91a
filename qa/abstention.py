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

from .retrieval import Hit, HybridRetriever, QueryAnalysis

# question terms that ask *for* something rather than name the topic; they are not expected in passages
ASKING_TERMS = frozenset(
    "牵头 负责 部门 单位 哪些 哪个 谁 什么 多少 几 何时 时候 哪天 哪年 哪一年 时间 要求 规定 情况 怎么 怎样 如何 是否 有没有 "
    "能 可以 应该 找 管 归 属于 主要 内容 文件 哪份 印发 发布 文号 措施 工作 目标 达到 完成 具体 一共 共 安排 计划 开展 "
    "今年 明年".split()
)

UNSEEN_TERM_IDF = 8.0
MIN_COVERAGE = 0.5


@dataclass
class Evidence:
    coverage: float
    missing: list[str]
    unseen: list[str]
    top_score: float
    top_dense: float


def content_terms(analysis: QueryAnalysis, retriever: HybridRetriever) -> dict[str, float]:
    """Question terms that name its topic, with their IDF (unseen terms get a high default)."""
    terms: dict[str, float] = {}
    for t in analysis.tokens:
        if t in ASKING_TERMS or len(t) < 2 or re.fullmatch(r"[\d.%]+", t):
            continue
        terms[t] = analysis.idf.get(t, UNSEEN_TERM_IDF)
    # search mode yields a word and its parts: keep the longest forms so a term is not counted twice
    return {t: w for t, w in terms.items() if not any(t != u and t in u for u in terms)}


def gather_evidence(analysis: QueryAnalysis, hits: list[Hit], support: list[int],
                    retriever: HybridRetriever) -> Evidence:
    terms = content_terms(analysis, retriever)
    used = [hits[i] for i in support if i < len(hits)] or hits[:1]
    text = "".join(h.chunk.text + h.chunk.context for h in used)
    norm_text = retriever.index.segmenter.tokenize(text)
    present_tokens = set(norm_text)
    total = sum(terms.values()) or 1.0
    missing = [t for t in terms if t not in present_tokens and t not in text]
    unseen = [t for t in terms if t not in analysis.idf]
    covered = sum(w for t, w in terms.items() if t not in missing)
    return Evidence(coverage=covered / total if terms else 1.0, missing=missing, unseen=unseen,
                    top_score=hits[0].score if hits else 0.0, top_dense=hits[0].dense if hits else 0.0)


def judge_answer(question: str, analysis: QueryAnalysis, hits: list[Hit], answer, retriever: HybridRetriever):
    """Return `answer`, turned into an abstention when the evidence does not support it."""
    if not hits:
        return _abstain(answer, 0.9)
    ev = gather_evidence(analysis, hits, answer.support, retriever)
    features = getattr(answer, "features", None)
    if isinstance(features, dict):
        features.update({"coverage": round(ev.coverage, 3), "missing": ev.missing, "unseen": ev.unseen})
    if answer.answer is None or ev.coverage < MIN_COVERAGE:
        return _abstain(answer, min(0.95, 0.5 + (MIN_COVERAGE - ev.coverage)))
    # confidence: the extractor's certainty, discounted by what the passage leaves uncovered
    answer.confidence = float(max(0.0, min(1.0, answer.confidence * (0.5 + 0.5 * ev.coverage))))
    return answer


def _abstain(answer, confidence: float):
    answer.answer = None
    answer.answer_type = "none"
    answer.lead_units = []
    answer.supporting_units = []
    answer.confidence = float(max(0.0, min(1.0, confidence)))
    return answer


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
