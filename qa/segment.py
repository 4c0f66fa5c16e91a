"""Chinese word segmentation for the lexical index: jieba plus a domain dictionary taken from the corpus.

Government documents are full of names jieba does not know (市乡村振兴局, 青政办发〔2021〕14号,
“五水共治”). Cut into pieces they match unrelated text, so the dictionary is harvested from the corpus
itself at index time (unit names where the text marks units, 文号, short quoted programme names) and
stored with the index, so queries are cut exactly the way the passages were.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import jieba

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr otherwise

# Function words and question words: they carry no topic, and the question words never occur in
# the documents, so leaving them in only dilutes BM25 and the answerability checks.
STOPWORDS: frozenset[str] = frozenset(
    """
    的 了 和 与 及 或 等 是 在 对 把 被 从 向 以 为 于 由 将 并 且 而 也 都 就 还 又 之 其 该 此 这 那 这些 那些
    一 个 上 下 中 内 外 时 后 前 要 应 会 能 可 可以 需要 进行 有 没有 无 不 各 每 并且 以及 及其 或者 通过 按照
    根据 关于 对于 一个 一些 什么 哪个 哪些 哪 哪里 哪儿 哪家 哪一 哪一年 哪年 哪天 何时 多少 几 几个 几年 多 多大 多长 怎么
    怎样 如何 为什么 吗 呢 吧 啊 呀 么 谁 由谁 是谁 是否 是不是 请问 一下 我 我们 你 你们 他 他们 她 它 咱们 自己
    能否 可否 需 得 着 过 个人 现在 今年 请 想 知道 告诉 问 问题 ？ ? ！ ! ， , 。 、 ； ; ： : “ ” " ' （ ） ( ) 《 》
    〔 〕 [ ] 【 】 … — - · / \\ % ％
    """.split()
)

_UNIT_MARKERS = re.compile(
    r"(?:牵头单位|责任单位|配合单位|牵头部门|配合部门|责任部门|主办单位|协办单位)\s*[：:]\s*([^\n；;）)]+)"
)
_INLINE_UNITS = re.compile(r"[（(]([^（）()\n]{2,80}?)(?:牵头|负责)[^（）()\n]{0,40}[）)]")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,8}[〔\[［(（]\d{4}[〕\]］)）]\s*\d{1,4}\s*号")
_QUOTED = re.compile(r"[“\"]([^”\"\n]{2,12})[”\"]")
_UNIT_SPLIT = re.compile(r"[、，,；;和及\s]+")
_UNIT_SUFFIX = re.compile(
    r"(局|委|办|办公室|委员会|部|院|中心|所|站|队|会|联|团|社|政府|处|厅|管委会|公司|银行|街道|镇|场|分局|支队|大队)$"
)
_SPACE_IN_NUMBER = re.compile(r"(?<=[\d\u4e00-\u9fa5%．.])[ \t\u3000]+(?=[\d\u4e00-\u9fa5%])")


def normalize(text: str) -> str:
    """Fold full-width forms (NFKC) and drop the stray spaces the print conversion left in numbers."""
    text = unicodedata.normalize("NFKC", text)
    return _SPACE_IN_NUMBER.sub("", text)


def harvest_domain_terms(texts: Iterable[str]) -> list[str]:
    """Unit names, 文号 and short quoted names found in `texts`, for jieba's user dictionary."""
    terms: set[str] = set()
    for text in texts:
        norm = normalize(text)
        for m in _UNIT_MARKERS.finditer(norm):
            terms.update(_unit_names(m.group(1)))
        for m in _INLINE_UNITS.finditer(norm):
            terms.update(_unit_names(m.group(1)))
        for m in _DOC_NUMBER.finditer(norm):
            terms.add(re.sub(r"\s+", "", m.group(0)))
        for m in _QUOTED.finditer(norm):
            inner = m.group(1).strip()
            if 2 <= len(inner) <= 12 and not re.search(r"[，。；：,;:]", inner):
                terms.add(inner)
    return sorted(terms)


def _unit_names(span: str) -> list[str]:
    names = []
    for part in _UNIT_SPLIT.split(span):
        part = part.strip("，,。；;：: ")
        if 2 <= len(part) <= 16 and _UNIT_SUFFIX.search(part) and not re.search(r"\d", part):
            names.append(part)
            # "市乡村振兴局" is also written "乡村振兴局": both spellings should stay whole
            if part.startswith("市") and len(part) > 3:
                names.append(part[1:])
    return names


class Segmenter:
    """jieba with a private dictionary; `tokenize` gives the index terms of a text."""

    def __init__(self, domain_terms: Iterable[str] = ()) -> None:
        self.domain_terms = sorted(set(domain_terms))
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._cached_words = lru_cache(maxsize=8192)(lambda text: tuple(self.words(text)))
        for term in self.domain_terms:
            # high frequency so jieba prefers the whole name over its parts
            self._jieba.add_word(term, freq=max(1000, 200 * len(term)))

    def words(self, text: str) -> list[str]:
        """Search-mode words (long words and their dictionary sub-words), stopwords removed."""
        out = []
        for w in self._jieba.cut_for_search(normalize(text)):
            w = w.strip()
            if w and w not in STOPWORDS and not _is_punct(w):
                out.append(w.lower())
        return out

    def tokenize(self, text: str) -> list[str]:
        # passages are re-tokenised per question by the answerability check: cache recent ones
        return list(self._cached_words(text))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    def save_terms(self, path: Path) -> None:
        path.write_text("\n".join(self.domain_terms) + "\n", encoding="utf-8")

    @classmethod
    def from_terms_file(cls, path: Path) -> "Segmenter":
        terms = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()] if path.exists() else []
        return cls(terms)


@lru_cache(maxsize=4096)
def _is_punct(token: str) -> bool:
    return all(unicodedata.category(c)[0] in "PSZ" for c in token)
