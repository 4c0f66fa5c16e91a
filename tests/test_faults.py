"""Faults, hostile input and operations: each test fails without the protection it names.

- kill -9 during `qa index` (while embedding, and while the new build's files are being written):
  the old index still loads and answers, CURRENT never names a .partial build, the next build works
- a damaged index (flipped bytes in vectors.faiss, truncated chunks.jsonl): IndexCorrupt naming the
  file and `qa index`, and `qa serve` exits once with that message, no traceback
- upload names that are paths (URL-encoded, Windows absolute, NUL) are refused; nothing is written
  outside <corpus>/uploads/
- a file that fails to parse is skipped and reported; the build goes on
- body limits, with and without Content-Length: 413 JSON, never 5xx
- CORS off by default, on for the configured origins only
- one log line per request (method, path, status, ms); one summary line per index build
"""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from qa.indexer import build_index
from qa.service import QAService
from qa.settings import Settings
from qa.store import IndexCorrupt, current_build, load_index
from tests.conftest import EMBEDDER, ROOT, _free_port, running_server

KEY = "faults-key-91b2"
MAX_UPLOAD = 100_000
ORIGIN = "http://example.org"
QUESTION = "防止返贫动态监测帮扶机制由哪个部门牵头？"

_CN = "零一二三四五六七八九"
_UNITS = ["市水务局", "市教育局", "市卫生健康局", "市交通运输局", "市住建局", "市民政局", "市财政局", "市农业农村局"]
_TASKS = ["农田水利设施维护", "校舍安全排查", "基层医疗机构建设", "农村公路养护", "老旧小区改造", "特困人员供养",
          "专项资金绩效评价", "高标准农田建设", "地质灾害隐患排查", "防汛物资储备"]


def _cn(n: int) -> str:
    if n < 10:
        return _CN[n]
    if n < 100:
        return (_CN[n // 10] if n >= 20 else "") + "十" + (_CN[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + _CN[rest] if rest < 10 else (_CN[rest // 10] + "十" + (_CN[rest % 10] if rest % 10 else "")))
    return _CN[n // 100] + "百" + tail


def law(articles: int, tag: str) -> str:
    """A Markdown regulation of `articles` distinct articles (every one a chunk to embed)."""
    lines = [f"# 青铜峡市{tag}管理办法\n\n2021年8月1日 青铜峡市人民政府公布\n\n第一章 总则\n"]
    for i in range(1, articles + 1):
        lines.append(f"第{_cn(i)}条 {tag}第{i}项：{_TASKS[(i * 7) % len(_TASKS)]}由{_UNITS[i % len(_UNITS)]}牵头，"
                     f"每年{i % 12 + 1}月底前完成第{i * 3}批次，涉及{i * 17}户、{i * 5}个行政村，资金{i * 11}万元。\n")
    return "\n".join(lines)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "QA_EMBEDDER": EMBEDDER, "OMP_NUM_THREADS": "1", "QA_OMP_THREADS": "1",
            "QA_API_KEY": "", "QA_CORS_ORIGINS": "[]", **extra}


def _answers(index_dir: Path, embedder) -> None:
    """The index in `index_dir` loads (checksums, embedder) and answers the shipped corpus' question."""
    service = QAService(Settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, embedder=EMBEDDER), embedder)
    hits = service.search(QUESTION, 3).hits
    assert "防止返贫动态监测" in hits[0].chunk.text


def _wait_for(predicate, seconds: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.02)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def index_copy(tmp_path, built_settings) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(built_settings.index_dir, copy)
    return copy


# -- kill -9 during a build --------------------------------------------------------------------------

# A build in its own process that stops for good right after vectors.faiss is written into its
# .partial folder (the other files still to come, CURRENT untouched), so kill -9 lands mid-write.
_STALLED_BUILD = """
import sys, time
import numpy as np
import qa.store as store
from qa.indexer import build_index

real_write = store.faiss.write_index
def write_then_stall(index, path):
    real_write(index, path)
    print("WRITING", path, flush=True)
    time.sleep(120)
store.faiss.write_index = write_then_stall

class Fake:
    id, dim = "fake:kill-test", 384
    def embed_passages(self, texts, progress=None):
        return np.random.default_rng(0).standard_normal((len(texts), 384)).astype("float32")

build_index([sys.argv[1]], sys.argv[2], Fake(), progress=False)
"""


def test_kill_9_during_qa_index_leaves_the_old_index_serving(tmp_path, index_copy, embedder):
    before = (index_copy / "CURRENT").read_text(encoding="utf-8")
    corpus = tmp_path / "other-corpus"
    corpus.mkdir()
    (corpus / "law.md").write_text(law(150, "测试"), encoding="utf-8")

    # 1. the real command, killed once its embedding has started (tqdm's bar on stderr)
    log = tmp_path / "index.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", "--corpus", str(corpus), "--index",
                                 str(index_copy)], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
    try:
        _wait_for(lambda: "embedding" in log.read_text(errors="replace"), 120, "the embedding to start", proc)
        time.sleep(0.5)
    finally:
        _kill(proc)
    assert proc.returncode == -signal.SIGKILL
    assert "indexed" not in log.read_text(errors="replace")
    assert (index_copy / "CURRENT").read_text(encoding="utf-8") == before
    _answers(index_copy, embedder)

    # 2. a build killed while the files of its .partial folder are being written
    proc = subprocess.Popen([sys.executable, "-c", _STALLED_BUILD, str(corpus), str(index_copy)], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("WRITING"), "the stalled build never reached its files"
    finally:
        _kill(proc)
    partial = [p for p in (index_copy / "builds").iterdir() if p.name.endswith(".partial")]
    assert len(partial) == 1 and (partial[0] / "vectors.faiss").exists()
    assert not (partial[0] / "manifest.json").exists()
    assert (index_copy / "CURRENT").read_text(encoding="utf-8") == before
    assert not current_build(index_copy).name.endswith(".partial")
    _answers(index_copy, embedder)

    # 3. the next `qa index` succeeds, and logs one summary line
    small = tmp_path / "small-corpus"
    small.mkdir()
    (small / "law.md").write_text(law(12, "复测"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--quiet", "--corpus", str(small), "--index",
                           str(index_copy)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(re.findall(r"qa\.indexer: indexed \d+ documents", done.stderr)) == 1, done.stderr[-2000:]
    assert "indexed 1 documents" in done.stdout
    serving = current_build(index_copy)
    assert serving.name != before.strip() and not serving.name.endswith(".partial")
    index = load_index(index_copy, embedder.id)
    assert [d.title for d in index.documents.values()] == ["青铜峡市复测管理办法"]


# -- damaged index files -----------------------------------------------------------------------------

def _flip_faiss(build: Path) -> str:
    f = build / "vectors.faiss"
    data = bytearray(f.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0xFF
    f.write_bytes(bytes(data))
    return "vectors.faiss"


def _truncate_chunks(build: Path) -> str:
    f = build / "chunks.jsonl"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    return "chunks.jsonl"


@pytest.mark.parametrize("damage", [_flip_faiss, _truncate_chunks], ids=["flipped-faiss", "truncated-chunks"])
def test_a_damaged_index_is_named_with_the_command_to_rebuild(index_copy, embedder, damage):
    name = damage(current_build(index_copy))
    with pytest.raises(IndexCorrupt) as err:
        load_index(index_copy, embedder.id)
    assert name in str(err.value) and "qa index" in str(err.value)
    if name == "chunks.jsonl":  # past the checksums too: the chunk count no longer fits the vectors
        with pytest.raises(IndexCorrupt, match="qa index"):
            load_index(index_copy, embedder.id, verify=False)

    # a server started on it says so once and exits: no traceback, no crash loop
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "qa.cli", "serve", "--index", str(index_copy), "--port",
                           str(_free_port())], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=90)
    assert done.returncode == 1, done.stderr[-2000:]
    assert re.search(rf"error: .*{re.escape(name)}.*qa index", done.stderr), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and time.monotonic() - t0 < 90


# -- a file that fails to parse ----------------------------------------------------------------------

def _broken_files(folder: Path) -> set[str]:
    from docx import Document as Docx
    from reportlab.pdfgen import canvas

    (folder / "garbage.docx").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    buf = io.BytesIO()
    doc = Docx()
    doc.add_paragraph("关于加强农村供水管理的通知" * 20)
    doc.save(buf)
    (folder / "truncated.docx").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with zipfile.ZipFile(folder / "not-word.docx", "w") as z:  # a valid zip that is no Word document
        z.writestr("hello.txt", "hi")
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(3000))
    pdf = io.BytesIO()
    c = canvas.Canvas(pdf)
    c.drawString(72, 720, "Notice 2021 No. 7 water supply")
    c.showPage()
    c.save()
    (folder / "truncated.pdf").write_bytes(pdf.getvalue()[: len(pdf.getvalue()) // 3])
    (folder / "gbk.txt").write_bytes("青铜峡市人民政府关于印发通知".encode("gbk") + b"\xff\xfe\x00")
    (folder / "empty.md").write_bytes(b"")
    (folder / "boom.md").write_text("# 会触发读取器缺陷的文件\n\n正文。\n", encoding="utf-8")
    return {"garbage.docx", "truncated.docx", "not-word.docx", "garbage.pdf", "truncated.pdf", "gbk.txt",
            "empty.md", "boom.md"}


def test_files_that_fail_to_parse_are_skipped_and_reported(tmp_path, embedder, monkeypatch, caplog):
    import qa.indexer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(law(5, "供水"), encoding="utf-8")
    bad = _broken_files(corpus)
    real_read = qa.indexer.read_file

    def read_with_a_bug(path, source):  # a reader bug (not UnreadableDocument) on one file
        if path.name == "boom.md":
            raise RuntimeError("reader bug")
        return real_read(path, source)

    monkeypatch.setattr(qa.indexer, "read_file", read_with_a_bug)
    caplog.set_level(logging.INFO, logger="qa.indexer")
    report = build_index([corpus], tmp_path / "index", embedder, progress=False)
    assert {f for f, _ in report.skipped} == bad
    assert report.documents == 1 and report.files == 1
    summary = report.summary()
    assert all(name in summary for name in bad) and "skipped 8 file(s)" in summary
    summaries = [r.getMessage() for r in caplog.records if r.name == "qa.indexer" and r.getMessage().startswith("indexed")]
    assert len(summaries) == 1 and "skipped 8 file(s)" in summaries[0]
    index = load_index(tmp_path / "index", embedder.id)
    assert [d.title for d in index.documents.values()] == ["青铜峡市供水管理办法"]


# -- a server with writes, CORS and a small upload limit, its stderr kept ------------------------------

@pytest.fixture(scope="module")
def writable(tmp_path_factory, built_settings):
    root = tmp_path_factory.mktemp("faults-server")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    log = root / "server.log"
    env = _env(QA_INDEX_DIR=str(root / "index"), QA_CORPUS_DIR=str(root / "corpus"), QA_API_KEY=KEY,
               QA_MAX_UPLOAD_BYTES=str(MAX_UPLOAD), QA_CORS_ORIGINS=f'["{ORIGIN}"]')
    with running_server(env, qa_serve=True, log=log) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client, root, log


def _upload(client, name, data: bytes, key: str | None = KEY):
    return client.post("/v1/documents", files={"file": (name, data)}, headers={"X-API-Key": key} if key else {})


def _raw_upload(client, raw_name: bytes, data: bytes):
    body = (b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="' + raw_name + b'"\r\n'
            b"Content-Type: text/markdown\r\n\r\n" + data + b"\r\n--bnd--\r\n")
    return client.post("/v1/documents", content=body,
                       headers={"X-API-Key": KEY, "Content-Type": "multipart/form-data; boundary=bnd"})


LAW = law(3, "上传").encode("utf-8")


@pytest.mark.parametrize("name", [
    "..%2F..%2Fevil.md", "%2e%2e%2fevil.md", "%2E%2E%5Cevil.md", "%252e%252e%252fevil.md", "a%2Fb.md",
    "C:\\evil.md", "C:/evil.md", "C:evil.md", "\\\\server\\share\\evil.md", "D:\\uploads\\..\\evil.md",
    "evil\x00.md", "evil.md\x00.txt", "..\x00/evil.md", "evil\n.md",
])
def test_path_like_upload_names_are_refused(writable, name):
    client, root, _ = writable
    r = _upload(client, name, LAW)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text


@pytest.mark.parametrize("raw_name", [b"evil\x00.md", b"C:\\evil.md", b"\\\\server\\share\\evil.md", b"../evil.md",
                                      b"/tmp/evil.md", b"..%2fevil.md"])
def test_path_like_names_in_the_raw_multipart_header_are_refused(writable, raw_name):
    # the multipart parser strips Windows paths (C:\x\a.md → a.md) before the app sees the name
    client, _, _ = writable
    r = _raw_upload(client, raw_name, LAW)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text


def test_nothing_was_written_outside_the_uploads_folder(writable):
    client, root, _ = writable
    # (runs after the refusals above) a plain name is accepted and lands in <corpus>/uploads/ only
    r = _upload(client, "上传管理办法.md", LAW)
    assert r.status_code == 201, r.text
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                     and not p.is_relative_to(root / "index") and p.name != "server.log")
    assert written == ["corpus/uploads/上传管理办法.md"]
    strays = [p for p in list(root.parent.glob("*evil*")) + list(Path("/tmp").glob("evil*")) + list(ROOT.glob("evil*"))]
    assert strays == []


# -- body limits -------------------------------------------------------------------------------------

def _chunks(prefix: bytes, total: int, suffix: bytes = b""):
    def gen():  # a generator body: httpx sends it chunked, without Content-Length
        yield prefix
        sent = 0
        while sent < total:
            yield b"x" * min(16384, total - sent)
            sent += 16384
        yield suffix
    return gen()


def _is_413(r: httpx.Response) -> bool:
    return r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_oversized_bodies_get_413_json(writable):
    client, _, _ = writable
    r = client.post("/v1/search", json={"query": "水" * 10, "pad": "x" * 100_000})
    assert _is_413(r), r.text
    assert _is_413(_upload(client, "big.md", LAW + b"x" * (MAX_UPLOAD + 10)))      # past the limit
    assert _is_413(_upload(client, "big.md", LAW + b"x" * (MAX_UPLOAD + 100_000)))  # past limit + multipart slack
    assert _is_413(_upload(client, "big.md", LAW + b"x" * (MAX_UPLOAD + 100_000), key=None))  # before the key


@pytest.mark.parametrize("path,prefix,total,suffix", [
    ("/v1/search", b'{"query": "', 200_000, b'"}'),
    ("/v1/ask", b'{"question": "', 200_000, b'"}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "', 200_000, b'"}]}'),
    ("/v1/documents", b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="big.md"\r\n\r\n',
     MAX_UPLOAD + 200_000, b"\r\n--bnd--\r\n"),
])
def test_streamed_bodies_without_content_length_are_cut_at_the_limit(writable, path, prefix, total, suffix):
    client, root, _ = writable
    headers = {"Content-Type": "multipart/form-data; boundary=bnd" if path == "/v1/documents" else "application/json",
               "X-API-Key": KEY}
    r = client.post(path, content=_chunks(prefix, total, suffix), headers=headers)
    assert "content-length" not in r.request.headers
    assert _is_413(r), (r.status_code, r.text[:200])
    assert client.get("/healthz").status_code == 200
    assert not (root / "corpus" / "uploads" / "big.md").exists()


# -- CORS ----------------------------------------------------------------------------------------------

def _preflight(client_or_url, path="/v1/search", origin=ORIGIN):
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    if isinstance(client_or_url, str):
        return httpx.options(client_or_url + path, headers=headers)
    return client_or_url.options(path, headers=headers)


def test_cors_is_off_by_default(server_url):
    r = httpx.post(server_url + "/v1/search", json={"query": "污水处理"}, headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    r = _preflight(server_url)
    assert "access-control-allow-origin" not in r.headers and r.status_code >= 400


def test_cors_allows_the_configured_origins_only(writable):
    client, _, _ = writable
    r = client.post("/v1/search", json={"query": "污水处理"}, headers={"Origin": ORIGIN})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    r = _preflight(client)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    r = client.post("/v1/search", json={"query": "污水处理"}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in _preflight(client, origin="http://evil.example").headers


# -- logs ----------------------------------------------------------------------------------------------

_REQUEST_LINE = re.compile(r" INFO api: (GET|POST|DELETE|OPTIONS) (\S+) (\d{3}) (\d+\.\d)ms$")


def _request_lines(log: Path) -> list[tuple[str, str, int]]:
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _REQUEST_LINE.search(line)
        if m:
            out.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def test_one_log_line_per_request_and_one_summary_line_per_build(writable):
    client, _, log = writable
    probe = f"/v1/documents/log-probe-{uuid.uuid4().hex[:8]}"
    before = _request_lines(log)
    builds_before = log.read_text(encoding="utf-8").count("qa.indexer: indexed ")
    assert client.get(probe).status_code == 404
    assert client.post("/v1/search", json={"query": "污水处理站建设谁牵头？", "top_k": 2}).status_code == 200
    assert client.post("/v1/search", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    assert _upload(client, "日志测试办法.md", law(2, "日志").encode()).status_code == 201
    _wait_for(lambda: len(_request_lines(log)) >= len(before) + 4, 10, "the request log lines")
    new = _request_lines(log)[len(before):]
    assert new == [("GET", probe, 404), ("POST", "/v1/search", 200), ("POST", "/v1/search", 400),
                   ("POST", "/v1/documents", 201)], new
    assert log.read_text(encoding="utf-8").count("qa.indexer: indexed ") == builds_before + 1
