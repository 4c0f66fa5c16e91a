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
    match: Literal["article", "document"] | None = Field(
        None, description="'article': the passage holds the article the question names by number (looked up, "
                          "ranked first); 'document': the document's own header, cited for a 文号/issuer/date answer")


_VERSION = "the index build that answered (GET /healthz names the serving one)"


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    results: list[SearchHit]
    index_version: str | None = Field(None, description=_VERSION)


# --- tasks and units (GET /v1/tasks, GET /v1/units; task_list answers of /v1/ask) ----------------------


class TaskCitation(BaseModel):
    rank: int
    text: str = Field(description="the passage the task is printed in, as /v1/search returns it")
    citation: Citation
    chunk_id: int
    kind: Literal["item", "lines", "row", "prose"] = Field(
        description="item: a body item closed by a unit marking; lines: an item with 牵头单位/责任单位 lines; "
                    "row: a row of an annex task table; prose: responsibility stated in a sentence (由X负责)")


class TaskOut(BaseModel):
    task_id: str = Field(description="stable id of the task (its document and where it is printed)")
    title: str = Field(description="short name of the task as printed, e.g. 实施滩区治理工程")
    text: str = Field(description="the task's passage as it reads in the source")
    lead_units: list[str] = Field(description="units the text says lead it (牵头), one spelling per unit")
    supporting_units: list[str] = Field(description="units named as 责任/配合 units (or 'X负责') that do not lead it")
    deadline: str | None = Field(description="完成时限 where the document gives one")
    role: Literal["lead", "support"] | None = Field(None, description="the asked unit's role in this task; "
                                                    "null when no unit was asked")
    doc_id: str
    doc_title: str | None
    doc_number: str | None
    section: str | None
    citations: list[TaskCitation] = Field(description="every place the task is printed (a body item and the "
                                          "rows of an annex that repeat it)")


class UnitRef(BaseModel):
    name: str = Field(description="the unit's fullest spelling in the documents")
    aliases: list[str] = Field(description="the other spellings of the same unit found in the documents")


class TasksResponse(BaseModel):
    unit: UnitRef | None = Field(description="the unit asked for; null when none was")
    role: Literal["lead", "support", "any"]
    total: int = Field(description="tasks matching, before paging")
    limit: int
    offset: int
    tasks: list[TaskOut]
    took_ms: float


class UnitInfo(UnitRef):
    lead: int = Field(description="tasks it leads")
    support: int = Field(description="tasks it takes part in without leading them")


class UnitsResponse(BaseModel):
    units: list[UnitInfo]


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
    tasks: list[TaskOut] | None = Field(None, description="answer_type task_list: the tasks of the unit asked "
                                        "about, as GET /v1/tasks returns them")


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
                       took_ms=round(result.took_ms, 2), index_version=result.index_version,
                       tasks=[TaskOut(**t) for t in result.tasks] if result.tasks is not None else None)
