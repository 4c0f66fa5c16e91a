"""The HTTP contract against a real uvicorn server on the shipped corpus (shared/API.md)."""
from __future__ import annotations

import httpx
import pytest

DOC_NUMBERS = {"青党发〔2021〕16号", "青党办〔2021〕46号", "青党办〔2021〕30号", "青政发〔2021〕23号",
               "青政办发〔2021〕10号", "青政办发〔2021〕14号", "青政办发〔2021〕18号"}


@pytest.fixture(scope="module")
def client(server_url):
    with httpx.Client(base_url=server_url, timeout=30) as c:
        yield c


def test_healthz(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["documents"] == 8 and body["chunks"] > 300
    assert body["index_version"]


def test_documents_list_metadata(client):
    docs = client.get("/v1/documents").json()["documents"]
    assert {d["doc_number"] for d in docs if d["doc_number"]} == DOC_NUMBERS
    by_number = {d["doc_number"]: d for d in docs}
    assert by_number["青政办发〔2021〕14号"]["date"] == "2021-05-12"
    assert by_number["青党发〔2021〕16号"]["issuer"] == "中共青铜峡市委员会 青铜峡市人民政府"


def test_search_returns_cited_passages(client, gazette_path):
    r = client.post("/v1/search", json={"query": "防止返贫动态监测帮扶机制由哪个部门牵头？", "top_k": 5})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == 5 and body["took_ms"] >= 0
    top = body["results"][0]
    assert top["rank"] == 1 and "防止返贫动态监测" in top["text"]
    c = top["citation"]
    assert c["doc_number"] == "青党发〔2021〕16号"
    assert c["doc_title"] == "关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案"
    assert c["date"] == "2021-06-11" and c["issuer"]
    assert c["section"].startswith("二、主要任务 > （一）")
    assert c["source"] == gazette_path.name
    # offsets point at the passage in the source file
    source = gazette_path.read_text(encoding="utf-8")
    assert "".join(source[c["char_start"]:c["char_end"]].split()).startswith("".join(top["text"].split())[:15])


def test_every_document_with_a_doc_number_is_cited_with_it(client):
    docs = client.get("/v1/documents").json()["documents"]
    for d in docs:
        if not d["doc_number"]:
            continue
        r = client.post("/v1/search", json={"query": d["title"], "top_k": 10, "doc": d["doc_id"]}).json()
        assert r["results"], d["title"]
        for hit in r["results"]:
            assert hit["citation"]["doc_id"] == d["doc_id"]
            assert hit["citation"]["doc_number"] == d["doc_number"]
            assert hit["citation"]["doc_title"] == d["title"]


def test_ask_answers_with_citations(client):
    r = client.post("/v1/ask", json={"question": "防止返贫动态监测帮扶机制由哪个部门牵头？"})
    assert r.status_code == 200
    body = r.json()
    assert body["answer_type"] == "lead_unit"
    assert "乡村振兴局" in body["answer"] and "市乡村振兴局" in body["lead_units"]
    assert body["citations"] and 0 <= body["confidence"] <= 1
    assert body["answer"] in body["citations"][0]["text"]


@pytest.mark.parametrize("path,payload,status,code", [
    ("/v1/search", {"query": ""}, 422, "empty_query"),
    ("/v1/search", {"query": "   "}, 422, "empty_query"),
    ("/v1/search", {"query": "水" * 10_000}, 422, "query_too_long"),
    ("/v1/search", {"query": 123}, 422, "invalid_request"),
    ("/v1/search", {"query": ["污水"]}, 422, "invalid_request"),
    ("/v1/search", {"query": "污水", "top_k": "5"}, 422, "invalid_request"),
    ("/v1/search", {"query": "污水", "top_k": 0}, 422, "bad_top_k"),
    ("/v1/search", {"query": "污水", "top_k": 1000}, 422, "bad_top_k"),
    ("/v1/search", {"query": "污水", "top_k": 2.5}, 422, "invalid_request"),
    ("/v1/search", {"query": "污水", "doc": "no-such-doc"}, 404, "unknown_document"),
    ("/v1/search", {}, 422, "missing_field"),
    ("/v1/search", [], 422, "invalid_request"),
    ("/v1/ask", {"question": ""}, 422, "empty_query"),
    ("/v1/ask", {"question": "问" * 10_000}, 422, "query_too_long"),
    ("/v1/ask", {"question": None}, 422, "invalid_request"),
    ("/v1/ask", {"question": "谁牵头", "top_k": 51}, 422, "bad_top_k"),
    ("/v1/search", {"query": "污水", "topk": 3}, 422, "unknown_field"),
    ("/v1/ask", {"question": "谁牵头", "k": 3}, 422, "unknown_field"),
])
def test_bad_input_gets_a_json_4xx(client, path, payload, status, code):
    r = client.post(path, json=payload)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]


def test_bad_json_and_unknown_routes_are_json_errors(client):
    r = client.post("/v1/search", content=b'{"query": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/search")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = client.post("/v1/search", content=b"x" * 200_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_openapi_page_is_served(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/v1/search", "/v1/ask", "/healthz", "/v1/documents"} <= set(spec["paths"])


def test_document_text_locates_every_chunk(client):
    docs = client.get("/v1/documents").json()["documents"]
    doc = next(d for d in docs if d["doc_number"] == "青政办发〔2021〕14号")
    body = client.get(f"/v1/documents/{doc['doc_id']}").json()
    assert body["title"] == doc["title"] and body["date"] == "2021-05-12"
    assert body["chunks"] and body["text"]
    search = client.post("/v1/search", json={"query": "义务教育", "top_k": 3, "doc": doc["doc_id"]}).json()
    for hit in search["results"]:
        c = hit["citation"]
        span = body["text"][c["char_start"] - body["text_start"]:c["char_end"] - body["text_start"]]
        assert "".join(span.split())[:12] == "".join(hit["text"].split())[:12]
    assert client.get("/v1/documents/no-such-doc").json()["error"]["code"] == "not_found"
