"""The shapes of the service's answers and their limits, in one place (shared/API.md).

`/v1/search` and `/v1/ask` (api/), `qa search/ask --json` (qa/cli.py) and the MCP tools
(qa/mcp_server.py) all build their JSON here, from the same typed models, so they cannot drift
apart; the HTTP layer re-exports the models for its OpenAPI document. `MAX_TOP_K` and
`MAX_QUERY_CHARS` are the one definition of those limits (settings, request schemas, error messages
and CLI options read them from here).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # the service imports nothing from here at run time the other way round
    from .retrieval import Hit
    from .service import AskResult, QAService, SearchResult

MAX_TOP_K = 50  # passages per /v1/search and citations per /v1/ask
MAX_QUERY_CHARS = 512  # longest query or question
DEFAULT_TOP_K = 5

AnswerType = Literal["lead_unit", "number", "date", "document", "person", "task_list", "passage", "none"]


class Citation(BaseModel):
    doc_id: str
    doc_title: str | None
    doc_number: str | None = Field(description="文号, null where the document has none")
    issuer: str | None
    date: str | None = Field(description="ISO date of the document")
    section: str | None = Field(description="section path, e.g. 二、主要任务 > （三）… > 14.")
    page: int | None
    source: str | None = Field(description="corpus file the passage comes from")
    char_start: int
    char_end: int
    version: str | None = Field(None, description="for one of several versions of a law: its version "
                                "(the title's note, e.g. 2012修正, else its date); null otherwise")
    latest_version: bool | None = Field(None, description="whether this is the newest indexed version of the law; "
                                        "null when the index holds one version")


class SearchHit(BaseModel):
    rank: int
    score: float
    text: str
    citation: Citation
    chunk_id: int
    lexical_score: float
    dense_score: float
    match: Literal["article"] | None = Field(None, description="'article': the passage holds the article the "
                                             "question names by number (looked up, ranked first)")


_VERSION = "the index build that answered (GET /healthz names the serving one)"


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    results: list[SearchHit]
    index_version: str | None = Field(None, description=_VERSION)


class AskResponse(BaseModel):
    question: str
    answer: str | None
    answer_type: AnswerType
    lead_units: list[str]
    supporting_units: list[str]
    confidence: float
    citations: list[SearchHit]
    took_ms: float
    index_version: str | None = Field(None, description=_VERSION)


def search_hit(service: "QAService", rank: int, hit: "Hit", state: tuple | None = None) -> SearchHit:
    """One hit; `state` is the (index, retriever) it was found with (a result's), for its citation."""
    return SearchHit(rank=rank, score=round(hit.score, 4), text=hit.chunk.text,
                     citation=Citation(**service.citation(hit.chunk, state)), chunk_id=hit.chunk.chunk_id,
                     lexical_score=round(hit.lexical, 4), dense_score=round(hit.dense, 4), match=hit.match)


def search_hits(service: "QAService", hits: list["Hit"], state: tuple | None = None) -> list[SearchHit]:
    return [search_hit(service, i, h, state) for i, h in enumerate(hits, 1)]


def search_response(service: "QAService", result: "SearchResult") -> SearchResponse:
    return SearchResponse(query=result.query, took_ms=round(result.took_ms, 2),
                          results=search_hits(service, result.hits, result.state), index_version=result.index_version)


def ask_response(service: "QAService", result: "AskResult") -> AskResponse:
    a = result.answer
    return AskResponse(question=result.question, answer=a.answer, answer_type=a.answer_type,
                       lead_units=a.lead_units, supporting_units=a.supporting_units,
                       confidence=round(a.confidence, 3), citations=search_hits(service, result.hits, result.state),
                       took_ms=round(result.took_ms, 2), index_version=result.index_version)
