"""Per-document budgets and rate limiting, with real bombs made in the test and a real server.

- a zip-bomb .docx (3 million paragraphs, ~740 KB → 207 MB), a .docx of 150k distinct paragraphs,
  a PDF page tree of a million pages, a PDF stream inflating to 400 MB, a PDF listing 600k objects,
  a .md of one 50 MB line, an HTML page of 100,000 nested <div>s: each refused by name and limit, in seconds
- `qa index` on a folder holding the zip bomb and the nested page names both and indexes the other file
- over HTTP: 413 JSON naming the limit within 5 s, the server's RSS grows < 200 MiB, index unchanged
- QA_RATE_LIMIT=20/second: a burst from 127.0.0.1 to /v1/ask gets 429 + Retry-After, 127.0.0.2 is served
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from qa.readers import DocumentBudget, DocumentTooLarge, read_file
from tests import bombs
from tests.conftest import ROOT, running_server

KEY = "budget-key-5c1d"


@pytest.fixture(scope="module")
def bomb_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bombs")
    bombs.docx_bomb(d / "bomb.docx")
    bombs.docx_many_paragraphs(d / "many.docx", 150_000)
    bombs.pdf_page_tree_bomb(d / "tree.pdf")
    bombs.pdf_stream_bomb(d / "stream.pdf")
    bombs.pdf_many_objects(d / "objects.pdf", 600_000)
    bombs.one_line_markdown(d / "line.md", 50)
    bombs.nested_html(d / "nested.html")
    return d


@pytest.mark.parametrize("name, limit", [
    ("bomb.docx", "QA_MAX_DOC_INFLATED_BYTES"), ("many.docx", "QA_MAX_DOC_PARAGRAPHS"),
    ("tree.pdf", "QA_MAX_PDF_PAGES"), ("stream.pdf", "QA_MAX_DOC_INFLATED_BYTES"),
    ("objects.pdf", "QA_MAX_PDF_OBJECTS"), ("line.md", "QA_MAX_LINE_CHARS"), ("nested.html", "QA_MAX_HTML_DEPTH"),
])
def test_each_bomb_is_refused_by_name_and_limit_within_seconds(bomb_dir, name, limit):
    t0 = time.monotonic()
    with pytest.raises(DocumentTooLarge) as e:
        read_file(bomb_dir / name, name, DocumentBudget())
    assert time.monotonic() - t0 < 5
    assert name in str(e.value) and limit in str(e.value)


def test_the_streamed_docx_body_is_counted_when_the_zip_looks_harmless(bomb_dir):
    """With the size and ratio limits lifted, counting paragraphs while streaming still stops it."""
    budget = DocumentBudget(max_doc_inflated_bytes=10**10, max_zip_ratio=10**6)
    with pytest.raises(DocumentTooLarge, match="QA_MAX_DOC_PARAGRAPHS"):
        read_file(bomb_dir / "bomb.docx", "bomb.docx", budget)


def test_the_shipped_corpus_and_the_laws_sample_fit_the_default_budget():
    laws = sorted((ROOT.parent / "shared" / "corpora" / "laws-sample").rglob("*.md"))[:40]
    pages = sorted((ROOT.parent / "shared" / "corpora" / "govcn-html-sample").rglob("*.htm*"))[:10]
    for path in [ROOT / "corpus" / "qingtongxia-gazette-2021-02.txt", *laws, *pages]:
        assert read_file(path, path.name, DocumentBudget())


@pytest.fixture(scope="module")
def server(tmp_path_factory, built_settings):
    root = tmp_path_factory.mktemp("budget-server")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    env = {"QA_INDEX_DIR": str(root / "index"), "QA_CORPUS_DIR": str(root / "corpus"), "QA_API_KEY": KEY,
           "QA_RATE_LIMIT": "20/second"}
    with running_server(env) as url:
        port = int(url.rsplit(":", 1)[1])
        proc = next(p for p in psutil.Process().children(recursive=True) if str(port) in " ".join(p.cmdline()))
        yield url, root, proc


@pytest.mark.parametrize("name", ["bomb.docx", "many.docx", "tree.pdf", "stream.pdf", "nested.html"])
def test_uploaded_bombs_get_413_quickly_without_memory_growth(server, bomb_dir, name):
    url, root, proc = server
    before = httpx.get(url + "/healthz").json()["documents"]
    rss0 = proc.memory_info().rss
    t0 = time.monotonic()
    r = httpx.post(url + "/v1/documents", files={"file": (name, (bomb_dir / name).read_bytes())},
                   headers={"X-API-Key": KEY}, timeout=60)
    assert time.monotonic() - t0 < 5
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "document_too_large" and "QA_MAX_" in r.json()["error"]["message"]
    assert (proc.memory_info().rss - rss0) < 200 * 2**20
    assert httpx.get(url + "/healthz").json()["documents"] == before
    assert not (root / "corpus" / "uploads" / name).exists()


def test_a_burst_over_the_rate_gets_429_while_another_address_is_served(server):
    url = server[0]
    body = {"question": "防止返贫动态监测帮扶机制由哪个部门牵头？"}
    with httpx.Client(timeout=60) as client:
        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda _: client.post(url + "/v1/ask", json=body), range(200)))
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=60) as other:
        served = other.post(url + "/v1/ask", json=body)
    codes = [r.status_code for r in replies]
    assert set(codes) <= {200, 429} and codes.count(429) >= 100 and codes.count(200) >= 1
    limited = next(r for r in replies if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "too_many_requests"
    assert served.status_code == 200 and served.json()["answer"]


def test_qa_index_on_a_folder_with_bombs_indexes_the_other_files(tmp_path, bomb_dir):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("bomb.docx", "nested.html"):
        shutil.copy(bomb_dir / name, folder / name)
    (folder / "供水管理办法.md").write_text(
        "# 青铜峡市农村供水管理办法\n\n第一条 农村自来水管网的日常巡检由市水务局负责。\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--corpus", str(folder), "--index",
                          str(tmp_path / "index"), "-q"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "QA_OMP_THREADS": "1"})
    assert run.returncode == 0, run.stderr
    out = run.stdout + run.stderr
    assert "indexed 1 documents" in out and "skipped 2 file(s)" in out
    assert "bomb.docx" in out and "QA_MAX_DOC_INFLATED_BYTES" in out
    assert "nested.html" in out and "QA_MAX_HTML_DEPTH" in out
