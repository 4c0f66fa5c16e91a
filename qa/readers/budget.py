"""What one document may cost to read: limits checked while a file is read, not after.

A hostile or broken file must not take minutes or gigabytes: a .docx whose `word/document.xml`
inflates to hundreds of megabytes, a PDF with a page tree of a million pages, a Markdown file of one
50 MB line, an HTML page of tags nested thousands deep. Every reader gets a `DocumentBudget` and
stops as soon as a limit is passed, raising `DocumentTooLarge` (an `UnreadableDocument`, so the
indexer reports the file by name and goes on; the upload endpoint answers 413). The message names
the file, what was counted, the limit and the setting that raises it.

The defaults leave room far beyond real government documents (the shipped gazette issue has 0.2
million characters, the longest law of the laws sample 21 thousand, its longest line 1.7 thousand)
while bounding what a single file can cost: about two million characters is a few minutes of
embedding on a small machine. Each limit is a setting (`QA_MAX_DOC_CHARS`, …, see README).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, fields
from pathlib import Path

from . import UnreadableDocument

MiB = 1024 * 1024

# A zip entry smaller than this may compress as well as it likes: a tiny styles.xml at 200:1 costs
# nothing. Above it, the ratio limit applies (a zip bomb is a large entry that compresses absurdly).
RATIO_FLOOR_BYTES = 1 * MiB


class DocumentTooLarge(UnreadableDocument):
    """A file over one of the limits of its `DocumentBudget`.

    `limit` is the setting's name (e.g. "QA_MAX_DOC_CHARS"), `maximum` its value, `what` what was
    found when reading stopped, `file` the file's name.
    """

    def __init__(self, file: str, what: str, maximum: float | None, limit: str) -> None:
        self.file, self.what, self.maximum, self.limit = file, what, maximum, limit
        if maximum is None:  # a limit of a library (pypdf's), not one of ours
            super().__init__(f"{file}: refused: {what} ({limit})")
            return
        shown = f"{maximum:,}" if isinstance(maximum, int) else f"{maximum:g}"
        super().__init__(f"{file}: refused: {what}, over the limit of {shown} ({limit})")


@dataclass(frozen=True)
class DocumentBudget:
    """Limits for reading one file. Field names match the settings (`QA_` + upper case)."""

    max_doc_bytes: int = 64 * MiB  # the file as stored (before any decompression)
    max_doc_inflated_bytes: int = 100 * MiB  # a .docx's zip entries together; each PDF stream
    max_zip_ratio: float = 100.0  # inflated ÷ compressed, for zip entries over 1 MiB
    max_doc_chars: int = 2_000_000  # characters of text
    max_doc_paragraphs: int = 100_000
    max_doc_table_cells: int = 200_000
    max_xml_elements: int = 4_000_000  # elements of a .docx body (runs, properties, …)
    max_line_chars: int = 200_000  # one line of a .txt / .md file
    max_pdf_pages: int = 5_000
    max_pdf_objects: int = 500_000
    max_html_depth: int = 200  # nesting of HTML tags

    @classmethod
    def from_settings(cls, settings: object) -> "DocumentBudget":
        """The budget of a `qa.settings.Settings` (fields of the same names)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)})

    @staticmethod
    def setting(name: str) -> str:
        return f"QA_{name.upper()}"

    # -- checks (each raises DocumentTooLarge naming the setting) --------------------------------

    def over(self, file: str, what: str, name: str) -> DocumentTooLarge:
        """The error for `file`, where `what` says what was found ("3,000,001 paragraphs or more")."""
        return DocumentTooLarge(file, what, getattr(self, name), self.setting(name))

    def check_file_size(self, path: Path) -> int:
        size = path.stat().st_size
        if size > self.max_doc_bytes:
            raise self.over(path.name, f"the file has {size:,} bytes", "max_doc_bytes")
        return size


class BoundedReader(io.RawIOBase):
    """A binary stream that refuses to deliver more than `limit` bytes: decompressed data is
    counted as it is produced, whatever size the container declared."""

    def __init__(self, raw, limit: int, on_over) -> None:
        self._raw, self._limit, self._on_over, self.count = raw, limit, on_over, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = self._limit + 1 - self.count if size is None or size < 0 else min(size, self._limit + 1 - self.count)
        data = self._raw.read(max(want, 1))
        self.count += len(data)
        if self.count > self._limit:
            raise self._on_over(self.count)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_text_bounded(path: Path, budget: DocumentBudget) -> str:
    """A UTF-8 text file read line by line, stopping at the first line or the first character over
    the budget (what `path.read_text(encoding="utf-8")` returns, newlines translated the same way)."""
    budget.check_file_size(path)
    parts: list[str] = []
    total = 0
    with open(path, encoding="utf-8") as fh:
        while True:
            line = fh.readline(budget.max_line_chars + 1)
            if not line:
                break
            length = len(line) - line.endswith("\n")
            if length > budget.max_line_chars:
                raise budget.over(path.name, f"a line of {length:,} characters or more", "max_line_chars")
            total += len(line)
            if total > budget.max_doc_chars:
                raise budget.over(path.name, f"{total:,} characters of text or more", "max_doc_chars")
            parts.append(line)
    return "".join(parts)
