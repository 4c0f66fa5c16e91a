"""Reader for PDFs with a text layer, with pypdf.

The text of every page is extracted and the pages are joined by "\n" into one text: the text that
block offsets point into and that `pdf_text` (hence `source_text`) returns. Page p (1-based) starts
at `page_starts[p - 1]`; every block gets the page where it starts (`Block.page` -> `citation.page`).

When the text carries a 文号 on a line of its own it is a gazette issue or a notice, and the gazette
text parser reads it (it also drops page numbers and the page footer, and joins paragraphs a page
break cut). Otherwise the lines are joined into paragraphs (a line that does not end a sentence
continues on the next) and handed to the outline builder the .docx reader uses, which knows
numbered headings (一、 / （一） / 1.), a date line and its signature.

Unreadable: a file that is not a PDF or is damaged, an encrypted PDF that does not open with an
empty password, and a PDF whose pages have no text ("no text layer (scanned?)"): there is no OCR.
"""
from __future__ import annotations

import bisect
import re
from pathlib import Path

from qa.model import Document

from . import UnreadableDocument
from .common import doc_number_of_line, heading_level, is_date_line, is_unit_line
from .docx import Unit, build_document

# A line that is only a page number: "- 3 -", "第 3 页", "3 / 12", "3".
_PAGE_NUMBER_RE = re.compile(r"[-—－–]\s*\d{1,4}\s*[-—－–]|第\s*\d{1,4}\s*页|\d{1,4}\s*/\s*\d{1,4}|\d{1,4}")
_SENTENCE_END = ("。", "！", "？", "；", "：", "”", "」", "）", ")", ":", ";", "!", "?")
_MIN_WRAPPED_LINE = 20  # a line shorter than this ended its paragraph (a title, a signature…)


def _reader(path: Path):
    """The pypdf reader of an openable PDF, or UnreadableDocument saying why not."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if path.stat().st_size == 0:
        raise UnreadableDocument(f"{path.name}: the file is empty")
    try:
        reader = PdfReader(str(path))
        encrypted = reader.is_encrypted
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise UnreadableDocument(f"{path.name}: not a readable PDF ({type(e).__name__}: {e})") from e
    if encrypted:
        try:
            opened = reader.decrypt("")  # many "protected" PDFs only restrict printing or copying
        except Exception as e:  # e.g. an AES PDF without the cryptography package
            raise UnreadableDocument(f"{path.name}: encrypted PDF ({e})") from e
        if not opened:
            raise UnreadableDocument(f"{path.name}: encrypted PDF (a password is needed)")
    return reader


def page_texts(path: Path) -> list[str]:
    """The extracted text of every page (an empty string for a page without text)."""
    reader = _reader(path)
    texts: list[str] = []
    try:
        for page in reader.pages:
            text = page.extract_text() or ""
            texts.append(text.replace("\r\n", "\n").replace("\r", "\n").strip("\n"))
    except Exception as e:  # a broken content stream: pypdf raises many kinds of errors
        raise UnreadableDocument(f"{path.name}: broken PDF ({type(e).__name__}: {e})") from e
    if not any(t.strip() for t in texts):
        raise UnreadableDocument(f"{path.name}: no text layer (scanned?)")
    return texts


def join_pages(texts: list[str]) -> tuple[str, list[int]]:
    """The pages' texts joined by "\n", and the offset where each page starts."""
    starts: list[int] = []
    pos = 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    return "\n".join(texts), starts


def pdf_text(path: Path) -> str:
    """The text of a PDF as its blocks' offsets count it (pages joined by "\n")."""
    return join_pages(page_texts(path))[0]


def page_of(offset: int, page_starts: list[int]) -> int:
    """The 1-based number of the page the offset falls on."""
    return max(1, bisect.bisect_right(page_starts, offset))


def read_pdf(path: Path, source: str) -> list[Document]:
    """Read a PDF: a gazette issue or notice by the gazette parser, else as plain paragraphs."""
    text, starts = join_pages(page_texts(path))
    if any(doc_number_of_line(line) for line in text.split("\n")):
        from .gazette import parse_gazette_text

        docs = parse_gazette_text(text, source)
    else:
        docs = [build_document(_paragraph_units(text), source)]
    for doc in docs:
        for block in doc.blocks:
            block.page = page_of(block.char_start, starts)
    return [d for d in docs if d.blocks]


def _paragraph_units(text: str) -> list[Unit]:
    """Lines joined into paragraphs: a line that runs to the margin without ending a sentence
    continues on the next, unless the next one is numbered, a date or a unit line."""
    units: list[Unit] = []
    pos = 0
    open_unit = False  # whether the last unit may continue on the next line
    for raw in text.split("\n"):
        stripped = raw.strip()
        start = pos + raw.find(stripped) if stripped else pos
        pos += len(raw) + 1
        if not stripped:
            open_unit = False
            continue
        if _PAGE_NUMBER_RE.fullmatch(stripped):
            continue  # page furniture: the page break does not end the paragraph
        starts_new = heading_level(stripped) or is_date_line(stripped) or is_unit_line(stripped)
        if open_unit and units and not starts_new:
            last = units[-1]
            sep = " " if re.search(r"[A-Za-z]$", last.text) and re.match(r"[A-Za-z]", stripped) else ""  # words, not a number cut by the wrap
            last.text = f"{last.text}{sep}{stripped}"
            last.end = start + len(stripped)
        else:
            units.append(Unit(stripped, start, start + len(stripped)))
        open_unit = len(stripped) >= _MIN_WRAPPED_LINE and not stripped.endswith(_SENTENCE_END)
    return units
