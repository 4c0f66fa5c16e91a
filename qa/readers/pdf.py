"""Reader for PDFs with a text layer, with pypdf.

The text of every page is extracted and the pages are joined by "\n" into one text: the text that
block offsets point into and that `pdf_text` (hence `source_text`) returns. Page p (1-based) starts
at `page_starts[p - 1]`; every block gets the page where it starts (`Block.page` -> `citation.page`).

When the text carries a 文号 on a line of its own it is a gazette issue or a notice, and the gazette
text parser reads it (it also drops page numbers and the page footer, and joins paragraphs a page
break cut). Otherwise the lines are joined into paragraphs (a line that does not end a sentence
continues on the next) and handed to the outline builder the .docx reader uses, which knows
numbered headings (一、 / （一） / 1.), a date line and its signature.

Budget (budget.py): the file's size first; then, before any page is extracted, the number of objects
in its cross-reference tables and the pages of its page tree, counted by a walk that stops at the
limit (pypdf would flatten the whole tree); while extracting, the characters so far; and pypdf's own
decompression limits are set to the budget's inflated size for every stream.

Unreadable: a file that is not a PDF or is damaged, an encrypted PDF that does not open with an
empty password, and a PDF whose pages have no text ("no text layer (scanned?)"): there is no OCR.
"""
from __future__ import annotations

import bisect
import re
from pathlib import Path

from qa.model import Document

from . import UnreadableDocument
from .budget import DocumentBudget, DocumentTooLarge
from .common import doc_number_of_line, heading_level, is_date_line, is_unit_line
from .docx import Unit, build_document

# A line that is only a page number: "- 3 -", "第 3 页", "3 / 12", "3".
_PAGE_NUMBER_RE = re.compile(r"[-—－–]\s*\d{1,4}\s*[-—－–]|第\s*\d{1,4}\s*页|\d{1,4}\s*/\s*\d{1,4}|\d{1,4}")
_SENTENCE_END = ("。", "！", "？", "；", "：", "”", "」", "）", ")", ":", ";", "!", "?")
_MIN_WRAPPED_LINE = 20  # a line shorter than this ended its paragraph (a title, a signature…)


def _reader(path: Path, budget: DocumentBudget):
    """The pypdf reader of an openable PDF, or UnreadableDocument saying why not."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if budget.check_file_size(path) == 0:
        raise UnreadableDocument(f"{path.name}: the file is empty")
    declared = _declared_objects(path)
    if declared > budget.max_pdf_objects:
        raise budget.over(path.name, f"its trailer declares {declared:,} objects", "max_pdf_objects")
    try:
        reader = PdfReader(str(path))
        encrypted = reader.is_encrypted
    except _LIMIT_ERRORS as e:
        raise _pypdf_limit(path, e) from e
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise UnreadableDocument(f"{path.name}: not a readable PDF ({type(e).__name__}: {e})") from e
    if encrypted:
        try:
            opened = reader.decrypt("")  # many "protected" PDFs only restrict printing or copying
        except Exception as e:  # e.g. an AES PDF without the cryptography package
            raise UnreadableDocument(f"{path.name}: encrypted PDF ({e})") from e
        if not opened:
            raise UnreadableDocument(f"{path.name}: encrypted PDF (a password is needed)")
    objects = sum(len(v) for v in reader.xref.values()) + len(reader.xref_objStm)
    if objects > budget.max_pdf_objects:
        raise budget.over(path.name, f"its cross-reference tables list {objects:,} objects", "max_pdf_objects")
    try:
        pages = _count_pages(reader, budget.max_pdf_pages)
    except _LIMIT_ERRORS as e:
        raise _pypdf_limit(path, e) from e
    if pages > budget.max_pdf_pages:
        raise budget.over(path.name, f"{pages:,} pages or more", "max_pdf_pages")
    return reader


def _count_pages(reader, limit: int) -> int:
    """Pages of the page tree, walked without flattening it; stops once past `limit`. A page is
    counted once per reference, as a reader would render it (a tree whose nodes all point at one
    page is a million pages in a thousand objects), and the walk stops after `limit` inner nodes
    too (a tree that loops)."""
    from pypdf.generic import NullObject

    try:
        root = reader.trailer["/Root"].get_object()["/Pages"].get_object()
    except _LIMIT_ERRORS:
        raise
    except Exception:  # no page tree: pypdf's own error when pages are read says more
        return 0
    pages = inner = 0
    stack = [root]
    while stack:
        node = stack.pop().get_object()  # resolved only when reached: kids past the limit never are
        if isinstance(node, NullObject) or not hasattr(node, "get"):
            continue
        kids = node.get("/Kids")
        if kids is None:
            pages += 1
            if pages > limit:
                return pages
            continue
        inner += 1
        kids = kids.get_object()
        if len(kids) > limit or inner > limit:
            return max(len(kids), limit + 1)
        stack.extend(reversed(kids))
    return pages


_SIZE_RE = re.compile(rb"/Size\s+(\d{1,12})")


def _declared_objects(path: Path) -> int:
    """The object count the trailer (or the xref stream's dictionary) declares, read from the end
    of the file: pypdf would parse every cross-reference entry before anything can be checked."""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        tail = fh.read()
    sizes = _SIZE_RE.findall(tail)
    return int(sizes[-1]) if sizes else 0


def _pypdf_limit(path: Path, e: Exception) -> DocumentTooLarge:
    return DocumentTooLarge(path.name, f"pypdf stopped reading at one of its limits: {e}", None,
                            "pypdf's decompression limits are QA_MAX_DOC_INFLATED_BYTES")


def _limit_errors() -> tuple[type[BaseException], ...]:
    try:
        from pypdf.errors import LimitReachedError
    except ImportError:  # pypdf < 5.1 has no such error
        return ()
    return (LimitReachedError,)


_LIMIT_ERRORS = _limit_errors()


def _pypdf_limits(budget: DocumentBudget):
    """pypdf's decompression limits, at the budget's inflated size, for as long as the reader runs."""
    import contextlib

    try:
        from pypdf import apply_configuration
    except ImportError:  # pypdf < 7: its built-in limits (75 MB a stream) apply
        return contextlib.nullcontext()
    size = budget.max_doc_inflated_bytes
    return apply_configuration(zlib_maximum_output_length=size, lzw_maximum_output_length=size,
                               run_length_maximum_output_length=size, brotli_maximum_output_length=size,
                               array_based_stream_maximum_output_length=size, maximum_declared_stream_length=size)


def page_texts(path: Path, budget: DocumentBudget | None = None) -> list[str]:
    """The extracted text of every page (an empty string for a page without text)."""
    from . import default_budget

    budget = budget or default_budget()
    with _pypdf_limits(budget):
        reader = _reader(path, budget)
        texts: list[str] = []
        chars = 0
        try:
            for page in reader.pages:
                contents = page.get_contents()
                if contents is not None:  # decoded here first: extract_text would hide a limit reached
                    contents.get_data()
                text = page.extract_text() or ""
                texts.append(text.replace("\r\n", "\n").replace("\r", "\n").strip("\n"))
                chars += len(texts[-1])
                if chars > budget.max_doc_chars:
                    raise budget.over(path.name, f"{chars:,} characters of text or more", "max_doc_chars")
        except UnreadableDocument:
            raise
        except _LIMIT_ERRORS as e:
            raise _pypdf_limit(path, e) from e
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


def pdf_text(path: Path, budget: DocumentBudget | None = None) -> str:
    """The text of a PDF as its blocks' offsets count it (pages joined by "\n")."""
    return join_pages(page_texts(path, budget))[0]


def page_of(offset: int, page_starts: list[int]) -> int:
    """The 1-based number of the page the offset falls on."""
    return max(1, bisect.bisect_right(page_starts, offset))


def read_pdf(path: Path, source: str, budget: DocumentBudget | None = None) -> list[Document]:
    """Read a PDF: a gazette issue or notice by the gazette parser, else as plain paragraphs."""
    text, starts = join_pages(page_texts(path, budget))
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
