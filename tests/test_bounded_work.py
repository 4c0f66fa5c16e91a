"""Work bounded in time, and a full disk (issue 16, items 2 and 5), with real builds and a real server.

- a build stops at its cancel token: before the first file, between embedding batches, while it
  waits for another build's lock; nothing is published and no .partial folder is left
- an upload whose indexing passes QA_UPLOAD_TIMEOUT_S gets 504 within seconds of the deadline (the
  build itself is stopped, not waited for); one whose client disconnects is cancelled the same way;
  either way the index and the corpus folder are as before, and the next upload works
- disk full during a build (the index on a small tmpfs; where mounting is not allowed, a file size
  limit, RLIMIT_FSIZE, gives the same kind of real OS error): `qa index add` exits with one line
  that says so, the upload gets 507, the old index keeps serving the running server, and later
  builds work once there is room
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from qa.cancel import BuildCancelled, CancelToken
from qa.indexer import add_to_index, build_index
from qa.store import current_build, index_lock
from tests.conftest import CORPUS_DIR, EMBEDDER, ROOT, running_server
from tests.test_faults import law

KEY = "bounded-key-77a0"
QUESTION = "防止返贫动态监测帮扶机制由哪个部门牵头？"


def _state(index_dir: Path) -> tuple[str, list[str]]:
    return (index_dir / "CURRENT").read_text(encoding="utf-8"), sorted(p.name for p in (index_dir / "builds").iterdir())


@pytest.fixture
def index_copy(tmp_path, built_settings) -> Path:
    shutil.copytree(built_settings.index_dir, tmp_path / "index")
    return tmp_path / "index"


# -- in-process: the token stops a build --------------------------------------------------------------

def test_a_cancelled_build_publishes_nothing(tmp_path, index_copy, embedder):
    before = _state(index_copy)
    doc = tmp_path / "大法.md"
    doc.write_text(law(300, "取消"), encoding="utf-8")  # ~600 vectors: seconds of embedding
    token = CancelToken(timeout_s=1.0, what="the test build")
    t0 = time.monotonic()
    with pytest.raises(BuildCancelled, match="limit of 1 s"):
        add_to_index([doc], index_copy, embedder, progress=False, cancel=token)
    assert time.monotonic() - t0 < 30  # stopped at a check, not after embedding everything
    assert _state(index_copy) == before  # nothing published, no .partial left
    token = CancelToken()
    token.cancel("the caller went away")
    with pytest.raises(BuildCancelled, match="went away"):
        build_index([CORPUS_DIR], index_copy, embedder, progress=False, cancel=token)
    assert _state(index_copy) == before


def test_waiting_for_another_build_is_cancellable(tmp_path, index_copy, embedder):
    doc = tmp_path / "小法.md"
    doc.write_text(law(3, "等待"), encoding="utf-8")
    outcome: list[BaseException] = []
    with index_lock(index_copy):  # another build holds the index
        def add():
            try:
                add_to_index([doc], index_copy, embedder, progress=False, cancel=CancelToken(timeout_s=0.5))
            except BaseException as e:  # noqa: BLE001 - the outcome is what the test checks
                outcome.append(e)
        worker = threading.Thread(target=add)
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "a cancelled build kept waiting for the lock"
    assert len(outcome) == 1 and isinstance(outcome[0], BuildCancelled)


# -- over HTTP: deadline and disconnect -------------------------------------------------------------------

@pytest.fixture(scope="module")
def slow_uploads(tmp_path_factory, built_settings):
    root = tmp_path_factory.mktemp("bounded-server")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    log = root / "server.log"
    env = {"QA_INDEX_DIR": str(root / "index"), "QA_CORPUS_DIR": str(root / "corpus"), "QA_API_KEY": KEY,
           "QA_UPLOAD_TIMEOUT_S": "3", "QA_RATE_LIMIT": "off"}
    with running_server(env, log=log) as url:
        yield url, root, log


BIG_LAW = law(900, "超时").encode("utf-8")  # 900 vectors: half a minute or more of embedding on 2 cores


def _nothing_added(url: str, root: Path, documents: int) -> None:
    assert httpx.get(url + "/healthz", timeout=30).json()["documents"] == documents
    assert not list((root / "corpus").rglob("*.md"))
    assert not [p for p in (root / "index" / "builds").iterdir() if p.name.endswith(".partial")]


def test_an_upload_past_its_deadline_is_stopped_and_answers_504(slow_uploads):
    url, root, _ = slow_uploads
    documents = httpx.get(url + "/healthz").json()["documents"]
    t0 = time.monotonic()
    r = httpx.post(url + "/v1/documents", files={"file": ("超时管理办法.md", BIG_LAW)},
                   headers={"X-API-Key": KEY}, timeout=300)
    took = time.monotonic() - t0
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "upload_timeout" and "QA_UPLOAD_TIMEOUT_S" in r.json()["error"]["message"]
    assert took < 30  # the 3 s deadline plus one embedding batch, not the whole build
    _nothing_added(url, root, documents)


def test_a_client_that_disconnects_cancels_its_upload(slow_uploads):
    url, root, log = slow_uploads
    documents = httpx.get(url + "/healthz").json()["documents"]
    mark = log.stat().st_size
    with pytest.raises(httpx.ReadTimeout):  # the client gives up after 1.5 s and closes the connection
        httpx.post(url + "/v1/documents", files={"file": ("断开管理办法.md", BIG_LAW)},
                   headers={"X-API-Key": KEY}, timeout=httpx.Timeout(60, read=1.5))
    deadline = time.monotonic() + 30
    while "nothing of it was indexed" not in log.read_text(errors="replace")[mark:]:
        assert time.monotonic() < deadline, log.read_text(errors="replace")[mark:][-2000:]
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[mark:]
    assert "client disconnected" in tail and "was cancelled" in tail
    _nothing_added(url, root, documents)
    small = httpx.post(url + "/v1/documents", files={"file": ("小管理办法.md", law(2, "之后").encode())},
                       headers={"X-API-Key": KEY}, timeout=120)
    assert small.status_code == 201, small.text
    assert httpx.get(url + "/healthz").json()["documents"] == documents + 1


# -- disk full ------------------------------------------------------------------------------------------

def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.fixture
def small_disk(tmp_path, built_settings):
    """(index folder holding a copy of the session index with little room to spare, limit for
    subprocesses): a tmpfs sized to it where mounting is allowed, else a normal folder and an
    RLIMIT_FSIZE below the size of the new build's largest file (EFBIG, a real OS error too)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    need = _tree_bytes(built_settings.index_dir)
    size_kib = (need + 600 * 1024) // 1024  # one build and ~0.6 MB: the next build cannot fit
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(mount)],
                             capture_output=True).returncode == 0
    shutil.copytree(built_settings.index_dir, mount / "index")
    limit = None if mounted else 512 * 1024
    try:
        yield mount / "index", limit
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _with_limit(limit: int | None):
    if limit is None:
        return None

    def apply() -> None:
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_during_a_build_keeps_the_old_index_serving(tmp_path, small_disk):
    index, limit = small_disk
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    before = _state(index)
    env = {"QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus), "QA_API_KEY": KEY, "QA_RATE_LIMIT": "off"}
    with running_server(env) as url:
        served = httpx.post(url + "/v1/ask", json={"question": QUESTION}, timeout=60).json()
        doc = tmp_path / "磁盘管理办法.md"
        doc.write_text(law(40, "磁盘"), encoding="utf-8")
        run = subprocess.run([sys.executable, "-m", "qa.cli", "index", "add", str(doc), "--index", str(index), "-q"],
                             cwd=ROOT, capture_output=True, text=True, timeout=600, preexec_fn=_with_limit(limit),
                             env={**os.environ, "QA_EMBEDDER": EMBEDDER, "QA_OMP_THREADS": "1"})
        assert run.returncode == 1, run.stdout + run.stderr
        message = run.stderr.strip().splitlines()[-1]
        assert message.startswith("error: ") and "no space left for the new build" in message
        assert "serving index is unchanged" in message
        assert "Traceback" not in run.stderr
        assert _state(index) == before  # CURRENT unchanged, the partial build removed
        # the running server still answers from the old build, the same answer
        again = httpx.post(url + "/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert again["answer"] == served["answer"] and again["citations"] == served["citations"]
        if limit is None:  # an upload meets the same full disk (the corpus folder is elsewhere): 507
            r = httpx.post(url + "/v1/documents", files={"file": ("磁盘管理办法.md", doc.read_bytes())},
                           headers={"X-API-Key": KEY}, timeout=300)
            assert r.status_code == 507, r.text
            assert r.json()["error"]["code"] == "insufficient_storage" and "no space left" in r.json()["error"]["message"]
            assert not list(corpus.rglob("*.md")) and _state(index) == before
        assert httpx.get(url + "/healthz").json()["index_version"] == before[0].strip()
