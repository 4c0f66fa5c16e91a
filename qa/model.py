"""The data every stage passes on: documents read from a source file, their blocks, and chunks.

Data flows one way: a reader turns a file into `Document`s made of `Block`s (paragraphs, headings,
table rows, each with its section path and character offsets into the source file); the chunker turns
blocks into `Chunk`s, which are what the index stores and what a citation points at.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "table_row", "front_matter"]


@dataclass
class Block:
    """One unit of a document in reading order, as a reader recovered it.

    `text` is the repaired text (page-break joins undone, a table row rendered as "列名：值；…").
    `char_start`/`char_end` are offsets into the source file as ingested (Python str indices), spanning
    every source character the block was made from, so `source_text[char_start:char_end]` shows it there.
    """

    text: str
    kind: BlockKind
    section: list[str]
    char_start: int
    char_end: int
    page: int | None = None


@dataclass
class Document:
    """A document with the metadata a citation needs. Fields the source does not give are None."""

    doc_id: str
    title: str
    source: str  # file name (relative to the corpus folder)
    doc_number: str | None = None  # 文号, e.g. 青政办发〔2021〕14号
    issuer: str | None = None
    date: str | None = None  # ISO 8601, e.g. 2021-05-12 (the date the document was signed, 成文日期)
    published: str | None = None  # ISO 8601 publication date, where the source gives one apart (web pages)
    addressees: str | None = None
    category: str | None = None  # e.g. 市委文件 / 政府文件 / 前言, where the source groups documents
    blocks: list[Block] = field(default_factory=list)

    def metadata(self) -> dict:
        """The document's metadata without its blocks (what /v1/documents lists)."""
        d = asdict(self)
        d.pop("blocks")
        return d


@dataclass
class Chunk:
    """What the index stores and retrieval returns: a passage of one document with its citation data.

    `text` is returned to users; `context` (document title and section path) is only added to what
    is indexed, so that a passage is found by the heading it sits under.
    """

    chunk_id: int
    doc_id: str
    text: str
    section: list[str]
    char_start: int
    char_end: int
    kind: BlockKind = "paragraph"
    page: int | None = None
    context: str = ""

    @property
    def section_path(self) -> str | None:
        return " > ".join(self.section) if self.section else None
