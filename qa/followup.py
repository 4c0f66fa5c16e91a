"""Follow-up questions in a conversation: "那配合的单位有哪些？" after a question about a task names no
task of its own; this module decides whether a question is such a follow-up and rewrites it into one
that stands alone, from the previous user question. Pure functions over strings, no index needed.

How a question is read: it is scanned left to right against a small vocabulary of words that carry
no topic — function and question words (the retrieval stopwords), anaphora (它, 其, 该, 这个, 那些 …),
and *asking words*, which say what kind of answer is wanted rather than what about (牵头, 配合, 单位,
时限, 文号, 哪天, 印发 …). Whatever the scan does not consume is the question's own topic.

- A question is **elliptical** when it has no topic of its own, or when it refers back (an anaphor or a
  leading 那/那么) and what topic it has is at most a few characters ("它在哪个乡镇实施？").
  It is rewritten with the previous question's topic: a leading pronoun is replaced by the topic
  ("它的完成时限呢？" → "<topic>的完成时限呢？", "这个文件是哪天发的？" → "<topic>的文件是哪天发的？"),
  otherwise the topic is put in front ("<topic>，配合的单位有哪些？").
- A question that names a topic and asks nothing ("那污水处理站呢？") keeps the previous question's
  asking part with the new topic in place of the old one.

The previous question's topic is the stretch from its first to its last topic character, question
words inside it dropped. Conversations are resolved in order, so a second follow-up reads the topic
of the first one's resolution.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .segment import STOPWORDS

ANAPHORA: frozenset[str] = frozenset(
    "它们 它 其 该 此 这 这个 这项 这份 这些 这一 这条 那 那个 那项 那份 那些 那条 上述 前述 以上 此项 此事".split())
# what kind of answer is wanted: roles, times, document metadata, figures, generic nouns for "the
# task" or "the document". Never topic words by themselves.
ASKING: frozenset[str] = frozenset("""
    牵头 配合 协助 协办 主办 参与 负责 责任 主管 落实 承担 承办 单位 部门 机关 机构 主体 哪家 哪些单位
    完成 时限 期限 时间 日期 时候 截止 截至 哪天 哪一天 几号 几月 哪月 年底 之前 以前 前后 多久 多长时间
    发布 印发 发文 发出 下发 成文 施行 公布 出台 生效 发 印
    文号 标题 名称 全称 题目 文件 通知 原文 出处 来源 依据
    目标 指标 数量 数字 比例 标准 要求 内容 具体 措施 任务 工作 事项 情况 分别 主要 达到 规定 写 说
    还有 另外 此外 那么 然后 再 呀 啊 吧 请问 一下 分别是
""".split())
# measures: "要完成多少公里？" asks for a figure, and names no topic by its measure
MEASURES: frozenset[str] = frozenset(
    "公里 千米 米 亩 万亩 公顷 吨 万吨 元 万元 亿元 家 户 人 人次 名 座 所 处 个 项 次 台 辆 套 条 批 倍 年 月 天".split())
QUESTION_WORDS: frozenset[str] = frozenset(
    "什么 哪个 哪些 哪 哪里 哪儿 哪家 哪一 哪天 哪年 何时 多少 几 几个 怎么 怎样 如何 为什么 谁 由谁 是谁 是否 吗 呢".split())
_VOCAB = STOPWORDS | ANAPHORA | ASKING | QUESTION_WORDS | MEASURES
_MAX_WORD = max(len(w) for w in _VOCAB)
# discourse openers dropped in a rewrite ("那" opens a follow-up the way "so" or "then" does)
_OPENERS = ("那么", "然后", "请问", "那")
# a pronoun at the start, with what follows it when it is possessive ("它的", "其")
_LEADING_PRONOUN = re.compile(r"^(它们|它|其|该|此|这个|这项|这份|这些|这一|这条|这|那个|那项|那份|那些|那条|上述|前述)(的)?")
# generic nouns after a demonstrative: "这个文件" is the document *of* the topic
_GENERIC_NOUN = re.compile(r"^(文件|通知|任务|工作|事项|措施|项目|单位|部门|机制|政策|规定|方案|文)")
SHORT_TOPIC = 4  # characters of its own a referring question may have and still be a follow-up


@dataclass(frozen=True)
class Reading:
    """What the scan found in a question."""

    topic: str  # the question's own topic, "" when none
    topic_chars: int  # characters of it outside the vocabulary
    refers_back: bool  # an anaphor, or a leading 那/那么
    asks: bool  # an asking or question word is present


@dataclass(frozen=True)
class Resolution:
    question: str  # as asked
    resolved: str  # what should be answered (the question itself when it stands alone)
    elliptical: bool
    topic: str | None  # the topic taken from the conversation, when one was

    @property
    def changed(self) -> bool:
        return self.resolved != self.question


def _scan(text: str) -> list[tuple[str, str]]:
    """(piece, kind) left to right: kind is 'anaphor', 'question', 'asking', 'measure', 'stop', 'punct' or
    'topic' (one character the vocabulary does not cover). Longest vocabulary word first."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if not (ch.isalnum() or "\u4e00" <= ch <= "\u9fff"):
            out.append((ch, "punct"))
            i += 1
            continue
        for n in range(min(_MAX_WORD, len(text) - i), 0, -1):
            word = text[i:i + n]
            if word in _VOCAB:
                kind = ("anaphor" if word in ANAPHORA else "question" if word in QUESTION_WORDS
                        else "asking" if word in ASKING else "measure" if word in MEASURES else "stop")
                out.append((word, kind))
                i += n
                break
        else:
            out.append((ch, "topic"))
            i += 1
    return out


def read_question(question: str) -> Reading:
    """The topic of a question and whether it refers back."""
    pieces = _scan(question.strip())
    idx = [k for k, (_, kind) in enumerate(pieces) if kind == "topic"]
    topic = ""
    if idx:
        # the stretch from the first to the last topic character; question words inside it go
        # ("孩子上学按什么划片" → "孩子上学按划片"), punctuation inside it stays
        topic = "".join(p for p, kind in pieces[idx[0]:idx[-1] + 1] if kind not in ("question", "anaphor"))
    stripped = question.strip()
    opener = any(stripped.startswith(o) for o in _OPENERS)
    return Reading(topic=topic, topic_chars=len(idx),
                   refers_back=opener or any(kind == "anaphor" for _, kind in pieces),
                   asks=any(kind in ("asking", "question") for _, kind in pieces))


def is_elliptical(question: str) -> bool:
    """True when the question leans on an earlier one for its topic."""
    r = read_question(question)
    return r.topic_chars == 0 or (r.refers_back and r.topic_chars <= SHORT_TOPIC)


def _drop_opener(text: str) -> str:
    for o in _OPENERS:
        # "那个文件" is a pronoun, not the opener 那
        if text.startswith(o) and not _LEADING_PRONOUN.match(text):
            return text[len(o):].lstrip("，, ")
    return text


def _with_topic(question: str, topic: str) -> str:
    """The elliptical question rewritten around the topic."""
    rest = _drop_opener(question.strip())
    m = _LEADING_PRONOUN.match(rest)
    if m:
        pronoun, possessive = m.group(1), m.group(2)
        after = rest[m.end():]
        if possessive or pronoun == "其" or _GENERIC_NOUN.match(after):
            return f"{topic}的{after}"
        return f"{topic}{after}"
    return f"{topic}，{rest}"


def _swap_topic(question: str, previous: str, old_topic: str) -> str | None:
    """"那污水处理站呢？" after "防止返贫…由哪个部门牵头？": the new topic with the old asking part."""
    rest = _drop_opener(question.strip())
    m = re.fullmatch(r"(.+?)[呢吗][？?！!。]*", rest)
    if not m or not old_topic or old_topic not in previous:
        return None
    new_topic = m.group(1).strip("，, ")
    r = read_question(new_topic)
    if r.asks or r.topic_chars < 2:
        return None
    return previous.replace(old_topic, new_topic, 1)


def resolve(question: str, previous: Sequence[str]) -> Resolution:
    """`question` made to stand alone, given the earlier user questions of the conversation (oldest
    first). A question that stands alone, or one with no earlier question to lean on, is unchanged."""
    prior: str | None = None
    for earlier in previous:
        if earlier and earlier.strip():
            prior = resolve(earlier, [prior] if prior else []).resolved
    if prior is None:
        return Resolution(question, question, False, None)
    topic = read_question(prior).topic
    if not topic:
        return Resolution(question, question, False, None)
    # a new topic that asks nothing first: "那污水处理站呢？" also reads as referring back
    swapped = _swap_topic(question, prior, topic)
    if swapped is not None:
        return Resolution(question, swapped, True, read_question(question).topic)
    if is_elliptical(question):
        return Resolution(question, _with_topic(question, topic), True, topic)
    return Resolution(question, question, False, None)
