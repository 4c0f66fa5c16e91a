"""Filters on a search or a question: which documents may answer it (shared/API.md, `"filters"`).

    {"doc_ids": ["…"], "issuer": "substring", "date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD",
     "source_prefix": "folder/"}

Every given key must hold. A filter is applied *before* ranking: the retriever scores only the chunks
it allows, so a filter that leaves one small document still returns that document's best passages
(post-filtering a global top 50 would return nothing for it).

`SearchFilter` is one small typed record used by every layer: the HTTP schema (unknown keys and
malformed dates are refused there as 422), the `qa search/ask` options, the MCP tools, and the
retriever, which asks `allows(doc, chunk)`. Each condition is on a document field, so a store that
filters on its own side (a Milvus scalar expression) can translate `conditions()` one key at a time.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

from .model import Chunk, Document

__all__ = ["FilterError", "SearchFilter"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPACES = re.compile(r"\s+")


class FilterError(ValueError):
    """A filter that cannot be applied (unknown key, malformed date, empty value); `message` names it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _fold(text: str) -> str:
    # issuers are printed with and without spaces between bodies, in full- or half-width forms
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


class SearchFilter(BaseModel):
    """Which documents may answer: every given (non-null) key must hold."""

    # a misspelt key ("date_after") must be an error, never a filter silently not applied
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "examples": [{"issuer": "人民政府办公室", "date_from": "2021-05-01", "date_to": "2021-06-30"}]})

    doc_ids: list[StrictStr] | None = Field(None, min_length=1, max_length=1000,
                                            description="only these documents (doc_id, see GET /v1/documents)")
    issuer: StrictStr | None = Field(None, min_length=1, max_length=200,
                                     description="the document's issuer contains this (spaces and width ignored)")
    date_from: StrictStr | None = Field(None, pattern=_ISO_DATE.pattern, description=(
        "documents dated on or after this day (YYYY-MM-DD); documents without a date are left out"))
    date_to: StrictStr | None = Field(None, pattern=_ISO_DATE.pattern,
                                      description="documents dated on or before this day (YYYY-MM-DD)")
    source_prefix: StrictStr | None = Field(None, min_length=1, max_length=500,
                                            description="the corpus file's path starts with this, e.g. 'uploads/'")

    @field_validator("date_from", "date_to")
    @classmethod
    def _iso_day(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not _ISO_DATE.match(v):
            raise ValueError(f"{v!r} is not a date written YYYY-MM-DD")
        try:
            dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a day of the calendar") from None
        return v

    @model_validator(mode="after")
    def _ordered(self) -> "SearchFilter":
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")
        return self

    # -- building one ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: Mapping[str, Any] | "SearchFilter" | None) -> "SearchFilter | None":
        """A filter from a JSON object (None or {} → no filter); FilterError names what is wrong."""
        if data is None or isinstance(data, SearchFilter):
            return data if data is None or not data.is_empty() else None
        if not isinstance(data, Mapping):
            raise FilterError("bad_filter", "filters must be a JSON object")
        try:
            f = cls.model_validate(dict(data))
        except ValidationError as e:
            first = e.errors()[0]
            key = ".".join(str(p) for p in first.get("loc", ())) or "filters"
            if first.get("type") == "extra_forbidden":
                raise FilterError("unknown_filter", f"'filters.{key}' is not a filter; use "
                                  f"{', '.join(cls.model_fields)}") from None
            message = cls.error_message(first)
            raise FilterError("bad_filter", f"'filters.{key}': {message}" if key != "filters"
                              else f"filters: {message}") from None
        return None if f.is_empty() else f

    @staticmethod
    def error_message(error: Mapping[str, Any]) -> str:
        """A pydantic error on a filter key, said for a person ('… is not a date written YYYY-MM-DD')."""
        if error.get("type") == "string_pattern_mismatch":
            return f"{error.get('input')!r} is not a date written YYYY-MM-DD"
        return str(error.get("msg", "invalid value")).removeprefix("Value error, ")

    def is_empty(self) -> bool:
        return all(getattr(self, k) is None for k in type(self).model_fields)

    def conditions(self) -> dict[str, Any]:
        """The given keys and their values (what a store translates into its own filter language)."""
        return self.model_dump(exclude_none=True)

    # -- applying it -------------------------------------------------------------------------------

    def allows(self, doc: Document | None, chunk: Chunk | None = None) -> bool:
        """Whether `doc` (and `chunk` of it) may answer. Every condition is on the document today;
        `chunk` is there for conditions on a passage (a page, a section) without changing callers."""
        if doc is None:
            return False
        if chunk is not None and chunk.doc_id != doc.doc_id:
            return False
        if self.doc_ids is not None and doc.doc_id not in self.doc_ids:
            return False
        if self.issuer is not None and (not doc.issuer or _fold(self.issuer) not in _fold(doc.issuer)):
            return False
        if self.date_from is not None or self.date_to is not None:
            day = (doc.date or "")[:10]
            if not _ISO_DATE.match(day):
                return False  # a date range asks for dated documents
            if self.date_from is not None and day < self.date_from:
                return False
            if self.date_to is not None and day > self.date_to:
                return False
        if self.source_prefix is not None and not (doc.source or "").startswith(self.source_prefix):
            return False
        return True

    def allowed_documents(self, documents: Iterable[Document]) -> set[str]:
        """The doc_ids of `documents` this filter allows."""
        return {d.doc_id for d in documents if self.allows(d)}

    def unknown_doc_ids(self, known: Mapping[str, Any]) -> list[str]:
        """Ids in `doc_ids` that name no document of `known` (a typo should be an error, not silence)."""
        return [d for d in self.doc_ids or () if d not in known]
