"""The HTTP service over both stores (one parametrised fixture): a real uvicorn server per store on a
copy of the session's index — the Milvus one built from that copy into the suite's milvus-lite server
(no re-embedding: the folder's vectors are reused) — answering, listing, scoping by document, and
adding and removing a document while it serves."""
from __future__ import annotations

import shutil
import uuid

import httpx
import pytest

from qa.service import QAService
from qa.settings import Settings
from tests.conftest import CORPUS_DIR, EMBEDDER, running_server

KEY = "stores-key-5d1e"
LAW = """# 青铜峡市测试供水管理办法

2021年7月1日 青铜峡市人民政府公布

第一章 总则

第一条 为了加强农村自来水管护，保障饮水安全，制定本办法。

第二条 农村自来水管网的日常巡检由市水务局负责，各镇人民政府配合。
"""


@pytest.fixture(scope="module", params=["files", "milvus"])
def served(request, tmp_path_factory, built_settings, embedder):
    root = tmp_path_factory.mktemp(f"served-{request.param}")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    env = {"QA_INDEX_DIR": str(root / "index"), "QA_CORPUS_DIR": str(root / "corpus"), "QA_API_KEY": KEY}
    if request.param == "milvus":
        uri = request.getfixturevalue("milvus_uri")
        alias = f"api_{uuid.uuid4().hex[:8]}"
        settings = Settings(corpus_dir=CORPUS_DIR, index_dir=root / "index", embedder=EMBEDDER, store="milvus",
                            milvus_uri=uri, milvus_collection=alias)
        report = QAService(settings, embedder).build(progress=False)
        assert report.embedded == 0  # the files build's vectors, reused
        env.update(QA_STORE="milvus", QA_MILVUS_URI=uri, QA_MILVUS_COLLECTION=alias)
    with running_server(env) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield request.param, client


def test_healthz_names_the_store(served):
    store, client = served
    health = client.get("/healthz").json()
    assert health["store"] == store and health["documents"] == 8 and health["chunks"] > 400


def test_search_and_ask_answer_on_either_store(served):
    _, client = served
    r = client.post("/v1/search", json={"query": "防止返贫动态监测帮扶机制由哪个部门牵头？", "top_k": 3}).json()
    top = r["results"][0]
    assert "防止返贫动态监测" in top["text"] and top["citation"]["doc_number"] == "青党发〔2021〕16号"
    a = client.post("/v1/ask", json={"question": "防止返贫动态监测帮扶机制由哪个部门牵头？"}).json()
    assert a["answer"] == "市乡村振兴局"
    doc = top["citation"]["doc_id"]
    scoped = client.post("/v1/search", json={"query": "污水处理站建设", "top_k": 5, "doc": doc}).json()["results"]
    assert scoped and all(h["citation"]["doc_id"] == doc for h in scoped)
    text = client.get(f"/v1/documents/{doc}").json()
    assert top["text"].replace("\n", "")[:30] in text["text"].replace("\n", "")


def test_filters_restrict_results_on_either_store(served):
    _, client = served
    docs = client.get("/v1/documents").json()["documents"]
    dated = sorted((d for d in docs if d["date"]), key=lambda d: d["date"])
    target = dated[0]
    q = {"query": "工作任务由哪个部门牵头？", "top_k": 10}
    one = client.post("/v1/search", json={**q, "filters": {"doc_ids": [target["doc_id"]]}}).json()["results"]
    assert one and {h["citation"]["doc_id"] for h in one} == {target["doc_id"]}
    later = client.post("/v1/search", json={**q, "filters": {"date_from": dated[-1]["date"]}}).json()["results"]
    assert later and all(h["citation"]["date"] >= dated[-1]["date"] for h in later)
    a = client.post("/v1/ask", json={"question": "防止返贫动态监测帮扶机制由哪个部门牵头？",
                                     "filters": {"doc_ids": [target["doc_id"]]}}).json()
    assert all(c["citation"]["doc_id"] == target["doc_id"] for c in a["citations"])
    bad = client.post("/v1/search", json={**q, "filters": {"date_from": "2021-13-40"}})
    assert bad.status_code == 422


def test_add_then_remove_while_serving(served):
    _, client = served
    before = client.get("/healthz").json()
    r = client.post("/v1/documents", files={"file": ("供水管理办法.md", LAW.encode())}, headers={"X-API-Key": KEY})
    assert r.status_code == 201, r.text
    assert r.json()["documents"] == before["documents"] + 1 and r.json()["embedded"] < 10
    hits = client.post("/v1/search", json={"query": "农村自来水管网的日常巡检由哪个部门负责", "top_k": 3}).json()
    top = hits["results"][0]
    assert "日常巡检由市水务局负责" in top["text"] and top["citation"]["section"] == "第一章 总则 > 第二条"
    doc_id = top["citation"]["doc_id"]
    assert doc_id in {d["doc_id"] for d in client.get("/v1/documents").json()["documents"]}
    r = client.delete(f"/v1/documents/{doc_id}", headers={"X-API-Key": KEY})
    assert r.status_code == 200 and r.json()["documents"] == before["documents"]
    assert client.get(f"/v1/documents/{doc_id}").status_code == 404
    hits = client.post("/v1/search", json={"query": "农村自来水管网的日常巡检由哪个部门负责", "top_k": 5}).json()
    assert all(h["citation"]["doc_id"] != doc_id for h in hits["results"])
    assert client.get("/healthz").json()["chunks"] == before["chunks"]
