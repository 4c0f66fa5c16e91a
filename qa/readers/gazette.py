"""Reader for a plain-text conversion of a printed government gazette issue (人民政府公报).

An issue is front matter (cover, editorial board, 目录 listing each document's title, 文号 and page)
followed by documents. Each document is a notice (title, 文号, addressees, a few sentences, the
issuer's signature and date) usually followed by the text it issues (inner title, numbered headings
and items, attachments with tables).

The conversion damaged the text in known ways, which this reader repairs:
  * page breaks cut a paragraph in two: "…农村基础设施和公" / blank line / "共服务水平…";
  * page furniture (the gazette's slogan line, page numbers) sits between paragraphs;
  * tables are tab-separated rows; merged cells come out empty, the header is repeated at the top
    of every page, and rows are sometimes shifted by a column, split in two or cut short;
  * numbers and punctuation carry stray spaces ("2021 年"), and a few cells carry <p> tags or LaTeX.

Output: one `Document` for the front matter (kind "front_matter" blocks) and one per document, each
with blocks in reading order. Every block keeps the offsets of the source characters it was made
from; lines recognised as page furniture or repeated table headers are the only ones no block covers
(`analyse_gazette_text` reports them).

Section paths: a heading block's path ends with its own text; a numbered item that is a sentence
("14. 持续改善基础设施条件。推进…") is a paragraph whose path ends with its label ("14."); an
attachment ("附件 4") starts a new top-level path named after its caption. Unit lines (牵头单位：…,
完成时限：…) are appended to the paragraph of the item they follow.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.model import Block, Document

from .common import (
    CJK,
    doc_number_of_line,
    heading_level,
    is_date_line,
    is_unit_line,
    join_single_char_runs,
    strip_label,
    parse_cn_date,
    repair_text,
    spaceless,
    stable_doc_id,
)

# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


@dataclass
class GazetteParse:
    """What the reader made of an issue: its documents and the lines it dropped as artifacts."""

    documents: list[Document]
    artifact_lines: dict[int, str]  # 0-based line number -> why it was dropped


def read_gazette(path: str | Path, source: str | None = None) -> list[Document]:
    """Read a gazette issue from a UTF-8 text file; offsets are into the file's text as decoded."""
    path = Path(path)
    # newline="" keeps "\r\n" as two characters, so offsets match the file as ingested elsewhere
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    return parse_gazette_text(text, source or path.name)


def parse_gazette_text(text: str, source: str) -> list[Document]:
    """Split the text of one gazette issue into documents; block offsets are into `text`."""
    return analyse_gazette_text(text, source).documents


def analyse_gazette_text(text: str, source: str) -> GazetteParse:
    """Like `parse_gazette_text`, also reporting the lines dropped as page furniture or repeated headers."""
    lines = _split_lines(text)
    artifacts = _page_furniture(lines)
    number_lines = _body_doc_number_lines(lines, artifacts)
    toc_end = number_lines[0] if number_lines else len(lines)
    toc = _parse_toc(lines, toc_end, artifacts)
    spans = _document_spans(lines, number_lines, toc, artifacts)
    front_end = spans[0].start if spans else len(lines)

    front = _front_matter_document(text, lines[:front_end], toc, source, artifacts)
    documents = [front] if front.blocks else []  # a single notice has no cover or TOC
    for span in spans:
        entry = toc.by_number.get(span.doc_number)
        documents.append(_read_document(lines, span, entry, source, artifacts))
    return GazetteParse(documents, artifacts)


# ---------------------------------------------------------------------------------------------
# Lines and page furniture
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    no: int  # 0-based line number
    start: int  # offset of the first non-space character
    end: int  # offset just after the last non-space character
    text: str  # the line without surrounding whitespace
    raw: str  # the line without its line break (table cells need the leading tabs)

    @property
    def blank(self) -> bool:
        return not self.text

    @property
    def is_table(self) -> bool:
        return "\t" in self.raw and bool(self.text)


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    pos = 0
    for no, raw in enumerate(text.split("\n")):
        content = raw[:-1] if raw.endswith("\r") else raw
        stripped = content.strip().lstrip("\ufeff")
        lead = len(content) - len(content.lstrip().lstrip("\ufeff"))
        start = pos + lead
        lines.append(_Line(no, start, start + len(stripped), stripped, content))
        pos += len(raw) + 1
    return lines


# The slogan printed at the foot of every page: four four-character phrases ("发布政令 宣传政策 …").
_SLOGAN_RE = re.compile(rf"(?:[{CJK}]{{4}}[ \u3000]+){{3}}[{CJK}]{{4}}")
_PAGE_NUMBER_RE = re.compile(r"[-—－–]\s*\d{1,4}\s*[-—－–]|第\s*\d{1,4}\s*页|\d{1,4}\s*/\s*\d{1,4}")


def _page_furniture(lines: list[_Line]) -> dict[int, str]:
    """Lines that belong to the printed page, not to a document: slogan footers, page numbers,
    and a running header naming the gazette that repeats on several pages."""
    artifacts: dict[int, str] = {}
    counts: dict[str, int] = {}
    for ln in lines:
        counts[spaceless(ln.text)] = counts.get(spaceless(ln.text), 0) + 1
    for ln in lines:
        t = ln.text
        if not t or ln.is_table:
            continue
        if _SLOGAN_RE.fullmatch(t):
            artifacts[ln.no] = "page footer"
        elif _PAGE_NUMBER_RE.fullmatch(t):
            artifacts[ln.no] = "page number"
        elif "公报" in t and len(t) <= 30 and counts[spaceless(t)] >= 2 and not re.search("[，。：；]", t):
            artifacts[ln.no] = "page header"
    return artifacts


def _content(lines: list[_Line], artifacts: dict[int, str]) -> list[_Line]:
    """The lines that carry text: not blank, not page furniture."""
    return [ln for ln in lines if not ln.blank and ln.no not in artifacts]


def _next_content(lines: list[_Line], after: int, artifacts: dict[int, str]) -> _Line | None:
    for ln in lines[after + 1 :]:
        if not ln.blank and ln.no not in artifacts:
            return ln
    return None


# ---------------------------------------------------------------------------------------------
# Table of contents
# ---------------------------------------------------------------------------------------------

_TOC_HEADING = "目录"
_CATEGORY_RE = re.compile(r"【([^】]{1,12})】")
# A page reference ends a TOC entry: "..... (23)" on its own line, or after a tab / the 文号.
_PAGE_REF_RE = re.compile(r"(?:^|\t|(?<=号)|[.．…·]{2,})\s*[（(]\s*(\d{1,4})\s*[）)]\s*$")


@dataclass
class _TocEntry:
    title: str  # the notice title as listed, cleaned
    doc_number: str | None
    page: int | None
    category: str | None
    lines: list[_Line]


@dataclass
class _Toc:
    heading: _Line | None = None
    entries: list[_TocEntry] = field(default_factory=list)
    categories: list[tuple[_Line, str]] = field(default_factory=list)
    other_lines: list[_Line] = field(default_factory=list)  # front matter after the TOC heading
    by_number: dict[str | None, _TocEntry] = field(default_factory=dict)


def _body_doc_number_lines(lines: list[_Line], artifacts: dict[int, str]) -> list[int]:
    """Line numbers of the 文号 lines under the notice titles in the body (a TOC 文号 is followed by
    its page reference, a body 文号 is not)."""
    found = []
    for ln in lines:
        if ln.blank or ln.no in artifacts or ln.is_table or not doc_number_of_line(ln.text):
            continue
        nxt = _next_content(lines, ln.no, artifacts)
        if nxt is not None and _PAGE_REF_RE.fullmatch(nxt.text):
            continue
        found.append(ln.no)
    return found


def _parse_toc(lines: list[_Line], toc_end: int, artifacts: dict[int, str]) -> _Toc:
    toc = _Toc()
    head = next((ln for ln in lines[:toc_end] if spaceless(ln.text) == _TOC_HEADING), None)
    if head is None:
        return toc
    toc.heading = head
    category: str | None = None
    pending: list[_Line] = []
    for ln in _content(lines[head.no + 1 : toc_end], artifacts):
        t = spaceless(ln.text)
        if t == _TOC_HEADING:  # the TOC heading repeated on its second page
            artifacts[ln.no] = "repeated TOC heading"
            toc.other_lines += pending
            pending = []
        elif _CATEGORY_RE.fullmatch(t):
            toc.other_lines += pending
            pending = []
            category = _CATEGORY_RE.fullmatch(t).group(1)
            toc.categories.append((ln, category))
        elif _PAGE_REF_RE.search(ln.text):
            toc.entries.append(_toc_entry(pending + [ln], category))
            pending = []
        else:
            pending.append(ln)
    toc.other_lines += pending
    toc.by_number = {e.doc_number: e for e in toc.entries if e.doc_number}
    return toc


def _toc_entry(entry_lines: list[_Line], category: str | None) -> _TocEntry:
    """An entry from its lines: title line(s), then the 文号 (own line or same line), then the page."""
    last = entry_lines[-1].text
    page_match = _PAGE_REF_RE.search(last)
    texts = [ln.text for ln in entry_lines[:-1]] + [last[: page_match.start()].strip()]
    texts = [t for t in texts if t]
    doc_number = None
    title_parts: list[str] = []
    for t in texts:
        own = doc_number_of_line(t)
        if own:
            doc_number = own
            continue
        m = _DOC_NUMBER_AT_END_RE.search(t)
        if m and doc_number is None:
            doc_number = doc_number_of_line(m.group(0))
            t = t[: m.start()]
        title_parts.append(t)
    return _TocEntry(
        title=_clean_title(_join_wrapped(title_parts)),
        doc_number=doc_number,
        page=int(page_match.group(1)),
        category=category,
        lines=entry_lines,
    )


_DOC_NUMBER_AT_END_RE = re.compile(rf"[{CJK}]{{1,12}}\s*[〔\[［【(（]\s*\d{{4}}\s*[〕\]］】)）]\s*\d{{1,5}}\s*号\s*$")


# ---------------------------------------------------------------------------------------------
# Where each document starts
# ---------------------------------------------------------------------------------------------


@dataclass
class _Span:
    start: int  # line number of the first title line
    number_line: int  # line number of the 文号 line
    end: int  # line number just past the document
    doc_number: str


def _document_spans(
    lines: list[_Line], number_lines: list[int], toc: _Toc, artifacts: dict[int, str]
) -> list[_Span]:
    spans: list[_Span] = []
    lower = toc.entries[-1].lines[-1].no + 1 if toc.entries else 0
    for no in number_lines:
        doc_number = doc_number_of_line(lines[no].text) or ""
        entry = toc.by_number.get(doc_number)
        start = _title_start(lines, no, lower, entry.title if entry else None, artifacts)
        spans.append(_Span(start, no, len(lines), doc_number))
        lower = no + 1
    for span, nxt in zip(spans, spans[1:]):
        span.end = nxt.start
    return spans


def _title_start(lines: list[_Line], number_line: int, lower: int, toc_title: str | None, artifacts) -> int:
    """The first line of the notice title above a 文号 line.

    With the TOC title at hand, take lines upwards while together they form the end of that title
    (titles are split across lines in print). Without it, take the line above, and the one above
    that when the title reads "XX委 人民政府" / "关于印发…" over two lines.
    """
    above = [ln for ln in reversed(lines[lower:number_line]) if not ln.blank and ln.no not in artifacts]
    if not above:
        return number_line
    if toc_title:
        target, acc, start = spaceless(toc_title), "", None
        for ln in above:
            candidate = spaceless(repair_text(ln.text)) + acc
            if not target.endswith(candidate):
                break
            acc, start = candidate, ln.no
            if acc == target:
                break
        if start is not None:
            return start
    start = above[0].no
    if above[0].text.startswith("关于") and len(above) > 1:
        prev = above[1]
        if len(prev.text) <= 20 and not prev.is_table and not _ends_sentence(prev.text) and not doc_number_of_line(prev.text):
            start = prev.no
    return start


# ---------------------------------------------------------------------------------------------
# Front matter
# ---------------------------------------------------------------------------------------------

_GAZETTE_NAME_RE = re.compile(r"《([^《》]{2,30}公报)》")
_ISSUE_RE = re.compile(r"(\d{4})\s*年\s*第\s*(\d{1,3})\s*期")


def _front_matter_document(
    text: str, lines: list[_Line], toc: _Toc, source: str, artifacts: dict[int, str]
) -> Document:
    title = _front_matter_title(text, lines)
    blocks: list[Block] = []
    toc_lines = {ln.no for e in toc.entries for ln in e.lines} | {ln.no for ln, _ in toc.categories}
    if toc.heading is not None:
        toc_lines.add(toc.heading.no)

    before_toc = [ln for ln in lines if toc.heading is None or ln.no < toc.heading.no]
    blocks += _grouped_blocks([ln for ln in before_toc if ln.no not in toc_lines], artifacts, [])
    if toc.heading is not None:
        blocks.append(_block("目录", "front_matter", ["目录"], [toc.heading]))
    items: list[tuple[int, Block]] = []
    for ln, _category in toc.categories:
        items.append((ln.no, _block(ln.text, "front_matter", ["目录"], [ln])))
    for e in toc.entries:
        entry_text = " ".join(p for p in (e.title, e.doc_number, f"第{e.page}页") if p)
        section = ["目录"] + ([e.category] if e.category else [])
        items.append((e.lines[0].no, _block(entry_text, "front_matter", section, e.lines)))
    blocks += [b for _, b in sorted(items, key=lambda x: x[0])]
    # the TOC scan runs up to the first 文号 line, past the first notice title: keep what is ours
    other = [ln for ln in toc.other_lines if ln.no not in toc_lines and ln.no < len(lines)]
    after = [ln for ln in lines if toc.heading is not None and ln.no > toc.heading.no and ln.no not in toc_lines]
    blocks += _grouped_blocks(sorted({*other, *after}, key=lambda ln: ln.no), artifacts, [])
    blocks.sort(key=lambda b: b.char_start)
    return Document(
        doc_id=stable_doc_id(source, title=title),
        title=title,
        source=source,
        category="前言",
        blocks=blocks,
    )


def _front_matter_title(text: str, lines: list[_Line]) -> str:
    """"<gazette name> <year>年第<n>期 目录"; the name as the issue cites it (《…公报》), else the cover line."""
    name_match = _GAZETTE_NAME_RE.search(text)
    first = next((ln.text for ln in lines if not ln.blank), "")
    name = name_match.group(1) if name_match else first
    issue_match = _ISSUE_RE.search("\n".join(ln.text for ln in lines))
    issue = f"{issue_match.group(1)}年第{issue_match.group(2)}期" if issue_match else ""
    return " ".join(p for p in (name, issue, "目录") if p)


def _grouped_blocks(lines: list[_Line], artifacts: dict[int, str], section: list[str]) -> list[Block]:
    """Front matter blocks: lines printed together (no blank line between them) form one block."""
    blocks: list[Block] = []
    group: list[_Line] = []
    for ln in lines:
        if ln.blank or ln.no in artifacts:
            continue
        if group and ln.no != group[-1].no + 1:
            blocks.append(_block("\n".join(g.text for g in group), "front_matter", section, group))
            group = []
        group.append(ln)
    if group:
        blocks.append(_block("\n".join(g.text for g in group), "front_matter", section, group))
    return blocks


# ---------------------------------------------------------------------------------------------
# One document: the notice, then the body
# ---------------------------------------------------------------------------------------------


@dataclass
class _Notice:
    blocks: list[Block]
    body_from: int  # index into the document's content lines where the body starts
    notice_title: str
    inner_title: str | None = None
    issuer: str | None = None
    date: str | None = None
    addressees: str | None = None
    signature_at: int | None = None  # index of a signature (issuer lines + date) ending the document


def _read_document(
    lines: list[_Line], span: _Span, entry: _TocEntry | None, source: str, artifacts: dict[int, str]
) -> Document:
    content = _content(lines[span.start : span.end], artifacts)
    notice = _read_notice(content, span, entry)
    attachments = _attachment_titles(content)
    body = _BodyBuilder(attachments, artifacts)
    if notice.signature_at is None:
        blocks = notice.blocks + body.build(content[notice.body_from :])
    else:
        signature = content[notice.signature_at :]
        closing = _block("\n".join(repair_text(ln.text) for ln in signature), "paragraph", [], signature)
        blocks = notice.blocks + body.build(content[notice.body_from : notice.signature_at]) + [closing]
    listed_title = entry.title if entry else notice.notice_title
    title = _issued_title(listed_title) or notice.inner_title or listed_title
    return Document(
        doc_id=stable_doc_id(source, span.doc_number),
        title=title,
        source=source,
        doc_number=span.doc_number,
        issuer=notice.issuer,
        date=notice.date,
        addressees=notice.addressees,
        category=entry.category if entry else None,
        blocks=blocks,
    )


def _read_notice(content: list[_Line], span: _Span, entry: _TocEntry | None) -> _Notice:
    """Title, 文号, addressees, notice text, signature and date, then the issued text's own title."""
    i = next(k for k, ln in enumerate(content) if ln.no == span.number_line)
    title_lines = content[:i]
    notice_title = _notice_title_text(title_lines, entry)
    blocks = [
        _block(notice_title, "heading", [], title_lines) if title_lines else None,
        _block(span.doc_number, "paragraph", [], [content[i]]),
    ]
    notice = _Notice([b for b in blocks if b], i + 1, notice_title)
    k = i + 1
    if k < len(content) and _is_addressee_line(content[k].text):
        notice.addressees = repair_text(content[k].text).rstrip("：:")
        notice.blocks.append(_block(repair_text(content[k].text), "paragraph", [], [content[k]]))
        k += 1
    date_at = next((j for j in range(k, min(k + 15, len(content))) if is_date_line(content[j].text)), None)
    if date_at is None:
        # no signature under the notice: the document is its own text, signed at the end (if at all)
        notice.body_from = k
        end_date = next((j for j in range(len(content) - 1, max(k, len(content) - 3) - 1, -1) if is_date_line(content[j].text)), None)
        if end_date is not None:
            first_issuer = _first_issuer_line(content, k, end_date)
            notice.issuer = " ".join(repair_text(ln.text) for ln in content[first_issuer:end_date]) or None
            notice.date = parse_cn_date(content[end_date].text)
            notice.signature_at = first_issuer
        return notice
    first_issuer = _first_issuer_line(content, k, date_at)
    builder = _BodyBuilder({}, {})
    notice.blocks += builder.build(content[k:first_issuer])
    signature = content[first_issuer : date_at + 1]
    notice.blocks.append(_block("\n".join(repair_text(ln.text) for ln in signature), "paragraph", [], signature))
    notice.issuer = " ".join(repair_text(ln.text) for ln in signature[:-1]) or None
    notice.date = parse_cn_date(content[date_at].text)
    k = date_at + 1
    while k < len(content) and _PUBLICATION_NOTE_RE.fullmatch(content[k].text):
        notice.blocks.append(_block(repair_text(content[k].text), "paragraph", [], [content[k]]))
        k += 1
    inner = _inner_title_lines(content, k, _issued_title(entry.title if entry else notice_title))
    if inner:
        notice.inner_title = _inner_title_text(inner, entry, notice_title)
        notice.blocks.append(_block(notice.inner_title, "heading", [], inner))
        k += len(inner)
    notice.body_from = k
    return notice


def _first_issuer_line(content: list[_Line], lower: int, date_at: int) -> int:
    """Index of the first signature line above a date line (issuer names, at most four lines)."""
    first = date_at
    while first - 1 >= lower and date_at - first < 4 and _looks_like_issuer(content[first - 1].text):
        first -= 1
    return first


_PUBLICATION_NOTE_RE = re.compile(r"[（(]\s*此件[^（）()]{1,10}[）)]")


def _is_addressee_line(text: str) -> bool:
    return text.endswith(("：", ":")) and len(text) > 2 and heading_level(text) is None


def _looks_like_issuer(text: str) -> bool:
    """A signature line: an organisation name, short, no punctuation."""
    return (
        len(text) <= 30
        and not re.search(r"[，。：；、！？,:;]", text)
        and not text.startswith("附件")
        and heading_level(text) is None
        and not doc_number_of_line(text)
    )


def _notice_title_text(title_lines: list[_Line], entry: _TocEntry | None) -> str:
    """The notice title as printed, cleaned; the TOC's spelling when both say the same thing."""
    printed = _clean_title(_join_wrapped([ln.text for ln in title_lines]))
    if entry and spaceless(entry.title) == spaceless(printed):
        return entry.title
    return printed


def _issued_title(notice_title: str) -> str | None:
    """The title of the text a notice issues: what stands in 《…》 in "关于印发《…》的通知"."""
    m = re.search(r"《(.+)》", notice_title)
    return _clean_title(m.group(1)) if m else None


def _inner_title_lines(content: list[_Line], k: int, issued: str | None) -> list[_Line]:
    """The issued text's own title right after the signature (one or two lines), if there is one."""
    if k >= len(content):
        return []
    first = content[k]
    if first.is_table or heading_level(first.text) or is_unit_line(first.text) or first.text.endswith(("。", "；", "！", "？")):
        return []
    if len(spaceless(first.text)) > 80:
        return []
    if issued is None:
        return [first] if len(first.text) <= 40 and "，" not in first.text else []
    best, best_score = [first], _similarity(first.text, issued)
    if k + 1 < len(content) and not content[k + 1].is_table and heading_level(content[k + 1].text) is None:
        two = [first, content[k + 1]]
        score = _similarity(first.text + content[k + 1].text, issued)
        if score > best_score + 0.05:
            best, best_score = two, score
    return best if best_score >= 0.6 else []


def _similarity(a: str, b: str) -> float:
    a, b = spaceless(repair_text(a)), spaceless(b)
    if not a or not b:
        return 0.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    if a in b or b in a:  # a title printed shorter or longer than the TOC has it
        ratio = max(ratio, 0.6 + 0.4 * min(len(a), len(b)) / max(len(a), len(b)))
    return ratio


def _inner_title_text(inner: list[_Line], entry: _TocEntry | None, notice_title: str) -> str:
    printed = _clean_title(_join_wrapped([ln.text for ln in inner]))
    issued = _issued_title(entry.title if entry else notice_title)
    if issued and spaceless(issued) == spaceless(printed):
        return issued
    return printed


# ---------------------------------------------------------------------------------------------
# Attachments listed in a document ("附件：1. … 2. …")
# ---------------------------------------------------------------------------------------------

_ATTACH_LIST_RE = re.compile(r"^附\s*件\s*[：:]\s*(.*)$")
_LIST_ITEM_RE = re.compile(r"^(\d{1,2})\s*[.．、](?!\d)\s*(.*)$")


def _attachment_list_at(content: list[_Line], i: int) -> tuple[list[_Line], dict[int | None, str]]:
    """The lines of an attachment list starting at content[i], and its titles by number."""
    m = _ATTACH_LIST_RE.match(content[i].text)
    if not m:
        return [], {}
    first = m.group(1).strip()
    item = _LIST_ITEM_RE.match(first)
    if not item:
        return [content[i]], {None: _clean_title(first)} if first else {}
    titles: dict[int | None, str] = {int(item.group(1)): _clean_title(item.group(2))}
    used = [content[i]]
    for ln in content[i + 1 :]:
        nxt = _LIST_ITEM_RE.match(ln.text)
        if not nxt or int(nxt.group(1)) != len(titles) + 1 or ln.is_table:
            break
        titles[int(nxt.group(1))] = _clean_title(nxt.group(2))
        used.append(ln)
    return used, titles


def _attachment_titles(content: list[_Line]) -> dict[int | None, str]:
    titles: dict[int | None, str] = {}
    for i in range(len(content)):
        titles.update(_attachment_list_at(content, i)[1])
    return titles


# ---------------------------------------------------------------------------------------------
# The body: headings, items, paragraphs, unit lines, attachments, tables
# ---------------------------------------------------------------------------------------------


@dataclass
class _Piece:
    """A line, or a run of table lines, with what it is."""

    kind: str  # table | attach_list | attach_label | attach_caption | label | unit | plain
    lines: list[_Line]
    level: int | None = None
    label: str | None = None
    attach_no: int | None = None
    caption: str | None = None
    heading: bool = False  # for label pieces: a heading (else a numbered item paragraph)
    caption_printed: bool = False  # for attachment labels: the caption is in the source lines

    @property
    def text(self) -> str:
        return self.lines[0].text


class _BodyBuilder:
    """Turns the content lines of a document body into blocks, tracking the section path."""

    def __init__(self, attachments: dict[int | None, str], artifacts: dict[int, str]) -> None:
        self.attachments = attachments
        self.artifacts = artifacts
        self.path: list[tuple[int, str]] = []  # (level, entry)
        self.blocks: list[Block] = []
        self.item_block: int | None = None  # index of the open item's paragraph block
        self.unit_block: int | None = None  # index of a block that following unit lines extend
        self.opened_attachments: set[int | None] = set()

    # -- pieces ----------------------------------------------------------------------------

    def build(self, content: list[_Line]) -> list[Block]:
        pieces = self._pieces(content)
        self._decide_headings(pieces)
        for piece_lines, piece in self._paragraphs(pieces):
            self._emit(piece, piece_lines)
        return self.blocks

    def _pieces(self, content: list[_Line]) -> list[_Piece]:
        pieces: list[_Piece] = []
        i = 0
        in_attachments = False
        while i < len(content):
            ln = content[i]
            if ln.is_table:
                j = i
                while j < len(content) and content[j].is_table:
                    j += 1
                pieces.append(_Piece("table", content[i:j]))
                i = j
                continue
            used, _ = _attachment_list_at(content, i)
            if used:
                pieces.append(_Piece("attach_list", used))
                i += len(used)
                continue
            level = heading_level(ln.text)
            if level and level[0] == 0:
                in_attachments = True
                piece = self._attach_label(content, i, level[1])
                pieces.append(piece)
                i += len(piece.lines)
                continue
            caption_no = self._caption_number(ln.text) if in_attachments else None
            if caption_no is not None:
                pieces.append(_Piece("attach_caption", [ln], attach_no=caption_no, caption=self.attachments[caption_no]))
            elif level:
                pieces.append(_Piece("label", [ln], level=level[0], label=level[1]))
            elif is_unit_line(ln.text):
                pieces.append(_Piece("unit", [ln]))
            else:
                pieces.append(_Piece("plain", [ln]))
            i += 1
        return pieces

    def _attach_label(self, content: list[_Line], i: int, label: str) -> _Piece:
        """"附件 4", with the caption on the next line when there is one, else the listed title."""
        digits = re.sub(r"\D", "", label)
        number = int(digits) if digits else None
        if number is None and None not in self.attachments and len(self.attachments) == 1:
            number = next(iter(self.attachments))
        inline = re.sub(r"^附\s*件\s*\d*", "", content[i].text).strip()  # "附件4 …任务清单"
        piece = _Piece("attach_label", [content[i]], attach_no=number, label=f"附件{digits}")
        if inline:
            piece.caption = _clean_title(inline)
            piece.caption_printed = True
            return piece
        nxt = content[i + 1] if i + 1 < len(content) else None
        if nxt is not None and self._is_caption(nxt.text):
            piece.lines.append(nxt)
            listed = self.attachments.get(number)
            same = listed is not None and spaceless(listed) == spaceless(repair_text(nxt.text))
            piece.caption = listed if same else _clean_title(nxt.text)
            piece.caption_printed = True
        else:
            piece.caption = self.attachments.get(number)
        return piece

    @staticmethod
    def _is_caption(text: str) -> bool:
        return (
            "\t" not in text
            and len(text) <= 60
            and heading_level(text) is None
            and not is_unit_line(text)
            and not _ATTACH_LIST_RE.match(text)
            and not text.endswith(("。", "；", ";"))
        )

    def _caption_number(self, text: str) -> int | None:
        """A listed attachment's title standing alone: its "附件 N" line was lost in conversion."""
        t = spaceless(repair_text(text))
        for number, title in self.attachments.items():
            if number not in self.opened_attachments and spaceless(title) == t:
                return number
        return None

    # -- headings or items -------------------------------------------------------------------

    def _decide_headings(self, pieces: list[_Piece]) -> None:
        """Decide for every numbered line whether it is a heading or an item paragraph.

        A line that is a sentence ("1. 保持主要帮扶政策总体稳定。过渡期内…") or that a page break cut is an
        item. Otherwise: followed by deeper numbering -> heading; followed by unit lines -> item;
        followed by text -> heading, unless its siblings are sentences (then the list is a list of
        items and this one was cut short by the conversion).
        """
        groups = self._sibling_groups(pieces)
        sentence_groups = {g for p, g in groups.items() if _sentence_like(pieces[p].text, pieces[p].level)}
        for p, piece in enumerate(pieces):
            if piece.kind != "label":
                continue
            nxt = pieces[p + 1] if p + 1 < len(pieces) else None
            if _is_cut(piece.text) or _sentence_like(piece.text, piece.level):
                piece.heading = False
            elif nxt is not None and nxt.kind == "unit":
                piece.heading = False
            elif nxt is not None and nxt.kind == "label" and nxt.level > piece.level:
                piece.heading = True
            elif nxt is not None and nxt.kind == "plain":
                piece.heading = groups[p] not in sentence_groups
            else:
                piece.heading = piece.level <= 2

    @staticmethod
    def _sibling_groups(pieces: list[_Piece]) -> dict[int, int]:
        """Number the runs of same-level numbered lines under one parent (a list of siblings)."""
        groups: dict[int, int] = {}
        open_groups: dict[int, int] = {}
        counter = 0
        for p, piece in enumerate(pieces):
            if piece.kind in ("attach_label", "attach_caption"):
                open_groups = {}
            if piece.kind != "label":
                continue
            open_groups = {lvl: g for lvl, g in open_groups.items() if lvl <= piece.level}
            if piece.level not in open_groups:
                counter += 1
                open_groups[piece.level] = counter
            groups[p] = open_groups[piece.level]
        return groups

    # -- page-break repair -------------------------------------------------------------------

    def _paragraphs(self, pieces: list[_Piece]):
        """Yield (lines, piece) with paragraphs that a page break cut joined back together."""
        p = 0
        while p < len(pieces):
            piece = pieces[p]
            lines = list(piece.lines)
            joinable = piece.kind in ("plain", "unit") or (piece.kind == "label" and not piece.heading)
            while joinable and p + 1 < len(pieces) and _continues(lines, piece.kind, pieces[p + 1]):
                p += 1
                lines += pieces[p].lines
            yield lines, piece
            p += 1

    # -- blocks ------------------------------------------------------------------------------

    def _emit(self, piece: _Piece, lines: list[_Line]) -> None:
        kind = piece.kind
        if kind == "table":
            self._emit_table(lines)
        elif kind in ("attach_label", "attach_caption"):
            self._emit_attachment(piece, lines)
        elif kind == "label" and piece.heading:
            self._push(piece.level, _heading_text(_paragraph_text(lines)))
            self._append(_block(_heading_text(_paragraph_text(lines)), "heading", self._section(), lines))
        elif kind == "label":
            self._push(piece.level, piece.label)
            self.item_block = self._append(_block(_paragraph_text(lines), "paragraph", self._section(), lines))
            self.unit_block = self.item_block
        elif kind == "unit":
            self._emit_unit(lines)
        elif kind == "attach_list":  # one attachment title a line, as printed
            # the list closes the main text: it belongs to the document, not to its last item
            self.path = []
            self._append(_block("\n".join(repair_text(ln.text) for ln in lines), "paragraph", [], lines))
            self.item_block = self.unit_block = None
        else:
            index = self._append(_block(_paragraph_text(lines), "paragraph", self._section(), lines))
            # a paragraph inside an item (its continuation) keeps the item open for unit lines
            self.unit_block = index if self.item_block is not None else None

    def _emit_unit(self, lines: list[_Line]) -> None:
        """Append a unit line to the item it follows, so the item's block names its units."""
        text = _paragraph_text(lines)
        target = self.unit_block
        if target is None:
            self.unit_block = self._append(_block(text, "paragraph", self._section(), lines))
            return
        if self.item_block is not None and target != self.item_block:
            self._fold_item_paragraphs()
            target = self.item_block
        block = self.blocks[target]
        block.text = f"{block.text}\n{text}"
        block.char_end = max(block.char_end, lines[-1].end)

    def _fold_item_paragraphs(self) -> None:
        """Merge the paragraphs an item runs to into the item's block, before its units are added."""
        first = self.blocks[self.item_block]
        for block in self.blocks[self.item_block + 1 :]:
            first.text = f"{first.text}\n{block.text}"
            first.char_end = max(first.char_end, block.char_end)
        del self.blocks[self.item_block + 1 :]
        self.unit_block = self.item_block

    def _emit_attachment(self, piece: _Piece, lines: list[_Line]) -> None:
        self.opened_attachments.add(piece.attach_no)
        label = piece.label or (f"附件{piece.attach_no}" if piece.attach_no is not None else "附件")
        entry = f"{label} {piece.caption}" if piece.caption else label
        self.path = [(0, entry)]
        if piece.kind == "attach_caption":
            text = piece.caption or repair_text(lines[0].text)
        elif piece.caption_printed:
            text = entry
        else:
            text = label
        self._append(_block(text, "heading", self._section(), lines))
        self.item_block = self.unit_block = None

    def _emit_table(self, lines: list[_Line]) -> None:
        rows, dropped = _table_rows(lines)
        self.artifacts.update(dropped)
        for text, row_lines in rows:
            self._append(_block(text, "table_row", self._section(), row_lines))
        self.item_block = self.unit_block = None

    def _push(self, level: int, entry: str) -> None:
        """Enter a heading or item: siblings and deeper levels leave the path."""
        self.path = [(lvl, e) for lvl, e in self.path if lvl < level]
        self.path.append((level, entry))
        self.item_block = self.unit_block = None

    def _section(self) -> list[str]:
        return [entry for _, entry in self.path]

    def _append(self, block: Block) -> int:
        self.blocks.append(block)
        return len(self.blocks) - 1


def _sentence_like(text: str, level: int | None) -> bool:
    """Whether a numbered line reads as a sentence (an item) rather than a heading."""
    rest = strip_label(text) if level else text
    core = re.sub(r"[（(][^（()）]*[）)]$", "", rest).rstrip("。")  # "集中攻坚阶段。(7月1日至12月31日)"
    if re.search(r"[。；！？;!?]", core) or len(rest) > 40:
        return True
    if level is not None and level >= 3:
        return bool(re.search(r"[，,、：]", rest)) or rest.endswith("。")
    return rest.endswith("。") and len(rest) > 20


def _is_cut(text: str) -> bool:
    """Whether a line stops mid-sentence in a way no heading does (open quote/bracket, trailing comma)."""
    if text.endswith(("，", "、", ",", "；", "（", "(", "“", "《")):
        return True
    pairs = (("“", "”"), ("（", "）"), ("《", "》"), ("(", ")"))
    return any(text.count(a) > text.count(b) for a, b in pairs)


_TERMINAL = "。！？；：!?;:…）)】"
_KEY_LABEL_RE = re.compile(rf"^[{CJK}][{CJK} ]{{0,6}}[：:]")
_ROSTER_RE = re.compile(rf"^[{CJK}](?: ?[{CJK}]){{1,2}} +[{CJK}]")


def _ends_sentence(text: str) -> bool:
    text = text.rstrip()
    if not text:
        return True
    if text[-1] in _TERMINAL:
        return True
    return text[-1] in "”’" and len(text) > 1 and text[-2] in "。！？"


def _continues(lines: list[_Line], kind: str, nxt: _Piece) -> bool:
    """Whether `nxt` continues the paragraph in `lines` across a page break."""
    if nxt.kind != "plain":
        return False
    last = lines[-1].text
    if _ends_sentence(last):
        return False
    # "key：value" lines and name lists (committee rosters) end without punctuation but are complete
    next_is_entry = bool(_KEY_LABEL_RE.match(nxt.text) or _ROSTER_RE.match(nxt.text))
    if kind == "unit":  # a list of units cut by the page: "…市直各部门" / "及人民团体…"
        return not next_is_entry
    short = len(spaceless(last)) < 30
    if short and (_KEY_LABEL_RE.match(last) or _ROSTER_RE.match(last)):
        return False
    return not (short and next_is_entry)


def _paragraph_text(lines: list[_Line]) -> str:
    return repair_text(_join_wrapped([ln.text for ln in lines]))


def _heading_text(text: str) -> str:
    """A heading as printed, without the space a conversion puts after "(一)"."""
    return re.sub(r"^([（(][^）)]{1,4}[）)])\s+", r"\1", text)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@dataclass
class _Row:
    cells: list[str | None]  # None: the line stopped before this cell (the row was cut short)
    lines: list[_Line]


_INT_RE = re.compile(r"\d{1,3}")
_NUMERIC_RE = re.compile(r"[-+]?[\d.,%/]+|[-—/]")


def _table_rows(lines: list[_Line]) -> tuple[list[tuple[str, list[_Line]]], dict[int, str]]:
    """Render a table's rows as "列名：值；…", with repeated headers dropped and broken rows mended."""
    header = _cells(lines[0])
    while header and not header[-1]:
        header.pop()
    dropped: dict[int, str] = {}
    if _looks_like_header(header):
        header = [spaceless(h) for h in header]
        dropped[lines[0].no] = "table header"
        body = lines[1:]
    else:
        header = []
        body = lines
    rows: list[_Row] = []
    for ln in body:
        cells = _cells(ln)
        if header and spaceless("".join(cells)) == "".join(header):
            dropped[ln.no] = "repeated table header"
            continue
        rows.append(_Row(list(cells), [ln]))
    width = len(header) or max((len(r.cells) for r in rows), default=0)
    seq_col = next((k for k, h in enumerate(header) if "序号" in h or "编号" in h), None)
    rows = [_aligned(r, width, seq_col) for r in rows]
    rows = _merge_fragments(rows, seq_col)
    content_col, carry_cols = _column_roles(rows, width, seq_col)
    _tidy_cells(rows, carry_cols, content_col)
    _carry_forward(rows, carry_cols)
    out = []
    for r in rows:
        names = header or [""] * width
        parts = [f"{h}：{v}" if h else v for h, v in zip(names, r.cells) if v]
        out.append(("；".join(parts), r.lines))
    return out, dropped


def _cells(ln: _Line) -> list[str]:
    return [repair_text(c) for c in ln.raw.split("\t")]


def _looks_like_header(cells: list[str]) -> bool:
    return (
        len(cells) >= 2
        and all(cells)
        and all(len(spaceless(c)) <= 15 for c in cells)
        and not any(_NUMERIC_RE.fullmatch(spaceless(c)) for c in cells)
    )


def _aligned(row: _Row, width: int, seq_col: int | None) -> _Row:
    """Put a row's cells under the right columns.

    A row whose number landed one column off ("18⇥⇥…", "⇥⇥22⇥…") is shifted back so the number sits
    under 序号; surplus empty cells are dropped from the right; cells missing at the end (a row the
    page cut short) are marked None so nothing is carried into them.
    """
    cells: list[str | None] = list(row.cells)
    if seq_col is not None and seq_col < len(cells) and not _INT_RE.fullmatch(cells[seq_col] or ""):
        near = [j for j in range(max(0, seq_col - 2), min(len(cells), seq_col + 3)) if j != seq_col]
        found = next((j for j in sorted(near, key=lambda j: abs(j - seq_col)) if _INT_RE.fullmatch(cells[j] or "")), None)
        if found is not None:
            shift = seq_col - found
            if shift > 0:
                cells = [""] * shift + cells
            elif all(not c for c in cells[:-shift]):
                cells = cells[-shift:]
    while len(cells) > width:
        empty = [k for k in range(len(cells) - 1, -1, -1) if not cells[k] and k != seq_col]
        if empty:
            del cells[empty[0]]
        else:
            cells[width - 1] = " ".join(c for c in cells[width - 1 :] if c)
            del cells[width:]
    cells += [None] * (width - len(cells))
    return _Row(cells, row.lines)


def _merge_fragments(rows: list[_Row], seq_col: int | None) -> list[_Row]:
    """Merge the pieces of rows the conversion broke apart.

    In a numbered table a line without a number is a piece of a row: when the next line holds only
    a number, the two make one row ("⇥⇥⇥加强社会救助…" / "⇥17⇥⇥⇥"); otherwise the piece belongs to
    the row above (its text continues a cell, or a short cell slipped to the wrong column).
    """
    if seq_col is None:
        return rows
    out: list[_Row] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        if _INT_RE.fullmatch(row.cells[seq_col] or "") or not out:
            out.append(row)
            i += 1
            continue
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if nxt is not None and _number_only(nxt, seq_col):
            row.cells[seq_col] = nxt.cells[seq_col]
            out.append(_Row(row.cells, row.lines + nxt.lines))
            i += 2
            continue
        _merge_into(out[-1], row)
        i += 1
    return out


def _number_only(row: _Row, seq_col: int) -> bool:
    return bool(_INT_RE.fullmatch(row.cells[seq_col] or "")) and not any(
        c for k, c in enumerate(row.cells) if k != seq_col
    )


def _merge_into(prev: _Row, piece: _Row) -> None:
    for k, value in enumerate(piece.cells):
        if not value:
            continue
        if not prev.cells[k]:
            prev.cells[k] = value
            continue
        # a short value beside a filled cell is a cell that slipped left: put it in the next free one
        free = next((m for m in range(k + 1, len(prev.cells)) if not prev.cells[m]), None)
        if len(value) <= 20 and free is not None:
            prev.cells[free] = value
        else:
            prev.cells[k] = prev.cells[k] + value
    prev.lines = prev.lines + piece.lines


def _column_roles(rows: list[_Row], width: int, seq_col: int | None) -> tuple[int | None, set[int]]:
    """The main text column (longest cells) and the columns whose empty cells are merged cells.

    Merged cells are carried forward only in text columns other than the main one: a number or the
    main text is never inherited from another row.
    """
    lengths: dict[int, float] = {}
    numeric: set[int] = set()
    for k in range(width):
        values = [r.cells[k] for r in rows if r.cells[k]]
        if not values:
            continue
        lengths[k] = sum(len(v) for v in values) / len(values)
        if sum(bool(_NUMERIC_RE.fullmatch(spaceless(v))) for v in values) * 2 >= len(values):
            numeric.add(k)
    candidates = {k: v for k, v in lengths.items() if k != seq_col}
    content_col = max(candidates, key=candidates.get) if candidates else None
    carry = {k for k in range(width) if k not in (seq_col, content_col) and k not in numeric}
    return content_col, carry


def _tidy_cells(rows: list[_Row], carry_cols: set[int], content_col: int | None) -> None:
    """Close up letter-spacing; in the label columns left of the main text ("着力提升整体 发展水平")
    a space is only ever a line wrap inside the cell, so it goes."""
    for r in rows:
        for k, value in enumerate(r.cells):
            if not value:
                continue
            if k in carry_cols and content_col is not None and k < content_col:
                r.cells[k] = re.sub(rf"(?<=[{CJK}]) +(?=[{CJK}])", "", value)
            else:
                r.cells[k] = join_single_char_runs(value)


def _carry_forward(rows: list[_Row], carry_cols: set[int]) -> None:
    """Fill merged (empty) cells from the row above, so that every row reads on its own.

    Not into a trailing run of empty cells that includes a number or main-text column: that row was
    cut short rather than merged.
    """
    last: dict[int, str] = {}
    for r in rows:
        filled = len(r.cells)
        while filled > 0 and not r.cells[filled - 1]:
            filled -= 1
        truncated = any(k not in carry_cols for k in range(filled, len(r.cells)))
        for k in sorted(carry_cols):
            value = r.cells[k]
            if value:
                last[k] = value
            elif value == "" and k in last and not (k >= filled and truncated):
                r.cells[k] = last[k]


# ---------------------------------------------------------------------------------------------
# Small text helpers
# ---------------------------------------------------------------------------------------------


def _join_wrapped(parts: list[str]) -> str:
    """Join the pieces of a wrapped line: no space between Chinese, one between Latin words."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and re.match(r"[A-Za-z0-9]", part) and re.search(r"[A-Za-z0-9]$", out):
            out += " "
        out += part
    return out


def _clean_title(text: str) -> str:
    return repair_text(text).strip()


def _block(text: str, kind: str, section: list[str], lines: list[_Line]) -> Block:
    return Block(
        text=text,
        kind=kind,  # type: ignore[arg-type]
        section=list(section),
        char_start=min(ln.start for ln in lines),
        char_end=max(ln.end for ln in lines),
    )
