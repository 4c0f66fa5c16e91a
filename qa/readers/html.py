"""Reader for saved web pages (.html, .htm), with BeautifulSoup over lxml.

Government documents are published as web pages: a policy page of the State Council (www.gov.cn)
carries the document's text and, above it, a metadata block (a table of 索引号 / 主题分类 / 发文机关 /
成文日期 / 标题 / 发文字号 / 发布日期, or the same labels in running text) and <meta> tags. Around
that sit the site's navigation, share buttons, print links and scripts, which are no part of the
document and are dropped.

The page is first rendered as plain text, the text that block offsets point into and that
`html_text` (hence `source_text`) returns: the title line, the metadata line ("发文机关：…；发文字号：…")
when the page has a metadata block, then the body's paragraphs one a line (a <br> breaks a line) and
each table row one line of its cells separated by tabs. The outline (section paths from <h2>-<h6>
and from the gazette numbering 一、 / （一） / 1. / 附件1, paragraphs, table rows "列名：值；…",
the signature) is built by the same back end as the .docx reader (`build_document`); the metadata
block then wins over what the text says: 发文字号 gives the 文号, 发文机关 the issuer, 成文日期 the
date (else the signature's date, else 发布日期), 发布日期 `published`.

A page with no body text (only navigation, or an empty article) is unreadable: the indexer reports
it by name and skips it.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.model import Document

from . import UnreadableDocument
from .common import CJK, find_doc_numbers, parse_cn_date, stable_doc_id
from .docx import Unit, build_document

# Elements that never hold document text.
_DROP_TAGS = {"script", "style", "noscript", "template", "iframe", "svg", "canvas", "form", "button", "input",
              "select", "textarea", "nav", "header", "footer", "aside", "object", "embed", "audio", "video",
              "map", "head", "link", "meta"}
# class / id words of page furniture: navigation, breadcrumbs, share and print buttons, footers,
# QR codes, related links, "report an error" boxes. Matched against whole words of the attribute.
_FURNITURE_WORDS = {"nav", "navbar", "menu", "breadcrumb", "breadcrumbnav", "crumb", "crumbs", "share",
                    "bdshare", "fenxiang", "jiathis", "footer", "foot", "header", "topbar", "toolbar", "sidebar",
                    "print", "pages_print", "related", "relevant", "comment", "comments", "qrcode", "erweima",
                    "jiucuo", "correction", "pagination", "pager", "advert", "ad", "ads", "banner", "login",
                    "search", "skip"}
# Lines that are page furniture wherever they stand (print / close / share / font-size links).
_FURNITURE_LINE = re.compile(
    r"^(?:【?\s*(?:打印本页|打印|关闭窗口|关闭|我要纠错|纠错|收藏|返回顶部|字体|字号)[^。，]{0,12}】?"
    r"|分享到[：:]?.{0,30}|扫一扫在手机(?:上)?打开当前页|责任编辑[：:].{0,20}|【?\s*字体[：:].{0,10}】?"
    r"|\[?\s*(?:大|中|小)\s*\]?(?:\s*\[?\s*(?:大|中|小)\s*\]?){1,2})$")
# Containers that hold the article on common government CMSs, best first.
_CONTENT_SELECTORS = ("#UCAP-CONTENT", ".pages_content", "[itemprop=articleBody]", ".TRS_Editor",
                      "article", "main", ".article", "#content", ".content", "#zoom", ".zoom")
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote",
               "pre", "center", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "h1", "h2", "h3", "h4",
               "h5", "h6", "body", "html", "figure", "figcaption", "address", "hr", "caption"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

# Labels of the metadata block -> field.
_META_LABELS = {
    "发文机关": "issuer", "发布机关": "issuer", "发文单位": "issuer", "制发机关": "issuer",
    "发文字号": "doc_number", "文号": "doc_number", "发文文号": "doc_number",
    "成文日期": "date", "成文时间": "date",
    "发布日期": "published", "发布时间": "published", "公布日期": "published", "公开日期": "published",
    "标题": "title", "名称": "title",
    "索引号": None, "主题分类": None, "主题词": None, "时效": None, "体裁分类": None, "组配分类": None,
}
_LABEL_ALT = "|".join(sorted(map(re.escape, _META_LABELS), key=len, reverse=True))
_LABEL_PAIR = re.compile(rf"({_LABEL_ALT})\s*[：:]\s*(.*?)\s*(?=(?:{_LABEL_ALT})\s*[：:]|$)")
_LABEL_CELL = re.compile(rf"^\s*({_LABEL_ALT})\s*[：:]?\s*$")
# labels are often letter-spaced to line up in their column ("索 引 号：", "标　　题：")
_SPACED_LABEL = re.compile(r"^((?:[\u4e00-\u9fff][\s\u3000\xa0]+){1,3}[\u4e00-\u9fff])(?=\s*[：:]|\s*$)")
# <meta name=...> -> field (gov.cn pages: ArticleTitle, PubDate; generic: og:title, dc.*)
_META_TAGS = {"articletitle": "title", "og:title": "title", "dc.title": "title",
              "pubdate": "published", "firstpublishedtime": "published", "publishdate": "published",
              "dc.date": "published", "article:published_time": "published"}
_ISO_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_BREAK = "\x00"  # a line break the page makes (<br>, a block's end), unlike a newline in its source
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


@dataclass
class PageMeta:
    """What the page says about the document outside its text (metadata block and <meta> tags)."""

    title: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    date: str | None = None
    published: str | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)  # the block as printed: (label, value)

    def take(self, label: str, value: str) -> None:
        value = _clean(value)
        if not value:
            return
        if all(lab != label for lab, _ in self.pairs):
            self.pairs.append((label, value))
        name = _META_LABELS.get(label)
        self.set(name, value)

    def set(self, name: str | None, value: str) -> None:
        if name is None or getattr(self, name) is not None:
            return  # the first statement wins: the metadata block before <meta> tags
        if name in ("date", "published"):
            value = _date(value)
        elif name == "doc_number":
            numbers = find_doc_numbers(value.replace(" ", ""))
            value = numbers[0] if numbers else value
        if value:
            setattr(self, name, value)

    def line(self) -> str:
        # the title already opens the rendered page; the other fields are worth finding by words
        return "；".join(f"{label}：{value}" for label, value in self.pairs if _META_LABELS.get(label) != "title")


# ---------------------------------------------------------------------------------------------
# bytes -> soup
# ---------------------------------------------------------------------------------------------


def _decode(path: Path) -> str:
    """The page's text. Chinese pages declare gb2312 and use GBK characters: read those as gb18030,
    its superset; an undeclared page is UTF-8 when it decodes as such, else gb18030."""
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableDocument(f"{path.name}: the file is empty")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    m = _CHARSET.search(data[:4096])
    declared = m.group(1).decode("ascii").lower() if m else None
    if declared in ("gb2312", "gbk", "gb18030", "x-gbk"):
        return data.decode("gb18030", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if declared and declared not in ("utf-8", "utf8"):
            try:
                return data.decode(declared, errors="replace")
            except LookupError:
                pass
        return data.decode("gb18030", errors="replace")


def _soup(path: Path):
    from bs4 import BeautifulSoup

    text = _decode(path)
    if "<" not in text:
        raise UnreadableDocument(f"{path.name}: not an HTML page (no markup)")
    return BeautifulSoup(text, "lxml")


# ---------------------------------------------------------------------------------------------
# soup -> metadata, rendered text, units
# ---------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """One line of HTML text: whitespace collapsed, a line break between two Chinese characters
    (a soft wrap in the page's source) closed up, non-breaking and ideographic spaces trimmed."""
    text = re.sub(rf"(?<=[{CJK}，。；：、）》”])[ \t\r\n]*\n[ \t\r\n]*(?=[{CJK}（《“])", "", text)
    text = re.sub(r"[\s\u3000\xa0\u200b]+", " ", text)
    return text.strip()


def _date(value: str) -> str | None:
    iso = parse_cn_date(value)
    if iso:
        return iso
    m = _ISO_DATE.search(value)
    if m:
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            return None
    return None


def _is_furniture(tag) -> bool:
    if tag.name in _DROP_TAGS:
        return True
    attrs = getattr(tag, "attrs", None) or {}
    words = " ".join([*(attrs.get("class") or []), str(attrs.get("id") or ""), str(attrs.get("role") or "")])
    tokens = {w for w in re.split(r"[\s\-]+", words.lower()) if w}
    tokens |= {t for w in tokens for t in w.split("_")}
    if tokens & _FURNITURE_WORDS or "navigation" in tokens:
        return True
    style = str(attrs.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or attrs.get("hidden") is not None or attrs.get("aria-hidden") == "true"


def _unspace_label(text: str) -> str:
    """"索 引 号：000…" -> "索引号：000…" (only a short letter-spaced run that starts the text)."""
    return _SPACED_LABEL.sub(lambda m: re.sub(r"[\s\u3000\xa0]+", "", m.group(1)), text, count=1)


def _metadata_table(table) -> list[tuple[str, str]] | None:
    """(label, value) pairs of a metadata table (label cells followed by value cells, or cells that
    read "label：value"), or None when the table is not one (a data table)."""
    pairs: list[tuple[str, str]] = []
    cells = [c for c in table.find_all(["th", "td"]) if not c.find(["table"])]
    i = 0
    while i < len(cells):
        text = _unspace_label(_clean(cells[i].get_text(" ")))
        m = _LABEL_CELL.match(text)
        if m and i + 1 < len(cells) and not _LABEL_CELL.match(_unspace_label(_clean(cells[i + 1].get_text(" ")))):
            pairs.append((m.group(1), _clean(cells[i + 1].get_text(" "))))
            i += 2
            continue
        inline = _LABEL_PAIR.findall(text) if re.match(rf"^\s*(?:{_LABEL_ALT})\s*[：:]", text) else []
        pairs.extend(inline)
        i += 1
    return pairs if len({lab for lab, _ in pairs}) >= 2 else None


def _meta_line_pairs(line: str) -> list[tuple[str, str]] | None:
    """A body line that is nothing but metadata ("发文机关：国务院 发文字号：国发〔2019〕5号")."""
    if not re.match(rf"^\s*(?:{_LABEL_ALT})\s*[：:]", line):
        return None
    pairs = _LABEL_PAIR.findall(line)
    known = {lab for lab, _ in pairs}
    # one label alone ("标题：…" in a sentence-like line) is too weak; two, or a field worth having
    if len(known) >= 2 or known & {"发文机关", "发文字号", "成文日期", "发布日期"}:
        return pairs
    return None


def _content_root(soup):
    body = soup.body or soup
    for selector in _CONTENT_SELECTORS:
        for el in soup.select(selector):
            if len(_clean(el.get_text(" "))) >= 50 and not _is_furniture(el):
                return el
    return body


def _page_title(soup) -> str | None:
    h1 = next((h for h in soup.find_all("h1") if _clean(h.get_text(" "))), None)
    if h1 is not None:
        return _clean(h1.get_text(" "))
    if soup.title and _clean(soup.title.get_text(" ")):
        # "标题_国务院文件_中国政府网": the site's name follows the title
        return re.split(r"\s*(?:_|\||-{1,2}|——)\s*", _clean(soup.title.get_text(" ")))[0] or None
    return None


class _Renderer:
    """Walks the content root in reading order, writing the rendered text and its units."""

    def __init__(self, meta: PageMeta) -> None:
        self.meta = meta
        self.lines: list[str] = []
        self.units: list[Unit] = []
        self.pos = 0
        self.seen_h1 = False

    def add(self, line: str, **unit_fields) -> None:
        line = line.replace("\n", " ").replace(_BREAK, " ")
        stripped = line.strip()
        if stripped:
            start = self.pos + line.index(stripped)
            self.units.append(Unit(stripped, start, start + len(stripped), **unit_fields))
        self.lines.append(line)
        self.pos += len(line) + 1

    def text_lines(self, pieces: list[str]) -> None:
        for raw in "".join(pieces).split(_BREAK):
            line = _clean(raw)
            if not line or _FURNITURE_LINE.match(line):
                continue
            pairs = _meta_line_pairs(_unspace_label(line))
            if pairs is not None:
                for label, value in pairs:
                    self.meta.take(label, value)
                continue
            self.add(line)

    def walk(self, el) -> None:
        from bs4 import Comment, NavigableString, Tag

        pieces: list[str] = []
        for child in el.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                pieces.append(str(child))
                continue
            if not isinstance(child, Tag) or _is_furniture(child):
                continue
            name = child.name
            if name == "br":
                pieces.append(_BREAK)
            elif name in _HEADINGS:
                self.text_lines(pieces)
                pieces = []
                self.heading(child)
            elif name == "table":
                self.text_lines(pieces)
                pieces = []
                self.table(child)
            elif name in _BLOCK_TAGS or child.find(_BLOCK_TAGS - {"br"}) is not None:
                self.text_lines(pieces)
                pieces = []
                self.walk(child)
                pieces.append(_BREAK)
            else:
                pieces.append(_inline_text(child))
        self.text_lines(pieces)

    def heading(self, tag) -> None:
        text = _clean(_inline_text(tag).replace(_BREAK, " "))
        if not text or _FURNITURE_LINE.match(text):
            return
        level = _HEADINGS[tag.name]
        if level == 1 and not self.seen_h1:
            self.seen_h1 = True
            if self.units and self.units[0].style_level == 0 and self.units[0].text == text:
                return  # the title line the page already opened with
            self.add(text, style_level=0)
            return
        self.add(text, style_level=max(1, level - 1))  # <h2> is the first level under the title

    def table(self, table) -> None:
        pairs = _metadata_table(table)
        if pairs is not None:
            for label, value in pairs:
                self.meta.take(label, value)
            return
        rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
        if _is_layout(table, rows):
            for tr in rows:
                for cell in tr.find_all(["td", "th"], recursive=False):
                    self.walk(cell)
            return
        grid = _table_grid(rows)
        header = grid[0][1] if len(grid) > 1 else None
        for k, (printed, cells) in enumerate(grid):
            if any(printed) or any(cells):
                self.add("\t".join(printed), cells=cells, header=header, is_header=header is not None and k == 0)


def _inline_text(tag) -> str:
    """Text of an inline element, <br> as a line break (`_BREAK`)."""
    from bs4 import Comment, NavigableString, Tag

    out: list[str] = []
    for node in tag.descendants:
        if isinstance(node, Comment):
            continue
        if isinstance(node, NavigableString):
            if not any(isinstance(p, Tag) and _is_furniture(p) for p in node.parents if p is not tag):
                out.append(str(node))
        elif isinstance(node, Tag) and node.name == "br":
            out.append(_BREAK)
    return "".join(out)


def _is_layout(table, rows) -> bool:
    """A table used for page layout (one cell a row, cells holding nested tables, several paragraphs
    or long text) is read as the blocks it holds; a data table row by row. (A data table's cells may
    hold one <p> each: Word conversions write them so.)"""
    widest = 0
    for tr in rows:
        cells = tr.find_all(["td", "th"], recursive=False)
        widest = max(widest, len(cells))
        for cell in cells:
            if cell.find("table") is not None or len(cell.find_all(["p", "div", "h1", "h2", "h3", "h4", "li"])) > 2:
                return True
            if len(_clean(cell.get_text(" "))) > 300:
                return True
    return widest <= 1


def _table_grid(rows) -> list[tuple[list[str], list[str | None]]]:
    """Each row as (cells as printed, values per grid column): a rowspan carries its value down (printed
    empty there, as a reader sees it), a colspan covers its columns (None in the ones it spans)."""
    out: list[tuple[list[str], list[str | None]]] = []
    pending: dict[int, tuple[str, int]] = {}  # column -> (value, rows still covered)
    for tr in rows:
        printed: list[str] = []
        values: list[str | None] = []
        cells = tr.find_all(["td", "th"], recursive=False)
        col = 0

        def carry() -> None:
            nonlocal col
            while col in pending:
                value, left = pending[col]
                printed.append("")
                values.append(value)
                if left <= 1:
                    del pending[col]
                else:
                    pending[col] = (value, left - 1)
                col += 1

        for cell in cells:
            carry()
            text = _clean(_inline_text(cell).replace(_BREAK, " "))
            span = _int_attr(cell, "colspan")
            down = _int_attr(cell, "rowspan")
            printed.append(text.replace("\t", " "))
            values.append(text)
            values.extend([None] * (span - 1))
            if down > 1:
                pending[col] = (text, down - 1)
            col += span
        carry()
        out.append((printed, values))
    return out


def _int_attr(cell, name: str) -> int:
    try:
        return max(1, min(int(str(cell.get(name, "1")).strip() or 1), 100))
    except ValueError:
        return 1


def render_html(soup) -> tuple[str, list[Unit], PageMeta]:
    """The page as text (title, metadata line, body lines), its units and its metadata."""
    meta = PageMeta()
    for table in soup.find_all("table"):  # a metadata table anywhere on the page (often above the article)
        pairs = _metadata_table(table)
        if pairs is not None:
            for label, value in pairs:
                meta.take(label, value)
    for tag in soup.find_all("meta"):
        key = str(tag.get("name") or tag.get("property") or "").strip().lower()
        if key in _META_TAGS and tag.get("content"):
            meta.set(_META_TAGS[key], _clean(str(tag["content"])))
    title = meta.title or _page_title(soup)

    renderer = _Renderer(meta)
    if title:
        renderer.add(title, style_level=0)
        renderer.seen_h1 = False  # an <h1> that repeats it is skipped in `heading`
    meta_at = len(renderer.lines)
    renderer.add("")  # placeholder of the metadata line, filled once the body has been read
    renderer.walk(_content_root(soup))
    return _with_meta_line(renderer, meta_at), renderer.units, meta


def _with_meta_line(renderer: _Renderer, at: int) -> str:
    """Put the metadata line in its placeholder and shift the offsets of everything after it."""
    line = renderer.meta.line()
    if line:
        start = sum(len(x) + 1 for x in renderer.lines[:at])
        shift = len(line)
        for u in renderer.units:
            if u.start >= start:
                u.start += shift
                u.end += shift
        renderer.lines[at] = line
        renderer.units.insert(next((i for i, u in enumerate(renderer.units) if u.start > start), len(renderer.units)),
                              Unit(line, start, start + len(line)))
    return "\n".join(renderer.lines)


def html_text(path: Path) -> str:
    """The plain-text rendering of a page that its blocks' offsets point into."""
    return render_html(_soup(path))[0]


def check_depth(soup, name: str, budget: "DocumentBudget") -> None:
    """Refuse a page whose tags nest deeper than QA_MAX_HTML_DEPTH, before the renderer (recursive, as
    are parts of BeautifulSoup) walks it: 100,000 nested <div>s, a few hundred KB, overflowed Python's
    stack. Counted with an explicit stack, so the check itself cannot overflow."""
    from bs4 import Tag

    from .budget import DocumentTooLarge

    limit = budget.max_html_depth
    stack = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise DocumentTooLarge(name, f"its tags nest {depth:,} deep or more", limit, "QA_MAX_HTML_DEPTH")
        stack.extend((child, depth + 1) for child in node.contents if isinstance(child, Tag))


def read_html(path: Path, source: str, budget: "DocumentBudget | None" = None) -> list[Document]:
    """Read a saved web page as one document; offsets are into `html_text(path)`."""
    from .budget import DocumentBudget

    soup = _soup(path)
    check_depth(soup, path.name, budget or DocumentBudget())
    _text, units, meta = render_html(soup)
    meta_line = meta.line()
    body = [u for u in units if u.style_level != 0 and u.text != meta_line]
    if not body:
        raise UnreadableDocument(f"{path.name}: no body text (the page holds only a title, metadata or "
                                 f"navigation)")
    doc = build_document(units, source)
    doc.title = meta.title or doc.title
    doc.doc_number = meta.doc_number or doc.doc_number
    doc.issuer = meta.issuer or doc.issuer
    doc.date = meta.date or doc.date or meta.published
    doc.published = meta.published
    doc.doc_id = stable_doc_id(source, doc.doc_number, doc.title)
    return [doc]
