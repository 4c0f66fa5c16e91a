"""Retrieval evidence for the answer decision: how much of the question's topic the supporting passage holds.

The corpus "not answering" a question usually looks like this: the topic is there (so retrieval finds
something close) but the specific thing asked — a fee, a term of office, a named leader, a completion
date — is not. The evidence is the question's own content terms, weighted by how rare they are in the
corpus (IDF), checked against the passage the answer came from:

- `coverage`: the share of the question's content terms (IDF-weighted) found in the supporting passage;
  terms the corpus has never seen count fully against it, since no passage can hold them;
- `known_coverage`: the same over the terms the corpus knows (a citizen's own words are often unseen);
- `max_missing_idf`: how rare the rarest missing term the corpus knows is; `unseen_share`: how much of the question the
  corpus has never seen.

These are features of the calibrated decision (`qa.answer.calibration`), not thresholds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.expansion import cilin_synonyms
from qa.overlap import QUESTION_PHRASES, coverage, question_terms
from qa.retrieval import Hit, HybridRetriever, QueryAnalysis
from qa.segment import normalize

# question terms that ask *for* something rather than name the topic; they are not expected in passages
ASKING_TERMS = frozenset(
    "牵头 负责 部门 单位 哪些 哪个 谁 什么 多少 几 何时 时候 哪天 哪年 哪一年 时间 要求 规定 情况 怎么 怎样 如何 是否 有没有 "
    "能 可以 应该 找 管 归 属于 主要 内容 文件 哪份 印发 发布 文号 措施 工作 目标 达到 完成 具体 一共 共 安排 计划 开展 "
    "今年 明年".split()
)

UNSEEN_TERM_IDF = 8.0


@dataclass
class Evidence:
    coverage: float
    known_coverage: float  # the same over terms the corpus has (a citizen's own words are often unseen)
    missing: list[str]
    unseen: list[str]
    top_score: float
    top_dense: float
    max_missing_idf: float = 0.0  # the rarest question term the passage lacks (0: none missing)
    unseen_share: float = 0.0  # IDF-weighted share of the question's terms the corpus has never seen
    # the same, over unseen words that no synonym (同义词词林) of in the corpus stands in for: a citizen's
    # 饭馆 / 孩子 / 工钱 has 餐馆 / 子女 / 工资 in the text; a topic the corpus lacks (赛马, 潮汐能) has none
    unbridged_share: float = 0.0
    support_dense: float = 0.0  # cosine of the passage the answer came from (its best sentence blended in)
    # character pairs of the question found in that passage with its headings: a citizen's words share
    # characters with the official ones (管水 / 水管, 亩地 / 每三千亩) where whole words do not
    passage_overlap: float = 0.0


def content_terms(analysis: QueryAnalysis, retriever: HybridRetriever) -> dict[str, float]:
    """Question terms that name its topic, with their IDF (unseen terms get a high default)."""
    terms: dict[str, float] = {}
    for t in analysis.tokens:
        if t in ASKING_TERMS or len(t) < 2 or re.fullmatch(r"[\d.%]+", t) or QUESTION_PHRASES.fullmatch(t):
            continue
        terms[t] = analysis.idf.get(t, UNSEEN_TERM_IDF)
    # search mode yields a word and its parts: keep the longest forms so a term is not counted twice
    return {t: w for t, w in terms.items() if not any(t != u and t in u for u in terms)}


# A place word with a locative ending (村里, 路边, 家里, 楼上) names the place itself: 村 is in the text.
_LOCATIVE = re.compile(r"^(.+?)(?:里|上|边|内|中|外|头|那儿|这儿)$")


def _bridged(term: str, retriever: HybridRetriever) -> bool:
    """Whether the corpus (its BM25 vocabulary) has `term` under another name: a synonym in 同义词词林,
    or the place a locative word names."""
    vocab = retriever.index.bm25.vocab_dict or {}
    if any(s in vocab for s in cilin_synonyms().get(term, ())):
        return True
    m = _LOCATIVE.match(term)
    return bool(m and m.group(1) in vocab)


def gather_evidence(analysis: QueryAnalysis, hits: list[Hit], support: list[int],
                    retriever: HybridRetriever, question: str = "") -> Evidence:
    terms = content_terms(analysis, retriever)
    used = [hits[i] for i in support if i < len(hits)] or hits[:1]
    text = "".join(h.chunk.text + h.chunk.context for h in used).lower()
    # every jieba token of a text is a substring of its normalised form: a substring test is the same
    # membership test as tokenising the passage, without the 2–3 ms of jieba per passage
    normalised = normalize(text).lower()
    total = sum(terms.values()) or 1.0
    missing = [t for t in terms if t not in normalised and t not in text]
    unseen = [t for t in terms if t not in analysis.idf]
    covered = sum(w for t, w in terms.items() if t not in missing)
    known = {t: w for t, w in terms.items() if t not in unseen}
    known_total = sum(known.values())
    known_covered = sum(w for t, w in known.items() if t not in missing)
    return Evidence(coverage=covered / total if terms else 1.0,
                    known_coverage=known_covered / known_total if known_total else 1.0,
                    missing=missing, unseen=unseen,
                    top_score=hits[0].score if hits else 0.0, top_dense=hits[0].dense if hits else 0.0,
                    # over known terms only: an unseen word is as often a citizen's own word as an absent topic
                    max_missing_idf=max((terms[t] for t in missing if t not in unseen), default=0.0),
                    unseen_share=sum(terms[t] for t in unseen) / total if terms else 0.0,
                    unbridged_share=sum(terms[t] for t in unseen if not _bridged(t, retriever)) / total
                    if terms else 0.0,
                    support_dense=max((h.dense for h in used), default=0.0),
                    passage_overlap=coverage(question_terms(question), "\n".join(
                        h.chunk.text + "\n" + (h.chunk.section_path or "") for h in used)) if question else 0.0)
