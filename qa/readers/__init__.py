"""Readers turn one source file into `Document`s; `read_file` picks the reader by file suffix.

  .txt   a gazette issue or notice as plain text (gazette.py)
  .md    laws and generic Markdown (markdown.py)
  .docx  Word documents (docx.py)
  .pdf   PDFs with a text layer (pdf.py)
  .html  saved web pages, also .htm (html.py)

A reader raises `UnreadableDocument` for a file it cannot make sense of; the indexer reports it by
name and goes on with the rest. `source_text` gives, for every format, the text that block offsets
point into (for .docx and .pdf: the plain-text rendering the reader made its blocks from).
"""
from __future__ import annotations

from pathlib import Path

from ..model import Document


class UnreadableDocument(ValueError):
    """The file is empty, broken or not in a format the reader understands."""


SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")


def read_file(path: Path, source: str) -> list[Document]:
    """Read `path`; `source` is the name citations show (its path relative to the corpus folder)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        from .gazette import parse_gazette_text

        text = _utf8_text(path)
        docs = parse_gazette_text(text, source)
    elif suffix == ".md":
        from .markdown import parse_markdown_text

        text = _utf8_text(path)
        docs = [parse_markdown_text(text, source, file_name=path.name)]
    elif suffix == ".docx":
        from .docx import read_docx

        docs = read_docx(path, source)
    elif suffix == ".pdf":
        from .pdf import read_pdf

        docs = read_pdf(path, source)
    elif suffix in (".html", ".htm"):
        from .html import read_html

        docs = read_html(path, source)
    else:
        raise UnreadableDocument(f"{path.name}: unsupported file type {suffix!r} "
                                 f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if not docs or not any(d.blocks for d in docs):
        raise UnreadableDocument(f"{path.name}: no text found")
    return docs


def _utf8_text(path: Path) -> str:
    """The text of a UTF-8 file (as `source_text` returns it); an empty file is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableDocument(f"{path.name}: not UTF-8 text ({e.reason})") from e
    if not text.strip():
        raise UnreadableDocument(f"{path.name}: the file is empty")
    return text


def source_text(path: Path) -> str | None:
    """The text that offsets of this file's chunks point into (None for an unknown format)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return path.read_text(encoding="utf-8")
    if suffix == ".md":
        from .markdown import markdown_text

        return markdown_text(path)
    if suffix == ".docx":
        from .docx import docx_text

        return docx_text(path)
    if suffix == ".pdf":
        from .pdf import pdf_text

        return pdf_text(path)
    if suffix in (".html", ".htm"):
        from .html import html_text

        return html_text(path)
    return None
