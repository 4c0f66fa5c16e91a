"""Readers turn one source file into `Document`s; `read_file` picks the reader by file suffix.

  .txt   a gazette issue or notice as plain text (gazette.py)
  .md    laws and generic Markdown (markdown.py)
  .docx  Word documents (docx.py)
  .pdf   PDFs with a text layer (pdf.py)
  .html  saved web pages, also .htm (html.py)

A reader raises `UnreadableDocument` for a file it cannot make sense of; the indexer reports it by
name and goes on with the rest; `DocumentTooLarge` (one of them) for a file over its `DocumentBudget`
(budget.py), which every reader checks while it reads. `source_text` gives, for every format, the text that block offsets
point into (for .docx and .pdf: the plain-text rendering the reader made its blocks from).
"""
from __future__ import annotations

from pathlib import Path

from ..model import Document


class UnreadableDocument(ValueError):
    """The file is empty, broken or not in a format the reader understands."""


from .budget import DocumentBudget, DocumentTooLarge  # noqa: E402  (budget.py needs UnreadableDocument)

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")


def default_budget() -> DocumentBudget:
    """The budget of the configured settings (QA_MAX_DOC_CHARS, …)."""
    from ..settings import get_settings

    return DocumentBudget.from_settings(get_settings())


def read_file(path: Path, source: str, budget: DocumentBudget | None = None) -> list[Document]:
    """Read `path`; `source` is the name citations show (its path relative to the corpus folder).
    Raises DocumentTooLarge as soon as the file passes a limit of `budget` (default: the settings')."""
    budget = budget or default_budget()
    suffix = path.suffix.lower()
    if suffix == ".txt":
        from .gazette import parse_gazette_text

        text = _utf8_text(path, budget)
        docs = parse_gazette_text(text, source)
    elif suffix == ".md":
        from .markdown import parse_markdown_text

        text = _utf8_text(path, budget)
        docs = [parse_markdown_text(text, source, file_name=path.name)]
    elif suffix == ".docx":
        from .docx import read_docx

        docs = read_docx(path, source, budget)
    elif suffix == ".pdf":
        from .pdf import read_pdf

        docs = read_pdf(path, source, budget)
    elif suffix in (".html", ".htm"):
        from .html import read_html

        budget.check_file_size(path)
        docs = read_html(path, source, budget)  # tag nesting counted before anything walks the tree
    else:
        raise UnreadableDocument(f"{path.name}: unsupported file type {suffix!r} "
                                 f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if not docs or not any(d.blocks for d in docs):
        raise UnreadableDocument(f"{path.name}: no text found")
    return docs


def _utf8_text(path: Path, budget: DocumentBudget) -> str:
    """The text of a UTF-8 file (as `source_text` returns it); an empty file is unreadable."""
    from .budget import read_text_bounded

    try:
        text = read_text_bounded(path, budget)
    except UnicodeDecodeError as e:
        raise UnreadableDocument(f"{path.name}: not UTF-8 text ({e.reason})") from e
    if not text.strip():
        raise UnreadableDocument(f"{path.name}: the file is empty")
    return text


def source_text(path: Path, budget: DocumentBudget | None = None) -> str | None:
    """The text that offsets of this file's chunks point into (None for an unknown format)."""
    from .budget import read_text_bounded

    budget = budget or default_budget()
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):  # markdown_text is the file's text too
        return read_text_bounded(path, budget)
    if suffix == ".docx":
        from .docx import docx_text

        return docx_text(path, budget)
    if suffix == ".pdf":
        from .pdf import pdf_text

        return pdf_text(path, budget)
    if suffix in (".html", ".htm"):
        from .html import html_text

        return html_text(path)
    return None
