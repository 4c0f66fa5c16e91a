"""Milvus filter expressions from the service's search filters, and the BM25 weights both sides of a
Milvus lexical search use. No pymilvus here: these are plain strings and numbers, testable without a
server and importable by the default install.

Filters are built only from the scalar fields every chunk and window row carries (`doc_id`,
`issuer`, `date` as yyyymmdd, `source`, `kind`), so the same expression scopes the lexical and the
dense searches. User text never reaches the expression unescaped: string literals are quoted with
their quotes and backslashes escaped, and LIKE patterns escape `%` and `_` (Milvus's LIKE treats `_`
as any one character, and a file name such as `laws/a_b.md` must not match `laws/aXb.md`).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

K1 = 1.5  # bm25s's defaults (method "lucene"): the same scores as the files store
B = 0.75
SENTINEL = 2**32 - 2  # a sparse dimension no term gets: a row without terms needs one non-zero weight

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def literal(value: str) -> str:
    """A Milvus string literal: double quotes, with `\\` and `"` escaped."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def like_literal(value: str, prefix: bool = False) -> str:
    """A LIKE pattern matching `value` literally: as a prefix, or anywhere (`%value%`)."""
    escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return literal(escaped + "%" if prefix else "%" + escaped + "%")


def date_number(date: str | None, end: bool = False) -> int:
    """yyyymmdd of an ISO date ("2021-06-11"); a partial date ("2021", "2021-06") is the first day of
    its span, or with `end` the last (…99, which compares after every real day). 0: no date."""
    if not date:
        return 0
    m = _DATE.match(date.strip())
    if not m:
        raise ValueError(f"not a date: {date!r} (use YYYY-MM-DD, YYYY-MM or YYYY)")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (99 if end else 0)
    day = int(m.group(3)) if m.group(3) else (99 if end else 0)
    return year * 10000 + month * 100 + day


def filter_expr(doc_ids: Sequence[str] | None = None, issuer: str | None = None, date_from: str | None = None,
                date_to: str | None = None, source_prefix: str | None = None, kinds: Sequence[str] | None = None,
                ) -> str | None:
    """The scalar filter for a search: every given condition must hold (None: no filter).

    - `doc_ids`: one of these documents;
    - `issuer`: the issuing body's name contains this text;
    - `date_from` / `date_to`: the document's date within [from, to] (ISO dates, inclusive; a
      document without a date never matches a date filter);
    - `source_prefix`: the source file's name (relative to its corpus folder) starts with this;
    - `kinds`: the chunk kind is one of these (paragraph, table_row, heading, front_matter).
    """
    parts: list[str] = []
    if doc_ids is not None:
        ids = list(dict.fromkeys(doc_ids))
        parts.append("doc_id in [" + ", ".join(literal(d) for d in ids) + "]" if ids else "doc_id in []")
    if issuer:
        parts.append("issuer like " + like_literal(issuer))
    if date_from or date_to:
        lo = date_number(date_from) if date_from else 1
        hi = date_number(date_to, end=True) if date_to else 99999999
        if lo > hi:
            raise ValueError(f"date_from {date_from} is after date_to {date_to}")
        parts.append(f"date >= {lo} and date <= {hi}")
    if source_prefix:
        parts.append("source like " + like_literal(source_prefix, prefix=True))
    if kinds:
        parts.append("kind in [" + ", ".join(literal(k) for k in kinds) + "]")
    return " and ".join(f"({p})" for p in parts) if parts else None


def idf(df: int, n: int) -> float:
    """bm25s's "lucene" IDF: log(1 + (N − df + 0.5) / (df + 0.5))."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def doc_weights(tokens: Sequence[str], vocab: dict[str, int], avgdl: float) -> dict[int, float]:
    """A chunk's sparse vector: per term, BM25's saturated term frequency
    tf / (tf + k1·(1 − b + b·dl/avgdl)) — everything of BM25 but the IDF, which the query side
    applies, so a stored chunk needs no re-weighting when other chunks come or go. `vocab` must hold
    every token. A chunk without tokens gets the sentinel dimension (Milvus refuses empty rows)."""
    if not tokens:
        return {SENTINEL: 1.0}
    norm = K1 * (1 - B + B * len(tokens) / avgdl)
    return {vocab[t]: tf / (tf + norm) for t, tf in Counter(tokens).items()}


def query_weights(tokens: Iterable[str], vocab: dict[str, int], idf_of: dict[str, float]) -> dict[int, float]:
    """The query's sparse vector: each known token's IDF, once per occurrence (bm25s sums a repeated
    query token once per occurrence too). Inner product with `doc_weights` is bm25s's score."""
    out: dict[int, float] = {}
    for t in tokens:
        i = vocab.get(t)
        if i is not None:
            out[i] = out.get(i, 0.0) + idf_of.get(t, 0.0)
    return {i: w for i, w in out.items() if w > 0}
