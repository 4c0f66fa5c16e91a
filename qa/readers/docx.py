"""Reader for Word documents (.docx), with python-docx.

The document is first rendered as plain text, the text that block offsets point into and that
`docx_text` (hence `source_text`) returns: body paragraphs in order, one a line, joined by "\n"
(an empty paragraph is an empty line); a table row is one line of its cells as printed, separated by
tabs (a cell merged with the one above is empty there, as Word shows it).

Structure: paragraphs in a heading style (Heading 1-9 / 标题 1-9, or with an outline level) give the
section path by their level; an unstyled paragraph numbered the gazette way (一、 / （一） / 1. /
附件1, see `heading_level`) is a heading when short, or an item whose label ends the path when it is
a sentence. Other paragraphs are paragraph blocks under the current path; a unit line (牵头单位：…)
joins the item before it. A table row is a table_row block "列名：值；…" named by the table's first
row, with cells merged with the row above (and empty cells that lead a row, a group label left
blank) carried forward, so that each row reads on its own.

Metadata: the title is the first paragraph in the Title style (else Heading 1, else the lines above
a 文号 line, else the first line); the 文号 is a line that is nothing but one, near the top; the date
is the first line that is nothing but a date (the one under a signature), the issuer the signature
lines right above it; the addressees the line after the 文号 that ends with "：".

Budget (budget.py): before python-docx inflates anything, the zip's entries are checked by their
declared sizes and compression ratios, and `word/document.xml` is streamed once through a
size-checked reader with an incremental parser that counts paragraphs, table cells, characters and
elements as they arrive; a file over a limit is refused there, having cost a few megabytes at most.

The outline part (`Unit`, `build_document`) knows nothing of Word; the PDF reader feeds it lines too.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from qa.model import Block, Document

from . import UnreadableDocument
from .budget import RATIO_FLOOR_BYTES, BoundedReader, DocumentBudget
from .common import doc_number_of_line, heading_level, is_date_line, is_unit_line, parse_cn_date, repair_text, stable_doc_id

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = {"title", "标题"}
_ISSUER_MAX_LINES = 4


# ---------------------------------------------------------------------------------------------
# Units: what the outline is built from
# ---------------------------------------------------------------------------------------------


@dataclass
class Unit:
    """A paragraph or a table row, with its span in the rendered text.

    `style_level`: 0 for a title style, 1-9 for a heading style, None for body text.
    `cells`: for a table row, the values per grid column with merges carried forward (None where a
    horizontally merged cell already stood); `header`: the names of the columns; `is_header`: the
    row that names them (no block of its own).
    """

    text: str
    start: int
    end: int
    style_level: int | None = None
    cells: list[str | None] | None = None
    header: list[str | None] | None = None
    is_header: bool = False
    page: int | None = None


# ---------------------------------------------------------------------------------------------
# Word -> rendered text + units
# ---------------------------------------------------------------------------------------------


def check_docx_budget(path: Path, budget: DocumentBudget) -> None:
    """Refuse a .docx over the budget, reading no more of it than the limits allow."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            inflated = 0
            for info in infos:
                inflated += info.file_size
                if inflated > budget.max_doc_inflated_bytes:
                    raise budget.over(path.name, f"its zip entries inflate to {inflated:,} bytes or more "
                                                 f"(at {info.filename})", "max_doc_inflated_bytes")
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > RATIO_FLOOR_BYTES and ratio > budget.max_zip_ratio:
                    raise budget.over(path.name, f"{info.filename} inflates {ratio:,.0f}-fold "
                                                 f"({info.compress_size:,} → {info.file_size:,} bytes)", "max_zip_ratio")
            if "word/document.xml" in zf.namelist():
                with zf.open("word/document.xml") as raw:
                    _scan_body(BoundedReader(raw, budget.max_doc_inflated_bytes, lambda n: budget.over(
                        path.name, f"word/document.xml inflates past {n - 1:,} bytes", "max_doc_inflated_bytes")),
                        path.name, budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise UnreadableDocument(f"{path.name}: not a .docx file (corrupt zip: {e})") from e


def _scan_body(stream, name: str, budget: DocumentBudget) -> None:
    """Count what python-docx would build, from a stream, keeping next to nothing in memory."""
    from lxml import etree

    paragraphs = cells = chars = elements = 0
    p_tag, tc_tag, t_tag = f"{_W}p", f"{_W}tc", f"{_W}t"
    try:
        # no entities, no network, libxml2's default depth limit (256): the XML itself is untrusted
        for _event, elem in etree.iterparse(stream, events=("end",), resolve_entities=False, no_network=True,
                                            huge_tree=False):
            elements += 1
            tag = elem.tag
            if tag == t_tag:
                chars += len(elem.text or "")
                if chars > budget.max_doc_chars:
                    raise budget.over(name, f"{chars:,} characters of text or more", "max_doc_chars")
            elif tag == p_tag:
                paragraphs += 1
                if paragraphs > budget.max_doc_paragraphs:
                    raise budget.over(name, f"{paragraphs:,} paragraphs or more", "max_doc_paragraphs")
            elif tag == tc_tag:
                cells += 1
                if cells > budget.max_doc_table_cells:
                    raise budget.over(name, f"{cells:,} table cells or more", "max_doc_table_cells")
            if elements > budget.max_xml_elements:
                raise budget.over(name, f"word/document.xml has {elements:,} XML elements or more", "max_xml_elements")
            if tag in (p_tag, tc_tag):  # drop what was counted: memory stays flat however long the body
                elem.clear()
                parent = elem.getparent()
                while parent is not None and elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as e:
        raise UnreadableDocument(f"{name}: damaged .docx file (word/document.xml: {e})") from e


def _open(path: Path, budget: DocumentBudget | None = None):
    """The python-docx document, or UnreadableDocument saying why not."""
    import docx as python_docx  # python-docx (the top-level package, not this module)
    from docx.opc.exceptions import PackageNotFoundError

    from . import default_budget

    budget = budget or default_budget()
    if budget.check_file_size(path) == 0:
        raise UnreadableDocument(f"{path.name}: the file is empty")
    if not zipfile.is_zipfile(path):
        raise UnreadableDocument(f"{path.name}: not a .docx file (corrupt zip)")
    check_docx_budget(path, budget)
    try:
        return python_docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise UnreadableDocument(f"{path.name}: not a readable .docx file ({type(e).__name__}: {e})") from e
    except Exception as e:  # lxml syntax errors and the like: a damaged package part
        raise UnreadableDocument(f"{path.name}: damaged .docx file ({type(e).__name__}: {e})") from e


def docx_text(path: Path, budget: DocumentBudget | None = None) -> str:
    """The plain-text rendering of a .docx file that its blocks' offsets point into."""
    return render_docx(_open(path, budget))[0]


def render_docx(document) -> tuple[str, list[Unit]]:
    """The document as text (paragraphs and table rows, one a line) and its non-empty units."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    units: list[Unit] = []
    pos = 0

    def add(line: str, **unit_fields) -> None:
        nonlocal pos
        stripped = line.strip()
        if stripped:
            start = pos + line.index(stripped)
            units.append(Unit(stripped, start, start + len(stripped), **unit_fields))
        lines.append(line)
        pos += len(line) + 1

    for child in document.element.body.iterchildren():
        if child.tag == f"{_W}p":
            paragraph = Paragraph(child, document)
            add(paragraph.text, style_level=_style_level(paragraph))
        elif child.tag == f"{_W}tbl":
            rows = _table_rows(Table(child, document))
            header = rows[0][1] if len(rows) > 1 else None
            for k, (printed, cells) in enumerate(rows):
                add("\t".join(printed), cells=cells, header=header, is_header=header is not None and k == 0)
    return "\n".join(lines), units


def _style_level(paragraph) -> int | None:
    """0 for a title, 1-9 for a heading (by style name or outline level), None for body text."""
    style = paragraph.style
    while style is not None:
        name = (style.name or "").strip()
        if name.lower() in _TITLE_STYLES:
            return 0
        m = _HEADING_STYLE_RE.match(name)
        if m:
            return int(m.group(1))
        style = style.base_style  # a custom style based on "Heading 2" is a heading 2
    # a direct outline level (Word's "大纲级别") marks a heading in documents without heading styles
    ppr = paragraph._p.pPr
    outline = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
    if outline is not None:
        level = int(outline.get(f"{_W}val", "9"))
        return level + 1 if level < 9 else None
    return None


def _table_rows(table) -> list[tuple[list[str], list[str | None]]]:
    """Each row as (cells as printed, values per grid column with merges carried forward)."""
    from docx.table import _Cell

    rows: list[tuple[list[str], list[str | None]]] = []
    above: list[str | None] = []
    for tr in table._tbl.tr_lst:
        printed: list[str] = []
        values: list[str | None] = []
        for tc in tr.tc_lst:
            text = repair_text(re.sub(r"\s+", " ", _Cell(tc, table).text)).strip()
            merged_down = tc.vMerge == "continue"
            col = len(values)
            printed.append("" if merged_down else text.replace("\t", " "))
            value = (above[col] if col < len(above) else "") if merged_down else text
            values.append(value)
            values.extend([None] * (tc.grid_span - 1))  # the columns a horizontal merge covers
        if rows:
            _carry_leading_blanks(values, above)
        rows.append((printed, values))
        above = values
    return rows


def _carry_leading_blanks(values: list[str | None], above: list[str | None]) -> None:
    """Empty cells before the first filled one repeat the row above: a hand-made table leaves a
    group label blank instead of merging it. (A blank in the middle or at the end stays blank.)"""
    if not any(values):
        return
    for col, value in enumerate(values):
        if value:
            break
        if value == "" and col < len(above) and above[col]:
            values[col] = above[col]


def render_row(header: list[str | None] | None, cells: list[str | None]) -> str:
    """"列名：值；列名：值" (empty cells left out; without a header, the values joined by "；")."""
    parts = []
    for col, value in enumerate(cells):
        if not value:
            continue
        name = header[col] if header and col < len(header) else None
        parts.append(f"{name}：{value}" if name else value)
    return "；".join(parts)


# ---------------------------------------------------------------------------------------------
# Units -> Document
# ---------------------------------------------------------------------------------------------


@dataclass
class _Meta:
    title: str = ""
    title_units: tuple[int, ...] = ()
    doc_number: str | None = None
    number_unit: int | None = None
    addressees: str | None = None
    date: str | None = None
    issuer: str | None = None
    signature: tuple[int, ...] = ()  # issuer lines and the date line


def _metadata(units: list[Unit]) -> _Meta:
    meta = _Meta()
    paragraphs = [i for i, u in enumerate(units) if u.cells is None]
    head = paragraphs[:12]
    number_at = next((i for i in head if doc_number_of_line(units[i].text)), None)
    if number_at is not None:
        meta.doc_number, meta.number_unit = doc_number_of_line(units[number_at].text), number_at
        nxt = number_at + 1
        if nxt < len(units) and units[nxt].cells is None and units[nxt].text.endswith(("：", ":")) \
                and heading_level(units[nxt].text) is None:
            meta.addressees = repair_text(units[nxt].text).rstrip("：:")
    meta.title_units = _title_units(units, paragraphs, number_at)
    meta.title = "".join(repair_text(units[i].text) for i in meta.title_units)
    date_at = next((i for i in paragraphs if is_date_line(units[i].text)), None)
    if date_at is not None:
        meta.date = parse_cn_date(units[date_at].text)
        first = date_at
        while (first - 1 >= 0 and date_at - first < _ISSUER_MAX_LINES and first - 1 not in meta.title_units
               and first - 1 != number_at and _looks_like_issuer(units[first - 1])):
            first -= 1
        meta.issuer = " ".join(repair_text(units[i].text) for i in range(first, date_at)) or None
        meta.signature = tuple(range(first, date_at + 1))
    return meta


def _title_units(units: list[Unit], paragraphs: list[int], number_at: int | None) -> tuple[int, ...]:
    for wanted in (0, 1):
        styled = next((i for i in paragraphs if units[i].style_level == wanted), None)
        if styled is not None:
            return (styled,)
    if number_at is not None and 0 < number_at <= 4:  # a notice: title lines stand above its 文号
        return tuple(i for i in paragraphs if i < number_at)
    return (paragraphs[0],) if paragraphs else ()


def _looks_like_issuer(unit: Unit) -> bool:
    """A signature line: a short organisation name, no punctuation. (Same rule as the gazette
    reader's private `_looks_like_issuer`; kept here so the readers do not share private code.)"""
    t = unit.text
    return (unit.cells is None and len(t) <= 30 and not re.search(r"[，。：；、！？,:;]", t)
            and not t.startswith("附件") and heading_level(t) is None and not doc_number_of_line(t))


def _is_sentence(text: str) -> bool:
    return bool(re.search(r"[。；！？]", text)) or len(text) > 40


class _Outline:
    """Units in reading order -> blocks with section paths.

    A path entry remembers its rank (style level 1-9; unstyled numbering 10 + its level; 附件 0) and
    the numbering level of its label, so that an unstyled "三、" after a styled "二、" heading replaces
    it rather than nesting under it."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.path: list[tuple[int, int | None, str, bool]] = []  # (rank, numbering level, entry, is item)
        self.item: int | None = None  # the open item's block, which unit lines join

    def heading(self, unit: Unit, rank: int, numbering: int | None = None) -> None:
        text = repair_text(unit.text)
        self._enter(rank, numbering, text, False)
        self._append(Block(text, "heading", self.section(), unit.start, unit.end, unit.page))

    def paragraph(self, unit: Unit, section: list[str] | None = None) -> int:
        section = self.section() if section is None else section
        return self._append(Block(repair_text(unit.text), "paragraph", section, unit.start, unit.end, unit.page))

    def numbered(self, unit: Unit, level: int, label: str) -> None:
        if level == 0:  # 附件N starts a new top-level path named by the line
            self.path = []
            self.heading(unit, 0, 0)
        elif _is_sentence(unit.text):  # an item: its label ends its path
            self._enter(10 + level, level, label, True)
            self.item = self.paragraph(unit)
        else:
            self.heading(unit, 10 + level, level)

    def styled_heading(self, unit: Unit) -> None:
        numbered = heading_level(unit.text)
        self.heading(unit, unit.style_level or 9, numbered[0] if numbered else None)

    def unit_line(self, unit: Unit) -> None:
        """牵头单位：… belongs to the item it follows."""
        if self.item is None:
            self.paragraph(unit)
            return
        block = self.blocks[self.item]
        block.text = f"{block.text}\n{repair_text(unit.text)}"
        block.char_end = unit.end

    def table_row(self, unit: Unit) -> None:
        text = render_row(unit.header, unit.cells or [])
        # a table is no part of the numbered item before it: it sits under the headings
        while self.path and self.path[-1][3]:
            self.path.pop()
        if text:
            self._append(Block(text, "table_row", self.section(), unit.start, unit.end, unit.page))
        self.item = None

    def section(self) -> list[str]:
        return [e for _, _, e, _ in self.path]

    def _enter(self, rank: int, numbering: int | None, entry: str, is_item: bool) -> None:
        """Siblings and deeper entries leave the path, by rank or by numbering level."""
        def stays(r: int, n: int | None) -> bool:
            if numbering is not None and n is not None and numbering > 0:
                return n < numbering
            return r < rank

        self.path = [(r, n, e, i) for r, n, e, i in self.path if stays(r, n)]
        self.path.append((rank, numbering, entry, is_item))
        self.item = None

    def _append(self, block: Block) -> int:
        self.blocks.append(block)
        return len(self.blocks) - 1


def build_document(units: list[Unit], source: str) -> Document:
    """A `Document` from units in reading order (the shared back end of the .docx and .pdf readers)."""
    meta = _metadata(units)
    meta.title = meta.title or Path(source).stem  # a document of tables only names no title
    outline = _Outline()
    for i, unit in enumerate(units):
        if unit.is_header:
            continue
        if i in meta.title_units:
            if i == meta.title_units[0]:  # one heading block for the (possibly wrapped) title
                span = [units[k] for k in meta.title_units]
                outline.blocks.append(Block(meta.title, "heading", [], span[0].start, span[-1].end, span[0].page))
            continue
        if i in meta.signature:
            if i == meta.signature[0]:
                span = [units[k] for k in meta.signature]
                text = "\n".join(repair_text(u.text) for u in span)
                outline.blocks.append(Block(text, "paragraph", [], span[0].start, span[-1].end, span[0].page))
            continue
        if unit.cells is not None:
            outline.table_row(unit)
        elif i == meta.number_unit:
            outline.paragraph(unit, section=[])
        elif unit.style_level:
            outline.styled_heading(unit)
        elif (numbered := heading_level(unit.text)) is not None:
            outline.numbered(unit, *numbered)
        elif is_unit_line(unit.text):
            outline.unit_line(unit)
        else:
            outline.paragraph(unit)
    return Document(
        doc_id=stable_doc_id(source, meta.doc_number, meta.title),
        title=meta.title,
        source=source,
        doc_number=meta.doc_number,
        issuer=meta.issuer,
        date=meta.date,
        addressees=meta.addressees,
        blocks=outline.blocks,
    )


def read_docx(path: Path, source: str, budget: DocumentBudget | None = None) -> list[Document]:
    """Read a .docx file as one document; offsets are into `docx_text(path)`."""
    _text, units = render_docx(_open(path, budget))
    if not units:
        raise UnreadableDocument(f"{path.name}: no text found (an empty document)")
    return [build_document(units, source)]
