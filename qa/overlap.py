"""Question–passage overlap on character bigrams, shared by retrieval (re-ranking) and answers.

Chinese questions rarely reuse a passage's exact words ("污水处理站建设谁牵头" vs "推进…污水处理站建设
（市住房和城乡建设局牵头）"), but they share character bigrams. What counts is whether ONE clause or
sentence of the passage covers what is asked, not whether the words are scattered over a long passage,
so the best clause is scored. Question words (由哪个部门, 多少, 谁…) are removed first: they say what is
asked, not about which task.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Removed before matching: they say what is asked, not about which task.
QUESTION_PHRASES = re.compile(
    r"(?:由|归|是|找|属于|属)?(?:哪个|哪些|哪家|哪一个|哪几个|哪位|哪里|哪儿|什么|啥)(?:部门|单位|机构|机关|领导|地方|文件|时候|时间|人)?"
    r"|牵头单位|责任单位|配合单位|牵头部门|配合部门|责任部门|牵头|负责|配合|协办|谁|多少|几[个名家年月号日天次]?|是否|有没有|会不会|能不能|要不要"
    r"|怎么样|怎么|如何|请问|这项工作|这项|这一项|这一条|这条|这块|这事|这种情况|情况|[吗呢吧啊呀么]"
)
STOP_CHARS = set("的了是由在和与及把被要能会有这那哪个些谁什么几多少请问吧呀呢吗啊，。？！?!、；：:“”‘’《》（）() 　")
SENT_SPLIT = re.compile(r"[。！？!?；;\n]")
CLAUSE_SPLIT = re.compile(r"[，,。！？!?；;\n]")


@dataclass
class QTerms:
    bigrams: set[str]
    chars: set[str]


def norm_text(text: str) -> str:
    """Whitespace removed (the source puts spaces in "2021 年"), full-width digits/letters folded."""
    text = re.sub(r"\s+", "", text)
    return text.translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in "（），：；"})


def bigrams(text: str) -> set[str]:
    t = norm_text(text)
    return {t[i:i + 2] for i in range(len(t) - 1) if not (set(t[i:i + 2]) & STOP_CHARS)}


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
    tg = {t[i:i + 2] for i in range(len(t) - 1)}
    w = weights or {}
    total = sum(w.get(g, 1.0) for g in q.bigrams)
    big = sum(w.get(g, 1.0) for g in q.bigrams if g in tg) / total if total else 0.0
    uni = len(q.chars & set(t)) / len(q.chars) if q.chars else 0.0
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
    """
    q = question_terms(question)
    best = 0.0
    for a, b in clauses(text, SENT_SPLIT):  # sentences, so that "A，B" questions can match both halves
        best = max(best, coverage(q, text[a:b]))
    for a, b in clauses(text):
        best = max(best, coverage(q, text[a:b]))
    return round(best, 4)
