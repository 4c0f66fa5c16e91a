"""Readers turn one source file into `Document`s; `read_file` picks the reader by file suffix.

A reader raises `UnreadableDocument` for a file it cannot make sense of; the indexer reports it by
name and goes on with the rest.
"""
from __future__ import annotations

from pathlib import Path

from ..model import Document


class UnreadableDocument(ValueError):
    """The file is empty, broken or not in a format the reader understands."""


SUPPORTED_SUFFIXES = (".txt",)


def read_file(path: Path, source: str) -> list[Document]:
    """Read `path`; `source` is the name citations show (its path relative to the corpus folder)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        from .gazette import parse_gazette_text

        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise UnreadableDocument(f"{path.name}: not UTF-8 text ({e.reason})") from e
        if not text.strip():
            raise UnreadableDocument(f"{path.name}: the file is empty")
        docs = parse_gazette_text(text, source)
    else:
        raise UnreadableDocument(f"{path.name}: unsupported file type {suffix!r} "
                                 f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if not docs or not any(d.blocks for d in docs):
        raise UnreadableDocument(f"{path.name}: no text found")
    return docs


def source_text(path: Path) -> str | None:
    """The text that offsets of this file's chunks point into (None for binary formats)."""
    if path.suffix.lower() in (".txt", ".md"):
        return path.read_text(encoding="utf-8")
    return None
