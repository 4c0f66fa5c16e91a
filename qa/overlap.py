"""Question–passage overlap on character bigrams, shared by retrieval (re-ranking) and answers.

Chinese questions rarely reuse a passage's exact words ("污水处理站建设谁牵头" vs "推进…污水处理站建设
（市X局牵头）"), but they share character bigrams. What counts is whether ONE clause or
sentence of the passage covers what is asked, not whether the words are scattered over a long passage,
so the best clause is scored. Question words (由哪个部门, 多少, 谁…) are removed first: they say what is
asked, not about which task.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Removed before matching: they say what is asked, not about which task.
QUESTION_PHRASES = re.compile(
    r"(?:由|归|是|找|属于|属)?(?:哪个|哪些|哪家|哪一个|哪几个|哪位|哪里|哪儿|什么|啥)(?:部门|单位|机构|机关|领导|地方|文件|时候|时间|人)?"
    r"|牵头单位|责任单位|配合单位|牵头部门|配合部门|责任部门|牵头|负责|配合|协办|谁|多少|几[个名家年月号日天次]?|是否|有没有|会不会|能不能|要不要"
    r"|怎么样|怎么|如何|请问|这项工作|这项|这一项|这一条|这条|这块|这事|这种情况|情况|[吗呢吧啊呀么]"
)
STOP_CHARS = set("的了是由在和与及把被要能会有这那哪个些谁什么几多少请问吧呀呢吗啊，。？！?!、；：:“”‘’《》（）() 　")
SENT_SPLIT = re.compile(r"[。！？!?；;\n]")
CLAUSE_SPLIT = re.compile(r"[，,。！？!?；;\n]")
_WHITESPACE = re.compile(r"\s+")
# full-width digits/letters/punctuation → ASCII, except the Chinese brackets, comma, colon, semicolon
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in "（），：；"}


@dataclass
class QTerms:
    bigrams: set[str]
    chars: set[str]


def norm_text(text: str) -> str:
    """Whitespace removed (the source puts spaces in "2021 年"), full-width digits/letters folded."""
    # the folding table is built once (it used to be rebuilt on every call: most of a query's time)
    return _WHITESPACE.sub("", text).translate(_FOLD)


def bigrams(text: str) -> set[str]:
    t = norm_text(text)
    return {t[i:i + 2] for i in range(len(t) - 1) if t[i] not in STOP_CHARS and t[i + 1] not in STOP_CHARS}


def question_terms(question: str) -> QTerms:
    """Content bigrams and characters of the question, question words removed (no bigram crosses them)."""
    pieces = QUESTION_PHRASES.split(norm_text(question))
    grams, chars = set(), set()
    for piece in pieces:
        for part in re.split(r"[，。？！?!、；：:“”‘’《》（）()\"']", piece):
            grams |= bigrams(part)
            chars |= {c for c in part if c not in STOP_CHARS}
    return QTerms(grams, chars)


def coverage(q: QTerms, text: str, weights: dict[str, float] | None = None) -> float:
    """Weighted fraction of question bigrams (0.75) and characters (0.25) found in `text`."""
    if not q.bigrams and not q.chars:
        return 0.0
    t = norm_text(text)
    # a two-character string is one of t's bigrams exactly when it occurs in t: substring tests (in C)
    # instead of building t's bigram set (in Python) give the same sums in a fraction of the time
    w = weights or {}
    total = sum(w.get(g, 1.0) for g in q.bigrams)
    big = sum(w.get(g, 1.0) for g in q.bigrams if g in t) / total if total else 0.0
    uni = sum(1 for c in q.chars if c in t) / len(q.chars) if q.chars else 0.0
    return 0.75 * big + 0.25 * uni if q.bigrams else uni


def clauses(text: str, splitter: re.Pattern = CLAUSE_SPLIT) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in splitter.finditer(text):
        if text[start:m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return [trim(text, a, b) for a, b in spans]


def trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in " \t\u3000\n":
        a += 1
    while b > a and text[b - 1] in " \t\u3000\n":
        b -= 1
    return a, b


def clause_overlap(question: str, text: str) -> float:
    """Fraction of the question's content bigrams/characters covered by the best clause of `text`.

    An abstention feature: a low value means no clause of the passage is about what was asked.
    The value of `coverage` (unweighted) over every sentence and clause of `text`; the question's
    terms and each passage's normalised sentences/clauses are cached, since retrieval re-ranks the
    same passages for many questions and calls this 30 times per question.
    """
    q = _question_terms_cached(question)
    grams, chars = q.bigrams, q.chars
    if not grams and not chars:
        return 0.0
    n_grams, n_chars = len(grams), len(chars)
    best = 0.0
    for t in _clause_texts(text):
        # as in `coverage`: unweighted sums are counts, exact in floating point
        uni = sum(1 for c in chars if c in t) / n_chars if n_chars else 0.0
        if n_grams:
            v = 0.75 * (sum(1 for g in grams if g in t) / n_grams) + 0.25 * uni
        else:
            v = uni
        if v > best:
            best = v
    return round(best, 4)


@lru_cache(maxsize=1024)
def _question_terms_cached(question: str) -> QTerms:
    # shared between calls: only read here
    return question_terms(question)


@lru_cache(maxsize=8192)
def _clause_texts(text: str) -> tuple[str, ...]:
    """Each sentence, then each clause, of `text`, normalised (a few KB per passage)."""
    # sentences, so that "A，B" questions can match both halves
    return tuple(norm_text(text[a:b]) for splitter in (SENT_SPLIT, CLAUSE_SPLIT) for a, b in clauses(text, splitter))
