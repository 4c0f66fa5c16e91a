"""Write endpoints over HTTP: key checks, upload → searchable, remove → gone, bad files refused,
and searches that keep answering while the index is swapped. Runs on a copy of the session index."""
from __future__ import annotations

import shutil
import threading

import httpx
import pytest

from tests.conftest import running_server

KEY = "test-key-7f3a"
LAW = """# 青铜峡市测试供水管理办法

2021年7月1日 青铜峡市人民政府公布

第一章 总则

第一条 为了加强农村自来水管护，保障饮水安全，制定本办法。

第二条 农村自来水管网的日常巡检由市水务局负责，各镇人民政府配合。

第二章 管护

第三条 水费收缴实行阶梯价格，第一阶梯每立方米二元五角。
"""


@pytest.fixture(scope="module")
def writable(tmp_path_factory, built_settings):
    root = tmp_path_factory.mktemp("writable")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    with running_server({"QA_INDEX_DIR": str(root / "index"), "QA_CORPUS_DIR": str(root / "corpus"),
                         "QA_API_KEY": KEY}) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client, root


def _upload(client, name: str, data: bytes, key: str | None = KEY):
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post("/v1/documents", files={"file": (name, data)}, headers=headers)


def test_writes_are_off_without_a_configured_key(server_url):
    r = httpx.post(server_url + "/v1/documents", files={"file": ("a.md", b"# x\n\ntext")}, headers={"X-API-Key": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert httpx.delete(server_url + "/v1/documents/anything").status_code == 403


def test_missing_or_wrong_key_is_401(writable):
    client, _ = writable
    assert _upload(client, "law.md", LAW.encode(), key=None).status_code == 401
    r = _upload(client, "law.md", LAW.encode(), key="wrong")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert client.delete("/v1/documents/whatever", headers={"X-API-Key": "wrong"}).status_code == 401


@pytest.mark.parametrize("name", ["../../evil.md", "..\\\\evil.md", "/etc/passwd.md", ".hidden.md", "a/b.md"])
def test_path_traversal_names_are_refused(writable, name):
    client, root = writable
    r = _upload(client, name, LAW.encode())
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    assert not (root / "evil.md").exists() and not (root.parent / "evil.md").exists()


def test_broken_and_unsupported_files_are_refused_and_lose_nothing(writable):
    client, _ = writable
    before = client.get("/healthz").json()
    r = _upload(client, "broken.docx", b"PK\x03\x04 this is not a real docx")
    assert r.status_code == 422 and "broken.docx" in r.json()["error"]["message"]
    assert _upload(client, "virus.exe", b"MZ").status_code == 415
    assert _upload(client, "empty.md", b"   ").status_code == 422
    assert client.get("/healthz").json() == before


def test_upload_then_remove_round_trip_while_searches_keep_answering(writable):
    client, root = writable
    before = client.get("/healthz").json()
    statuses: list[int] = []
    stop = threading.Event()

    def search_loop():
        with httpx.Client(base_url=str(client.base_url), timeout=60) as c:
            while not stop.is_set():
                statuses.append(c.post("/v1/search", json={"query": "农村自来水管网巡检", "top_k": 3}).status_code)

    t = threading.Thread(target=search_loop)
    t.start()
    try:
        r = _upload(client, "供水管理办法.md", LAW.encode())
        assert r.status_code == 201, r.text
        summary = r.json()
        assert summary["documents"] == before["documents"] + 1
        assert summary["embedded"] < 10 and summary["reused"] >= before["chunks"] - 5
        assert summary["files_read"] == 1  # the upload; the gazette was not read again
        assert (root / "corpus" / "uploads" / "供水管理办法.md").exists()
        hits = client.post("/v1/search", json={"query": "农村自来水管网的日常巡检由哪个部门负责", "top_k": 3}).json()
        top = hits["results"][0]
        assert "日常巡检由市水务局负责" in top["text"]
        assert top["citation"]["section"] == "第一章 总则 > 第二条"
        doc_id = top["citation"]["doc_id"]
        r = client.delete(f"/v1/documents/{doc_id}", headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json()["documents"] == before["documents"]
        assert client.get(f"/v1/documents/{doc_id}").status_code == 404
        hits = client.post("/v1/search", json={"query": "农村自来水管网的日常巡检由哪个部门负责", "top_k": 5}).json()
        assert all(h["citation"]["doc_id"] != doc_id for h in hits["results"])
    finally:
        stop.set()
        t.join()
    assert statuses and set(statuses) == {200}
