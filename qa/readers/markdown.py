"""Reader for Markdown files: laws and regulations as published in Markdown, and generic Markdown.

A law file (e.g. the LawRefBook collection) looks like

    # 广东省粤菜发展促进条例
    2022年11月30日 广东省第十三届人民代表大会常务委员会第四十七次会议通过
    <!-- INFO END -->
    ## 第一章 总则
    第一条 为了促进粤菜产业持续健康发展，……
    第二条 本条例适用于……
    本条例所称粤菜，包括……          <- the second 款 of 第二条

Metadata: the title is the first "# " heading (else front matter, else the file name); the date is
the one in the file name ("…(2020-05-14).md") when present, else front matter, else the first dated
header line; the issuer is the body that adopted or promulgated the text, where a header line says
so; the 文号 only when the header carries one. The header is what stands above `<!-- INFO END -->`.

Structure: 第X编 / 第X章 / 第X节 (as "#" headings or as bare lines) and Markdown headings form the
section path; an article "第三十条 …" is one paragraph block whose path ends with "第三十条", and the
paragraphs (款, 项) that follow it belong to it, joined with "\n" (an overly long article is kept as
one block per paragraph, all with the article's path). Outside articles, a numbered sentence
("一、县以上各级人民政府……") is an item the same way. Generic Markdown: paragraphs, lists (one block
per list, markers kept), block quotes, fenced code, and pipe tables (one table_row block per row, "列名：值；…").

Offsets are into the file's text as `markdown_text` returns it (the same text `source_text` gives).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.model import Block, Document

from .common import find_doc_numbers, heading_level, parse_cn_date, repair_text, spaceless, stable_doc_id

# An article heading line: 第三十条 / 第三十条之一, then its text (or nothing, when the text follows).
_ARTICLE_RE = re.compile(r"^(第[一二三四五六七八九十百千零〇两]{1,7}条(?:之[一二三四五六七八九十]{1,3})?)(?=[\s\u3000]|$)")
# 第一编 / 第一分编 / 第一章 / 第一节, followed by the heading's words (no sentence punctuation).
_PART_RE = re.compile(r"^第[一二三四五六七八九十百零〇]{1,4}(分编|编|章|节)(?:[\s\u3000]+[^。；，]{0,40})?$")
_PART_RANK = {"编": 10, "分编": 11, "章": 12, "节": 13}  # deeper than any "#" level (1-6)
_NUMBERED_RANK = 20  # 一、 / （一） outside articles: deeper still (plus their heading_level)

_ATX_RE = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE_RE = re.compile(r"^(```|~~~)")
_LIST_RE = re.compile(r"^(?:[-*+]|\d{1,3}[.)])[ \t]+")
_TABLE_SEP_RE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INFO_END = "<!-- INFO END -->"
_FILE_DATE_RE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]")
_LEADING_DATE_RE = re.compile(r"^\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*")
# Who adopted or promulgated the text: "广东省第十三届人民代表大会常务委员会第四十七次会议通过",
# "国务院第18次常务会议通过", "中华人民共和国国务院令第276号公布", "…常务委员会公告第10号公布".
_ISSUER_RE = re.compile(
    r"(?P<who>[^\s\d，。、《》（）()]{0,30}?(?:人民代表大会常务委员会|人民代表大会|人民政府|国务院))"
    r"(?=第|令|公告|常务会议|会议)"
)
_FRONT_KEYS = {  # front matter key -> Document field
    "title": "title", "标题": "title", "名称": "title",
    "date": "date", "日期": "date", "发布日期": "date", "公布日期": "date", "施行日期": None,
    "issuer": "issuer", "发布机关": "issuer", "制定机关": "issuer", "发文机关": "issuer",
    "doc_number": "doc_number", "文号": "doc_number", "发文字号": "doc_number",
    "category": "category", "类别": "category", "分类": "category",
}

ARTICLE_MAX_CHARS = 1500  # above this an article keeps one block per paragraph (款)


def markdown_text(path: Path) -> str:
    """The text of a Markdown file as every offset of its blocks counts it (UTF-8, newlines as read),
    read within the configured document budget."""
    from . import default_budget
    from .budget import read_text_bounded

    return read_text_bounded(path, default_budget())


def read_markdown(path: Path, source: str) -> list[Document]:
    """Read one Markdown file as one document."""
    return [parse_markdown_text(markdown_text(path), source, file_name=path.name)]


# ---------------------------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    no: int
    start: int  # offset of the first non-space character
    end: int  # offset after the last non-space character
    text: str  # stripped


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    pos = 0
    for no, raw in enumerate(text.split("\n")):
        body = raw.rstrip("\r")
        stripped = body.strip().lstrip("\ufeff").strip()
        start = pos + body.find(stripped) if stripped else pos
        lines.append(_Line(no, start, start + len(stripped), stripped))
        pos += len(raw) + 1
    return lines


# ---------------------------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------------------------


def _front_matter(lines: list[_Line]) -> tuple[dict[str, str], int]:
    """YAML-style "key: value" front matter between two "---" lines; (fields, first body line)."""
    if not lines or lines[0].text != "---":
        return {}, 0
    for ln in lines[1:60]:
        if ln.text == "---":
            fields: dict[str, str] = {}
            for item in lines[1 : ln.no]:
                key, sep, value = item.text.partition(":")
                name = _FRONT_KEYS.get(key.strip().lower()) if sep else None
                value = value.strip().strip("\"'")
                if name and value and name not in fields:
                    fields[name] = value
            return fields, ln.no + 1
    return {}, 0


def _file_name_date(file_name: str) -> str | None:
    """"上海市中华鲟保护管理条例(2020-05-14).md" -> "2020-05-14" (when it is a real date)."""
    m = _FILE_DATE_RE.search(file_name)
    return parse_cn_date(f"{m.group(1)}年{m.group(2)}月{m.group(3)}日") if m else None


def _iso_or_cn_date(value: str) -> str | None:
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", value.strip())
    return parse_cn_date(f"{m.group(1)}年{m.group(2)}月{m.group(3)}日") if m else parse_cn_date(value)


def _issuer(header_lines: list[str]) -> str | None:
    """The body that adopted the text (a "…通过" line), else the one that promulgated it."""
    for wanted in ("通过", "公布", "发布", ""):
        for line in header_lines:
            if wanted not in line:
                continue
            m = _ISSUER_RE.search(_LEADING_DATE_RE.sub("", line))
            if m:
                return m.group("who")
    return None


def _title_from_file_name(file_name: str) -> str:
    return _FILE_DATE_RE.sub("", Path(file_name).stem).strip()


# ---------------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------------


@dataclass
class _Open:
    """An article or numbered item being read: its paragraphs until the next one or a heading.

    `level` is the heading_level of a numbered item ("一、" is 1), None for an article: numbered
    lines inside an article are its 项 and join it, a numbered line at the item's level or above
    starts the next item."""

    section: list[str]
    level: int | None = None
    parts: list[tuple[str, int, int]] = field(default_factory=list)  # (text, start, end)


class _MarkdownBuilder:
    """Walks the lines once, keeping the section path, and emits blocks in reading order."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.blocks: list[Block] = []
        self.path: list[tuple[int, str]] = []  # (rank, entry); a smaller rank is a higher level
        self.open: _Open | None = None  # the article / item that following paragraphs join
        self.title: str | None = None
        self.header_end: int | None = None  # line number of <!-- INFO END -->

    # -- driver ------------------------------------------------------------------------------

    def build(self, first: int) -> list[Block]:
        i = first
        while i < len(self.lines):
            i = self._step(i)
        self._close()
        return self.blocks

    def _step(self, i: int) -> int:
        """Consume the construct that starts at line i; return the next line to read."""
        ln = self.lines[i]
        t = ln.text
        if not t:
            return i + 1
        if t.startswith("<!--"):
            return self._comment(i)
        if _FENCE_RE.match(t):
            return self._fenced(i)
        m = _ATX_RE.match(t)
        if m:
            self._heading(ln, m.group(2), hashes=len(m.group(1)))
            return i + 1
        if t.startswith("|") and i + 1 < len(self.lines) and _TABLE_SEP_RE.match(self.lines[i + 1].text):
            return self._table(i)
        if _PART_RE.match(t):
            self._heading(ln, t)
            return i + 1
        article = _ARTICLE_RE.match(t)
        if article:
            self._start_open(article.group(1), ln, None)
            return i + 1
        numbered = self._item_numbering(t)
        if numbered:
            self._numbered(ln, numbered)
            return i + 1
        if _LIST_RE.match(t):
            return self._list(i)
        return self._paragraph(i)

    def _item_numbering(self, t: str) -> tuple[int, str] | None:
        """一、 / （一） that structure the text (not a 项 inside an article or a deeper item)."""
        numbered = heading_level(t)
        if not numbered or numbered[0] not in (1, 2):
            return None
        if self.open is not None and (self.open.level is None or numbered[0] > self.open.level):
            return None
        return numbered

    # -- constructs --------------------------------------------------------------------------

    def _comment(self, i: int) -> int:
        j = i
        while j < len(self.lines) and "-->" not in self.lines[j].text:
            j += 1
        if any(_INFO_END in self.lines[k].text for k in range(i, min(j + 1, len(self.lines)))):
            self.header_end = i
            self._close()  # the header's paragraphs do not run into the body
        return j + 1

    def _fenced(self, i: int) -> int:
        fence = self.lines[i].text[:3]
        j = i + 1
        while j < len(self.lines) and not self.lines[j].text.startswith(fence):
            j += 1
        content = [ln for ln in self.lines[i + 1 : j] if ln.text]
        if content:
            self._paragraph_block("\n".join(ln.text for ln in content), content[0].start, content[-1].end)
        return j + 1

    def _heading(self, ln: _Line, words: str, hashes: int | None = None, rank: int | None = None) -> None:
        """A heading enters the path at its rank: 编/章/节 by what they are, Markdown ones by "#" count."""
        self._close()
        text = _heading_entry(repair_text(words))
        if not text:
            return
        start = ln.start + ln.text.find(words)  # the span is the words, without the "## " marker
        if hashes == 1 and self.title is None and not self.blocks:
            self.title = text  # the document title: not part of any section path
            self.blocks.append(Block(text, "heading", [], start, start + len(words)))
            return
        if rank is None:
            part = _PART_RE.match(text)
            rank = _PART_RANK[part.group(1)] if part else (hashes or 6)
        self._push(rank, text)
        self.blocks.append(Block(text, "heading", self._section(), start, start + len(words)))

    def _start_open(self, label: str, ln: _Line, level: int | None) -> None:
        """An article (or numbered item) starts: its label ends the section path of its paragraphs."""
        self._close()
        self.open = _Open(self._section() + [label], level)
        self.open.parts.append((repair_text(ln.text), ln.start, ln.end))

    def _numbered(self, ln: _Line, numbered: tuple[int, str]) -> None:
        """一、… : a sentence is an item (read like an article), a short line a heading."""
        level, label = numbered
        if _is_sentence(ln.text):
            self._start_open(label, ln, level)
        else:
            self._heading(ln, ln.text, rank=_NUMBERED_RANK + level)

    def _list(self, i: int) -> int:
        """A run of list items: one block, one item a line, markers kept (a block's text must equal
        its source up to whitespace, or the chunker's offsets of a split block drift)."""
        items: list[_Line] = []
        j = i
        while j < len(self.lines) and self.lines[j].text and (
                _LIST_RE.match(self.lines[j].text) or not self._starts_construct(j)):
            items.append(self.lines[j])  # an item, or a lazy continuation line of the one before
            j += 1
        text = "\n".join(repair_text(ln.text) for ln in items)
        self._paragraph_block(text, items[0].start, items[-1].end)
        return j

    def _paragraph(self, i: int) -> int:
        """Lines up to a blank line or another construct form one paragraph."""
        j = i
        group: list[_Line] = []
        while j < len(self.lines) and self.lines[j].text and (j == i or not self._starts_construct(j)):
            group.append(self.lines[j])
            j += 1
        text = "\n".join(repair_text(ln.text) for ln in group)
        self._paragraph_block(text, group[0].start, group[-1].end)
        return j

    def _starts_construct(self, j: int) -> bool:
        t = self.lines[j].text
        return bool(
            t.startswith(("<!--", "|")) or _FENCE_RE.match(t) or _ATX_RE.match(t) or _PART_RE.match(t)
            or _ARTICLE_RE.match(t) or _LIST_RE.match(t) or self._item_numbering(t)
        )

    def _table(self, i: int) -> int:
        """A pipe table: the header names every cell of the rows under it."""
        self._close()
        header = _pipe_cells(self.lines[i].text)
        j = i + 2
        while j < len(self.lines) and self.lines[j].text.startswith("|"):
            ln = self.lines[j]
            text = render_row(header, _pipe_cells(ln.text))
            if text:
                self.blocks.append(Block(text, "table_row", self._section(), ln.start, ln.end))
            j += 1
        return j

    # -- blocks and paths ----------------------------------------------------------------------

    def _paragraph_block(self, text: str, start: int, end: int) -> None:
        if self.open is not None:  # a 款 / 项 of the open article
            self.open.parts.append((text, start, end))
            return
        self.blocks.append(Block(text, "paragraph", self._section(), start, end))

    def _close(self) -> None:
        """Emit the open article: one block, or one per paragraph when it is very long."""
        if self.open is None:
            return
        parts, section = self.open.parts, self.open.section
        self.open = None
        if sum(len(p[0]) for p in parts) <= ARTICLE_MAX_CHARS:
            text = "\n".join(p[0] for p in parts)
            self.blocks.append(Block(text, "paragraph", list(section), parts[0][1], parts[-1][2]))
        else:
            for text, start, end in parts:
                self.blocks.append(Block(text, "paragraph", list(section), start, end))

    def _push(self, rank: int, entry: str) -> None:
        self.path = [(r, e) for r, e in self.path if r < rank]
        self.path.append((rank, entry))

    def _section(self) -> list[str]:
        return [e for _, e in self.path]


def render_row(header: list[str], cells: list[str]) -> str:
    """A table row as "列名：值；列名：值" (empty cells left out; a cell without a name as itself)."""
    names = header + [""] * max(0, len(cells) - len(header))
    return "；".join(f"{name}：{value}" if name else value for name, value in zip(names, cells) if value)


def _heading_entry(text: str) -> str:
    """A heading as a path entry: "第一章 总 则" -> "第一章 总则" (letter-spacing in a legal heading closed up)."""
    text = re.sub(r"[\s\u3000]+", " ", text).strip()
    m = re.match(r"^(第[一二三四五六七八九十百零〇]{1,4}(?:分编|编|章|节))\s*(.*)$", text)
    if m:
        return f"{m.group(1)} {spaceless(m.group(2))}".strip()
    return text


def _is_sentence(text: str) -> bool:
    return bool(re.search(r"[。；！？]", text)) or len(text) > 40


def _pipe_cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [repair_text(c.strip()) for c in re.split(r"(?<!\\)\|", body)]


# ---------------------------------------------------------------------------------------------
# Public parse
# ---------------------------------------------------------------------------------------------


def parse_markdown_text(text: str, source: str, file_name: str | None = None) -> Document:
    """One `Document` from Markdown text; block offsets are into `text`."""
    file_name = file_name or Path(source).name
    lines = _split_lines(text)
    front, first = _front_matter(lines)
    builder = _MarkdownBuilder(lines)
    blocks = builder.build(first)

    header = _header_lines(lines, first, builder.header_end)
    title = front.get("title") or builder.title or _title_from_file_name(file_name) or _first_words(lines)
    date = (_file_name_date(file_name) or (_iso_or_cn_date(front["date"]) if "date" in front else None)
            or parse_cn_date("\n".join(header)))
    numbers = find_doc_numbers(front.get("doc_number", "")) or find_doc_numbers("\n".join(header))
    doc_number = numbers[0] if numbers else None
    return Document(
        doc_id=stable_doc_id(source, doc_number, title),
        title=title,
        source=source,
        doc_number=doc_number,
        issuer=front.get("issuer") or _issuer(header),
        date=date,
        category=front.get("category"),
        blocks=blocks,
    )


def _header_lines(lines: list[_Line], first: int, header_end: int | None) -> list[str]:
    """The lines that carry a law's adoption data: above <!-- INFO END -->, else up to the first
    heading or article (at most twelve lines), the title line excluded."""
    if header_end is not None:
        candidates = lines[first:header_end]
    else:
        candidates = []
        for ln in lines[first : first + 12]:
            if ln.text and not ln.text.startswith("# ") and (
                    _ATX_RE.match(ln.text) or _ARTICLE_RE.match(ln.text) or _PART_RE.match(ln.text)):
                break
            candidates.append(ln)
    return [ln.text for ln in candidates if ln.text and not ln.text.startswith("#")]


def _first_words(lines: list[_Line]) -> str:
    return next((repair_text(ln.text.lstrip("#> ")) for ln in lines if ln.text), "")
