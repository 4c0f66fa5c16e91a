"""Turn a document's blocks into paragraph-level chunks of sane size, each knowing its section.

- A paragraph (an item with its unit lines, a table row with its header) is one chunk when it fits.
- A long paragraph is split at sentence ends into pieces of at most `max_chars`; each piece keeps the
  item's first sentence in its `context`, so "…" in the middle of item 14 is still found as item 14.
- Headings open the chunk that follows them (a heading alone answers nothing, but its words matter).
- Short paragraphs are merged with a neighbour of the same section, never across items or tables.
- A table row is one chunk: the reader's "列名：值；…" rendering, then the row as printed.
- A long chunk also has sentence windows (`sentence_windows`), embedded beside it: one sentence that
  answers a question is diluted in the single vector of a 480-character passage.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .model import Block, Chunk, Document

MAX_CHARS = 480
MIN_CHARS = 40
SHORT_CHARS = 120
WINDOW_FROM = 160  # chunks longer than this get sentence windows
WINDOW_CHARS = 120

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")
_FIRST_SENTENCE = re.compile(r"^[^。！？!?\n]{4,80}[。！？!?\n]")


def split_sentences(text: str) -> list[str]:
    """Split after 。！？； and newlines, keeping the delimiters with their sentence."""
    return [s for s in _SENTENCE_END.split(text) if s]


def pack_sentences(sentences: list[str], max_chars: int) -> list[str]:
    """Greedy packing of consecutive sentences into pieces of at most max_chars (a longer sentence is
    cut at commas, and as a last resort hard-cut)."""
    pieces: list[str] = []
    current = ""
    for sentence in _bounded(sentences, max_chars):
        if current and len(current) + len(sentence) > max_chars:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    # a short tail reads better with the piece before it
    if len(pieces) > 1 and len(pieces[-1].strip()) < MIN_CHARS and len(pieces[-2]) + len(pieces[-1]) <= max_chars * 1.25:
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return pieces


def _bounded(sentences: Iterable[str], max_chars: int) -> Iterator[str]:
    for s in sentences:
        if len(s) <= max_chars:
            yield s
            continue
        parts = [p for p in re.split(r"(?<=[，,、])", s) if p]
        buf = ""
        for p in parts:
            while len(p) > max_chars:
                yield p[:max_chars]
                p = p[max_chars:]
            if buf and len(buf) + len(p) > max_chars:
                yield buf
                buf = ""
            buf += p
        if buf:
            yield buf


def _source_span(source: str | None, block: Block, offset: int, length: int) -> tuple[int, int]:
    """Map [offset, offset+length) of block.text to source offsets by aligning non-space characters
    (the repaired text only differs from the source by whitespace); proportional if that fails."""
    if source is None or block.kind == "table_row":
        return block.char_start, block.char_end
    src = source[block.char_start : block.char_end]
    src_idx = [i for i, c in enumerate(src) if not c.isspace()]
    text_nonspace_before = sum(1 for c in block.text[:offset] if not c.isspace())
    text_nonspace_in = sum(1 for c in block.text[offset : offset + length] if not c.isspace())
    if not src_idx or text_nonspace_in == 0:
        return block.char_start, block.char_end
    a = min(text_nonspace_before, len(src_idx) - 1)
    b = min(text_nonspace_before + text_nonspace_in - 1, len(src_idx) - 1)
    return block.char_start + src_idx[a], block.char_start + src_idx[b] + 1


def chunk_document(doc: Document, source: str | None = None, start_id: int = 0,
                   max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Chunks of one document; `source` (the file text) lets split pieces get exact offsets."""
    chunks: list[Chunk] = []
    pending_headings: list[Block] = []

    def emit(text: str, block: Block, start: int, end: int, context: str, kind: str | None = None) -> None:
        chunks.append(Chunk(
            chunk_id=start_id + len(chunks), doc_id=doc.doc_id, text=text, section=list(block.section),
            char_start=start, char_end=end, kind=kind or block.kind, page=block.page, context=context,
        ))

    for block in doc.blocks:
        if not block.text.strip():
            continue
        if block.kind == "heading":
            pending_headings.append(block)
            continue
        heading_text = "\n".join(h.text for h in pending_headings)
        lead = pending_headings[0] if pending_headings else None
        pending_headings = []
        text = block.text
        if block.kind == "table_row":
            if heading_text:
                _emit_headings(emit, doc, lead, heading_text)
            emit(_table_row_text(block, source), block, block.char_start, block.char_end, _context(doc, block))
            continue
        if len(text) + len(heading_text) <= max_chars:
            full = f"{heading_text}\n{text}" if heading_text else text
            start = lead.char_start if lead else block.char_start
            # short paragraphs under the same heading (a notice's 文号, addressees, body and signature;
            # an item and its tail) read better, and are found better, together
            prev = chunks[-1] if chunks else None
            if (prev and not heading_text and prev.kind == block.kind and block.kind == "paragraph"
                    and prev.section == block.section and len(prev.text) + len(full) <= max_chars
                    and min(len(prev.text), len(full)) < SHORT_CHARS):
                prev.text = prev.text + "\n" + full
                prev.char_end = block.char_end
                continue
            emit(full, block, start, block.char_end, _context(doc, block))
            continue
        if heading_text:
            _emit_headings(emit, doc, lead, heading_text)
        first = _FIRST_SENTENCE.match(text)
        offset = 0
        for i, piece in enumerate(pack_sentences(split_sentences(text), max_chars)):
            start, end = _source_span(source, block, offset, len(piece))
            offset += len(piece)
            ctx = _context(doc, block)
            if i > 0 and first:
                ctx = f"{ctx}\n{first.group(0).strip()}"
            emit(piece.strip("\n"), block, start, end, ctx)
    if pending_headings:  # a document that ends on headings: keep their words findable
        _emit_headings(emit, doc, pending_headings[0], "\n".join(h.text for h in pending_headings))
    return chunks


def _table_row_text(block: Block, source: str | None) -> str:
    """A table row reads on its own ("列名：值；…", merged cells carried forward, as the reader made
    it), followed by the row as printed, so a passage also holds the source's own cell sequence."""
    if source is None:
        return block.text
    raw = "\n".join(line for line in source[block.char_start : block.char_end].splitlines() if line.strip())
    return f"{block.text}\n{raw}" if raw else block.text


def indexed_body(chunk: Chunk) -> str:
    """The part of a chunk's text that is indexed: a table row's printed copy (after the first line)
    repeats its values, and counting them twice would favour table rows in BM25."""
    if chunk.kind == "table_row" and "\n" in chunk.text:
        return chunk.text.split("\n", 1)[0]
    return chunk.text


def sentence_windows(chunk: Chunk) -> list[str]:
    """Consecutive sentences of a long chunk's indexed body, packed into pieces of at most
    WINDOW_CHARS; none for a chunk of WINDOW_FROM characters or fewer (its one vector is sharp enough).
    Measured in bench/eval_retrieval.py: 160/120 beat 240/160 and 120/80 on both question sets."""
    body = indexed_body(chunk)
    if len(body) <= WINDOW_FROM:
        return []
    return [piece for piece in pack_sentences(split_sentences(body), WINDOW_CHARS) if piece.strip()]


def _emit_headings(emit, doc: Document, lead: Block, heading_text: str) -> None:
    emit(heading_text, lead, lead.char_start, lead.char_end, _context(doc, lead), kind="heading")


def _context(doc: Document, block: Block) -> str:
    # section labels like "14." carry no words; the titled ones ("（三）着力提升…") do
    words = [s for s in block.section if not re.fullmatch(r"[\s(（]*[\d一二三四五六七八九十]+[.、．)）]?\s*", s)]
    return " > ".join([doc.title, *words])


def chunk_documents(docs: Iterable[Document], sources: dict[str, str] | None = None) -> list[Chunk]:
    chunks: list[Chunk] = []
    for doc in docs:
        src = sources.get(doc.source) if sources else None
        chunks.extend(chunk_document(doc, src, start_id=len(chunks)))
    return chunks
