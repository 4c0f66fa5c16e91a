"""Routes of the HTTP contract. Thin: validate (schemas), call the service, shape the response."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool

from qa.contract import ask_response, search_hit, search_response
from qa.retrieval import Hit

from .deps import ServiceDep
from .observability import record_answer
from .schemas import (AskRequest, AskResponse, DocumentChunk, DocumentInfo, DocumentList, DocumentText, ErrorBody,
                      Health, SearchHit, SearchRequest, SearchResponse)

router = APIRouter()

_UNAVAILABLE = {503: {"model": ErrorBody, "description": "the index cannot be loaded (rebuild it with `qa index`)"}}
_ERRORS = {422: {"model": ErrorBody, "description": "invalid request"},
           400: {"model": ErrorBody, "description": "malformed JSON"},
           413: {"model": ErrorBody, "description": "request body over 64 KiB"}, **_UNAVAILABLE}


def hit_to_schema(service, rank: int, hit: Hit, state: tuple | None = None) -> SearchHit:
    """A hit as the contract shapes it (qa/contract.py); kept under this name for api/chat.py."""
    return search_hit(service, rank, hit, state)


@router.post("/v1/search", response_model=SearchResponse, responses={**_ERRORS, 404: {"model": ErrorBody}},
             tags=["retrieval"], summary="Most relevant passages with citations")
async def search(body: SearchRequest, service: ServiceDep) -> SearchResponse:
    # the embedder and BM25 are CPU work: keep the event loop free for other requests
    result = await run_in_threadpool(service.search, body.query, body.top_k, body.doc, body.filters)
    return search_response(service, result)


@router.post("/v1/ask", response_model=AskResponse, responses={**_ERRORS, 404: {"model": ErrorBody}}, tags=["answers"],
             summary="A short extractive answer with its citations, or answer_type 'none'")
async def ask(body: AskRequest, service: ServiceDep, request: Request) -> AskResponse:
    result = await run_in_threadpool(service.ask, body.question, body.top_k, body.filters)
    record_answer(request, "/v1/ask", result.answer.answer_type)
    return ask_response(service, result)


@router.get("/healthz", response_model=Health, responses=_UNAVAILABLE, tags=["service"])
async def healthz(service: ServiceDep) -> Health:
    index = service.index
    return Health(status="ok", documents=len(index.documents), chunks=len(index.chunks),
                  index_version=index.version, embedder=index.manifest.embedder, store=index.store)


@router.get("/v1/documents", response_model=DocumentList, responses=_UNAVAILABLE, tags=["documents"])
async def documents(service: ServiceDep) -> DocumentList:
    index = service.index
    counts: dict[str, int] = {}
    for c in index.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    return DocumentList(documents=[
        DocumentInfo(**{k: v for k, v in d.metadata().items() if k in DocumentInfo.model_fields},
                     chunks=counts.get(d.doc_id, 0))
        for d in index.documents.values()
    ])


@router.get("/v1/documents/{doc_id}", response_model=DocumentText,
            responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}, **_UNAVAILABLE},
            tags=["documents"], summary="A document's metadata and text, with its chunks' offsets")
async def document(doc_id: Annotated[str, Path(max_length=200)], service: ServiceDep) -> DocumentText:
    index = service.index
    doc = index.documents.get(doc_id)
    if doc is None:
        raise HTTPException(404, f"no document with doc_id {doc_id!r}; see GET /v1/documents")
    text = await run_in_threadpool(index.document_text, doc_id) or {"text_start": 0, "text": ""}
    chunks = [DocumentChunk(chunk_id=c.chunk_id, char_start=c.char_start, char_end=c.char_end,
                            section=c.section_path, kind=c.kind, page=c.page)
              for c in index.chunks if c.doc_id == doc_id]
    meta = {k: v for k, v in doc.metadata().items() if k in DocumentText.model_fields}
    return DocumentText(**meta, chunks=chunks, text=text["text"], text_start=text["text_start"])
