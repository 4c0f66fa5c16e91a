"""Article addressing: "《劳动合同法》第十九条", "刑法第二百六十四条之一第二款" → the passages of that article.

A lawyer or clerk who names an article wants that article, not the passages that happen to share
its words. This module parses article references in a question (第N条 with Chinese or Arabic
numerals, 之N, 第N款, 第N项; ranges "第十九条至第二十一条"), finds the laws the question names among
the documents of the index (full titles, and the short forms people write: without 中华人民共和国,
without a bracketed version note, without 暂行, "上海生活垃圾管理条例" for 上海市…, with or without
《》), and looks the article up by the section path the readers record ("第二章 … > 第十九条").
Retrieval puts what it finds first: an exact lookup, not a ranking hope.

Several versions of one law (the same title after the version note is removed, e.g. two files of
中华人民共和国劳动合同法 with different dates) are one `Law`; its versions are ordered newest first.
A year in the question that matches a version ("2007年的劳动合同法") puts that version first.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import cn2an

from .model import Chunk, Document
from .overlap import norm_text

_NUM = r"[零〇一二两三四五六七八九十百千\d]+"
# 第十九条 / 第19条 / 第二百六十四条之一, then optionally 第二款 and 第（三）项
_REF_RE = re.compile(
    rf"第(?P<num>{_NUM})条(?:之(?P<sub>{_NUM}))?"
    rf"(?:第(?P<kuan>{_NUM})款)?(?:第[（(]?(?P<xiang>{_NUM})[）)]?项)?"
)
# "第十九条至第二十一条", "第十九条到二十一条", "第19-21条"
_RANGE_RE = re.compile(rf"第(?P<a>{_NUM})条?(?:至|到|—|-|－|~|～)第?(?P<b>{_NUM})条")
_LABEL_RE = re.compile(rf"^第(?P<num>{_NUM})条(?:之(?P<sub>{_NUM}))?$")
_QUOTED_RE = re.compile(r"《([^《》]{2,80})》")
_BRACKETS = re.compile(r"[（(【\[〔][^）)】\]〕]*[）)】\]〕]")
_PRC = "中华人民共和国"
_PLACE_RE = re.compile(r"^(?P<place>[\u4e00-\u9fff]{2,3}?)(?:省|市)(?P<rest>[\u4e00-\u9fff].{2,})$")
_ITEM_LINE = re.compile(r"^[（(][一二三四五六七八九十\d]+[）)]|^[一二三四五六七八九十]+、|^\d+[.、．]")
_YEAR_RE = re.compile(r"(?:19|20)\d{2}")
MAX_RANGE = 20  # a range wider than this is not expanded article by article
_VIOLATION = re.compile(r"违反[^，。？?]{0,30}$")  # "违反《X条例》第十九条…" asks about the penalty clause


@lru_cache(maxsize=4096)
def parse_number(text: str) -> int | None:
    """"十九" → 19, "一百二十" → 120, "二百六十四" → 264, "两百" → 200, "19" → 19; None if not a number."""
    text = norm_text(text)
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return int(value) if value == int(value) and value >= 0 else None


@dataclass(frozen=True)
class ArticleRef:
    """One article a question names: 第`number`条之`sub` (0: none), optionally 第`paragraph`款 第`item`项."""

    number: int
    sub: int = 0
    paragraph: int | None = None
    item: int | None = None
    start: int = 0  # span in the normalised question
    end: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.number, self.sub)

    @property
    def label(self) -> str:
        cn = cn2an.an2cn(self.number)
        return f"第{cn}条" + (f"之{cn2an.an2cn(self.sub)}" if self.sub else "")


def parse_article_refs(question: str) -> list[ArticleRef]:
    """Every article named in the question, in order; ranges expanded (at most MAX_RANGE articles)."""
    q = norm_text(question)
    refs: list[ArticleRef] = []
    covered: list[tuple[int, int]] = []
    for m in _RANGE_RE.finditer(q):
        a, b = parse_number(m.group("a")), parse_number(m.group("b"))
        if a is None or b is None or not 0 < b - a < MAX_RANGE:
            continue
        refs.extend(ArticleRef(n, start=m.start(), end=m.end()) for n in range(a, b + 1))
        covered.append((m.start(), m.end()))
    for m in _REF_RE.finditer(q):
        if any(s <= m.start() < e for s, e in covered):
            continue
        number = parse_number(m.group("num"))
        if number is None or number == 0:
            continue
        sub = parse_number(m.group("sub")) if m.group("sub") else 0
        kuan = parse_number(m.group("kuan")) if m.group("kuan") else None
        xiang = parse_number(m.group("xiang")) if m.group("xiang") else None
        refs.append(ArticleRef(number, sub or 0, kuan, xiang, m.start(), m.end()))
    refs.sort(key=lambda r: r.start)
    return refs


def article_key(label: str) -> tuple[int, int] | None:
    """A section-path entry "第二百六十四条之一" → (264, 1); None when the entry is not an article."""
    m = _LABEL_RE.match(norm_text(label))
    if not m:
        return None
    number = parse_number(m.group("num"))
    if number is None:
        return None
    return (number, parse_number(m.group("sub")) or 0 if m.group("sub") else 0)


def base_title(title: str) -> str:
    """A law's name without its version note: "中华人民共和国劳动合同法（2012修正）" → "中华人民共和国劳动合同法"."""
    return _BRACKETS.sub("", norm_text(title)).strip()


def title_aliases(title: str) -> set[str]:
    """The names a question may use for a document with this title (all normalised, no 《》)."""
    base = base_title(title)
    names = {norm_text(title), base}
    short = base[len(_PRC):] if base.startswith(_PRC) and len(base) - len(_PRC) >= 2 else base
    names.add(short)
    for name in list(names):
        if "暂行" in name:
            names.add(name.replace("暂行", ""))
    for name in list(names):
        m = _PLACE_RE.match(name)
        if m:  # "上海市生活垃圾管理条例" is also written "上海生活垃圾管理条例"
            names.add(m.group("place") + m.group("rest"))
    return {n for n in names if len(n) >= 2}


def _version_note(title: str) -> str | None:
    m = _BRACKETS.search(norm_text(title))
    return m.group(0)[1:-1] if m else None


@dataclass
class Law:
    """One law: its versions (documents with the same base title), newest first."""

    name: str  # base title of the newest version
    versions: list[str] = field(default_factory=list)  # doc_ids, newest first


@dataclass
class Mention:
    """A law named in the question: its span in the normalised question."""

    law: Law | None  # None: named in 《》 but not in the index
    start: int
    end: int


class ArticleCatalog:
    """The laws of an index and where each article of each version is (chunk rows, in reading order)."""

    def __init__(self, documents: dict[str, Document], chunks: list[Chunk]) -> None:
        self.documents = documents
        self.articles: dict[str, dict[tuple[int, int], list[int]]] = defaultdict(lambda: defaultdict(list))
        for row, chunk in enumerate(chunks):
            key = next((k for k in (article_key(s) for s in reversed(chunk.section)) if k), None)
            if key is not None:
                self.articles[chunk.doc_id][key].append(row)
        self.chunks = chunks
        groups: dict[str, list[str]] = defaultdict(list)
        for doc_id in self.articles:
            doc = documents.get(doc_id)
            if doc is not None:
                groups[_group_key(doc.title)].append(doc_id)
        self.laws: list[Law] = []
        self._law_of: dict[str, Law] = {}
        names: dict[str, set[int]] = defaultdict(set)
        for doc_ids in groups.values():
            doc_ids.sort(key=lambda d: (documents[d].date or "", d), reverse=True)
            law = Law(name=base_title(documents[doc_ids[0]].title), versions=doc_ids)
            self.laws.append(law)
            for d in doc_ids:
                self._law_of[d] = law
                for alias in title_aliases(documents[d].title):
                    names[alias].add(len(self.laws) - 1)
        # an alias two different laws share names neither ("生活垃圾管理条例" of two cities)
        self._alias: dict[str, Law] = {a: self.laws[next(iter(ix))] for a, ix in names.items() if len(ix) == 1}
        # aliases indexed by their last character and length, so a question is scanned in one pass
        self._lengths: dict[str, set[int]] = defaultdict(set)
        for alias in self._alias:
            self._lengths[alias[-1]].add(len(alias))

    def __len__(self) -> int:
        return len(self.laws)

    def law_of(self, doc_id: str) -> Law | None:
        return self._law_of.get(doc_id)

    def mentions(self, question: str) -> list[Mention]:
        """Laws the question names (longest names first, no two overlapping), in question order."""
        q = norm_text(question)
        found: list[Mention] = []
        for m in _QUOTED_RE.finditer(q):
            inner = m.group(1)
            law = self._alias.get(inner) or self._alias.get(base_title(inner))
            found.append(Mention(law, m.start(), m.end()))
        if self._alias:
            spans = []
            for j, ch in enumerate(q):
                for length in self._lengths.get(ch, ()):
                    i = j + 1 - length
                    if i >= 0 and q[i:j + 1] in self._alias:
                        spans.append((i, j + 1))
            spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
            for i, j in spans:
                if not any(i < f.end and f.start < j for f in found):
                    found.append(Mention(self._alias[q[i:j]], i, j))
        found.sort(key=lambda f: f.start)
        return found

    def named_laws(self, question: str) -> list[Law]:
        return [m.law for m in self.mentions(question) if m.law is not None]

    def lookup(self, question: str, default_docs: Iterable[str] = ()) -> list[int]:
        """Chunk rows of the articles the question names, in the order they should be shown: per
        reference, the newest version's passages (the one holding a named 款 first), then the older
        versions'; a reference after "违反…" puts the passages that cite the article (its penalty
        clause) before the article itself. References to a law that is not in the index find nothing."""
        refs = parse_article_refs(question)
        if not refs:
            return []
        q = norm_text(question)
        mentions = self.mentions(question)
        defaults = [d for d in default_docs if d in self.articles]
        rows: list[int] = []
        for ref in refs:
            law = _law_for(ref, mentions)
            if law is False:
                continue  # the question names a law the index does not hold
            versions = self._order_versions(law.versions, q) if law else defaults
            cited_first = bool(_VIOLATION.search(q[:ref.start]))
            for doc_id in versions:
                own = self._article_rows(doc_id, ref)
                if cited_first:
                    rows.extend(self._citing_rows(doc_id, ref, exclude=set(own)))
                rows.extend(own)
        seen: set[int] = set()
        return [r for r in rows if not (r in seen or seen.add(r))]

    def _order_versions(self, versions: list[str], q: str) -> list[str]:
        years = set(_YEAR_RE.findall(q))
        if not years or len(versions) < 2:
            return versions

        def named(doc_id: str) -> bool:
            doc = self.documents[doc_id]
            note = _version_note(doc.title) or ""
            return bool(years & ({(doc.date or "")[:4]} | set(_YEAR_RE.findall(note))))

        return [d for d in versions if named(d)] + [d for d in versions if not named(d)]

    def _article_rows(self, doc_id: str, ref: ArticleRef) -> list[int]:
        rows = list(self.articles.get(doc_id, {}).get(ref.key, []))
        if ref.paragraph and len(rows) > 1:
            # a long article is several passages: the one where the named 款 starts comes first
            target = _paragraph_start(" ".join(self.chunks[r].text for r in rows), ref.paragraph)
            if target:
                first = next((r for r in rows if target in norm_text(self.chunks[r].text)), None)
                if first is not None:
                    rows.remove(first)
                    rows.insert(0, first)
        return rows

    def _citing_rows(self, doc_id: str, ref: ArticleRef, exclude: set[int]) -> list[int]:
        label = ref.label
        pattern = re.compile(rf"{label}(?![一二三四五六七八九十百零])")
        return [r for rows in self.articles.get(doc_id, {}).values() for r in rows
                if r not in exclude and pattern.search(norm_text(self.chunks[r].text))]

    def version_info(self, doc_id: str) -> dict | None:
        """For a document that is one of several versions of a law: its version label, whether it is the
        newest, and the newest's doc_id (citations carry it)."""
        law = self._law_of.get(doc_id)
        if law is None or len(law.versions) < 2:
            return None
        doc = self.documents[doc_id]
        return {"version": _version_note(doc.title) or doc.date, "latest": law.versions[0] == doc_id,
                "latest_doc_id": law.versions[0], "versions": len(law.versions)}


def _group_key(title: str) -> str:
    base = base_title(title)
    return base[len(_PRC):] if base.startswith(_PRC) else base


def _law_for(ref: ArticleRef, mentions: list[Mention]) -> Law | None | bool:
    """The law a reference belongs to: the nearest one named before it ("《X》第十九条", "X的第十九条"),
    else the first named after it ("第十九条 of X" word orders); False when that law is not indexed."""
    before = [m for m in mentions if m.end <= ref.start]
    after = [m for m in mentions if m.start >= ref.end]
    chosen = before[-1] if before else (after[0] if after else None)
    if chosen is None:
        return None
    return chosen.law if chosen.law is not None else False


def _paragraph_start(article_text: str, n: int) -> str | None:
    """The first characters of the article's n-th 款 (a line that is not a numbered 项)."""
    lines = [ln.strip() for ln in article_text.split("\n") if ln.strip()]
    kuan = [ln for ln in lines if not _ITEM_LINE.match(ln)]
    if not 1 <= n <= len(kuan):
        return None
    return norm_text(kuan[n - 1])[:12]
