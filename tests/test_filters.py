"""Filters on /v1/search and /v1/ask (shared/API.md "filters"), in-process, over a real server and in
the `qa` command: every given key holds on every result, a filter ranks *within* the documents it
allows (a small document's passages come back although none of them is in the global top 50), and
unknown keys, malformed dates and unknown documents are JSON errors, not silently wider searches.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import httpx
import pytest

from qa.contract import MAX_TOP_K
from qa.filters import FilterError, SearchFilter
from qa.model import Document
from qa.service import QueryError
from tests.conftest import ROOT

QUESTION = "污水处理站建设谁牵头？"


def _doc(service, hit):
    return service.index.documents[hit.chunk.doc_id]


def test_a_small_document_outside_the_global_top_50_still_returns_its_best_passages(service):
    everywhere = service.search(QUESTION, MAX_TOP_K).hits
    chunks_per_doc = Counter(c.doc_id for c in service.index.chunks)
    outside = [d for d in chunks_per_doc if d not in {h.chunk.doc_id for h in everywhere}]
    assert outside, "precondition: some document has no passage in the global top 50"
    small = min(outside, key=chunks_per_doc.__getitem__)
    hits = service.search(QUESTION, 10, filters={"doc_ids": [small]}).hits
    assert len(hits) == min(10, chunks_per_doc[small])  # post-filtering the top 50 would give none
    assert {h.chunk.doc_id for h in hits} == {small}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_every_given_key_holds(service):
    docs = list(service.index.documents.values())
    f = {"issuer": "人民政府办公室", "date_from": "2021-05-01", "date_to": "2021-06-30"}
    allowed = {d.doc_id for d in docs if d.issuer and "人民政府办公室" in d.issuer.replace(" ", "")
               and d.date and "2021-05-01" <= d.date <= "2021-06-30"}
    assert allowed and len(allowed) < len(docs)
    hits = service.search(QUESTION, 20, filters=f).hits
    assert hits and {h.chunk.doc_id for h in hits} <= allowed
    answer = service.ask(QUESTION, 5, f)
    assert answer.hits and {h.chunk.doc_id for h in answer.hits} <= allowed
    # a date range leaves out undated documents (the gazette's table of contents has no date)
    assert all(_doc(service, h).date for h in service.search("目录", 10, filters={"date_to": "2030-01-01"}).hits)


def test_source_prefix_and_an_empty_match(service):
    source = next(iter(service.index.documents.values())).source
    assert {_doc(service, h).source for h in service.search(QUESTION, 5, filters={"source_prefix": source[:5]}).hits} \
        == {source}
    assert service.search(QUESTION, 5, filters={"source_prefix": "no-such-folder/"}).hits == []
    assert service.ask(QUESTION, 5, {"source_prefix": "no-such-folder/"}).answer.answer_type == "none"


@pytest.mark.parametrize("bad, code, words", [
    ({"date_after": "2021-01-01"}, "unknown_filter", "date_after"),
    ({"date_from": "2021-5-1"}, "bad_filter", "YYYY-MM-DD"),
    ({"date_to": "2021-02-30"}, "bad_filter", "calendar"),
    ({"date_from": "2021-06-01", "date_to": "2021-01-01"}, "bad_filter", "after"),
    ({"doc_ids": []}, "bad_filter", "doc_ids"),
    ({"issuer": 7}, "bad_filter", "issuer"),
    ({"doc_ids": ["doc-none"]}, "unknown_document", "doc-none"),
])
def test_bad_filters_are_refused_by_name(service, bad, code, words):
    with pytest.raises(QueryError) as e:
        service.search(QUESTION, 5, filters=bad)
    assert e.value.code == code and words in e.value.message


def test_the_record_itself():
    f = SearchFilter.parse({"issuer": "人民 政府", "date_from": "2021-01-01"})
    doc = Document(doc_id="d1", title="t", source="uploads/a.md", issuer="青铜峡市人民政府办公室", date="2021-03-04")
    assert f.allows(doc) and f.conditions() == {"issuer": "人民 政府", "date_from": "2021-01-01"}
    assert not f.allows(Document(doc_id="d2", title="t", source="a.md", issuer="市水务局", date="2021-03-04"))
    assert not f.allows(Document(doc_id="d3", title="t", source="a.md", issuer="青铜峡市人民政府", date=None))
    assert SearchFilter.parse({}) is None and SearchFilter.parse(None) is None
    with pytest.raises(FilterError):
        SearchFilter.parse(["issuer"])


# -- over HTTP ---------------------------------------------------------------------------------------

def test_http_filters_restrict_search_and_ask(server_url):
    docs = httpx.get(server_url + "/v1/documents").json()["documents"]
    dated = sorted(d["date"] for d in docs if d["date"])
    cut = dated[len(dated) // 2]
    body = {"query": QUESTION, "top_k": 10, "filters": {"date_to": cut}}
    r = httpx.post(server_url + "/v1/search", json=body, timeout=30)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results and all(h["citation"]["date"] <= cut for h in results)
    one = min(docs, key=lambda d: d["chunks"])
    r = httpx.post(server_url + "/v1/ask", json={"question": QUESTION, "filters": {"doc_ids": [one["doc_id"]]}},
                   timeout=30)
    assert r.status_code == 200, r.text
    assert {c["citation"]["doc_id"] for c in r.json()["citations"]} == {one["doc_id"]}


@pytest.mark.parametrize("path, field", [("/v1/search", "query"), ("/v1/ask", "question")])
@pytest.mark.parametrize("filters, status, code", [
    ({"title": "x"}, 422, "unknown_filter"),
    ({"date_from": "2021/06/01"}, 422, "bad_filter"),
    ({"date_from": "2021-13-01"}, 422, "bad_filter"),
    ({"doc_ids": "doc-1"}, 422, "bad_filter"),
    ({"doc_ids": ["doc-none"]}, 404, "unknown_document"),
])
def test_http_bad_filters_get_json_errors(server_url, path, field, filters, status, code):
    r = httpx.post(server_url + path, json={field: QUESTION, "filters": filters}, timeout=30)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and "filters" in error["message"]


# -- the command line --------------------------------------------------------------------------------

def _qa(built_settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_OMP_THREADS": "1", "QA_INDEX_DIR": str(built_settings.index_dir)}
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_filters_and_its_json_is_the_http_json(built_settings, server_url):
    run = _qa(built_settings, "search", QUESTION, "-k", "3", "--date-from", "2021-05-01", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["results"] and all(h["citation"]["date"] >= "2021-05-01" for h in out["results"])
    http = httpx.post(server_url + "/v1/search", json={"query": QUESTION, "top_k": 3,
                                                       "filters": {"date_from": "2021-05-01"}}, timeout=30).json()
    for shaped in (out, http):
        shaped.pop("took_ms")
    assert out == http  # one shape, built in one place (qa/contract.py)
    bad = _qa(built_settings, "ask", QUESTION, "--date-to", "2021-6-1")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
