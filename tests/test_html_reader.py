"""Saved web pages (.html/.htm): real State Council pages (three copied into tests/data/html/, the whole
development sample from ../shared when present), a page written here in the layout of a government
site (navigation, share and print buttons, scripts, a letter-spaced metadata table, <h2>/<h3>
headings, a table with a rowspan, GB2312-declared), a page without body text, and an upload over HTTP."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from qa.indexer import discover, read_corpus
from qa.readers import SUPPORTED_SUFFIXES, UnreadableDocument, read_file, source_text
from qa.readers.common import spaceless
from tests.conftest import running_server

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "html"
GOVCN = ROOT.parent / "shared" / "corpora" / "govcn-html-sample"
needs_govcn = pytest.mark.skipif(not (GOVCN / "SOURCE.md").exists(),
                                 reason=f"the govcn HTML sample is not at {GOVCN} (../shared beside the repository)")


def _assert_offsets(doc, text: str) -> None:
    for b in doc.blocks:
        assert 0 <= b.char_start < b.char_end <= len(text), b
        if b.kind == "table_row":
            for value in b.text.split("；"):
                assert spaceless(value.split("：", 1)[-1]) in spaceless(text), value
        else:
            assert spaceless(text[b.char_start:b.char_end]) == spaceless(b.text), b.text[:40]


def test_html_is_a_supported_suffix():
    assert ".html" in SUPPORTED_SUFFIXES and ".htm" in SUPPORTED_SUFFIXES


def test_state_council_page_metadata_sections_and_signature():
    path = DATA / "18.html"
    [doc] = read_file(path, "18.html")
    assert doc.title == "国务院办公厅关于湖北省巴东县地质灾害险情有关问题的复函"
    assert doc.doc_number == "国办函〔2004〕80号"
    assert doc.issuer == "国务院办公厅"
    assert doc.date == "2004-11-04"  # 成文日期
    assert doc.published == "2018-12-24"  # 发布日期
    assert doc.addressees == "湖北省人民政府"
    assert re.fullmatch(r"doc-2004-80-[0-9a-f]{8}", doc.doc_id)
    _assert_offsets(doc, source_text(path))
    # 附件N starts a path, 一、 headings nest under it
    block = next(b for b in doc.blocks if "505户1748人" in b.text)
    assert block.section == ["附件1", "一、基本情况"]
    # the metadata block is one searchable paragraph; the signature one block
    assert any(b.text.startswith("发文机关：国务院办公厅；发文字号：国办函〔2004〕80号") for b in doc.blocks)
    assert any(b.text == "国务院办公厅\n二〇〇四年十一月四日" for b in doc.blocks)


def test_state_council_page_table_rows_read_on_their_own():
    [doc] = read_file(DATA / "34.html", "34.html")
    assert doc.doc_number == "国办发〔1996〕32号" and doc.date == "1996-07-17"
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert len(rows) >= 15
    jiangsu = next(b for b in rows if b.text.startswith("省（市）：江苏"))
    assert "1995年招生人数：100" in jiangsu.text


def test_joint_issuers_from_the_metadata_block():
    [doc] = read_file(DATA / "41.html", "41.html")
    assert doc.issuer == "国务院办公厅、中央军委办公厅"
    assert doc.doc_number == "国办发〔1996〕25号"


def test_site_furniture_is_dropped_and_structure_kept():
    path = DATA / "govcn-style-notice.html"  # GB18030 bytes, declared gb2312
    [doc] = read_file(path, "govcn-style-notice.html")
    text = source_text(path)
    _assert_offsets(doc, text)
    for furniture in ("首页", "当前位置", "分享到", "打印本页", "关闭窗口", "扫一扫", "版权所有", "统计代码", "脚本文字"):
        assert furniture not in text, furniture
    assert doc.title == "某市人民政府办公室关于加强城区供水管网巡查工作的通知"
    assert doc.doc_number == "某政办发〔2023〕7号"
    assert doc.issuer == "某市人民政府办公室"
    assert (doc.date, doc.published) == ("2023-04-06", "2023-04-12")
    meta = next(b for b in doc.blocks if b.text.startswith("索引号："))
    assert "主题分类：城乡建设" in meta.text
    lead = next(b for b in doc.blocks if "日常巡查由市水务局牵头" in b.text)
    assert lead.section == ["一、明确巡查责任"]
    assert "两次，发现漏点" in lead.text  # a soft wrap in the page source is no break in the text
    ledger = next(b for b in doc.blocks if b.text == "台账每月报送市水务局汇总。")  # after a <br>
    assert ledger.section == ["一、明确巡查责任", "（一）建立巡查台账"]
    rows = [b.text for b in doc.blocks if b.kind == "table_row"]
    assert rows == ["片区：东片区；路段：滨河路；责任单位：东区供水所",
                    "片区：东片区；路段：建设路；责任单位：东区供水所",  # the rowspan carried down
                    "片区：西片区；路段：人民路；责任单位：西区供水所"]
    assert all(b.section == ["二、巡查路段安排"] for b in doc.blocks if b.kind == "table_row")


def test_page_without_body_text_is_reported_by_name_and_skipped(tmp_path):
    with pytest.raises(UnreadableDocument, match="empty-article.html: no body text"):
        read_file(DATA / "empty-article.html", "empty-article.html")
    corpus = tmp_path / "pages"
    corpus.mkdir()
    shutil.copy(DATA / "empty-article.html", corpus)
    shutil.copy(DATA / "41.html", corpus / "41.htm")
    (corpus / "blank.html").write_bytes(b"  \n")
    docs, _chunks, _entries, skipped, _texts = read_corpus(discover([corpus]))
    assert [d.doc_number for d in docs] == ["国办发〔1996〕25号"]
    assert {name for name, _ in skipped} == {"empty-article.html", "blank.html"}


@needs_govcn
def test_every_sample_page_is_one_document_with_its_number_and_date():
    """SOURCE.md lists each page's 文号: every page reads as one document carrying it, and a date."""
    listed = dict(re.findall(r"^\| (\d+\.html) \| (\S+) \|", (GOVCN / "SOURCE.md").read_text("utf-8"), re.M))
    assert len(listed) >= 30
    pages = [(path, source) for path, source in discover([GOVCN]) if path.suffix == ".html"]  # not SOURCE.md
    docs, _chunks, _entries, skipped, _texts = read_corpus(pages)
    assert skipped == []
    by_source = {d.source: d for d in docs}
    assert len(docs) == len(by_source) == len(listed)
    for name, number in listed.items():
        doc = by_source[name]
        assert doc.doc_number == number, name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc.date or ""), name
        assert doc.issuer and doc.title, name


@pytest.fixture(scope="module")
def writable_html(tmp_path_factory, built_settings):
    root = tmp_path_factory.mktemp("html-upload")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    with running_server({"QA_INDEX_DIR": str(root / "index"), "QA_CORPUS_DIR": str(root / "corpus"),
                         "QA_API_KEY": "html-key"}) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client


def test_html_upload_over_http_is_searchable_with_its_citation(writable_html):
    client = writable_html
    data = (DATA / "govcn-style-notice.html").read_bytes()
    r = client.post("/v1/documents", files={"file": ("供水管网巡查.htm", data)}, headers={"X-API-Key": "html-key"})
    assert r.status_code == 201, r.text
    hits = client.post("/v1/search", json={"query": "城区供水主干管网的日常巡查由哪个部门牵头", "top_k": 3}).json()
    top = hits["results"][0]
    assert "日常巡查由市水务局牵头" in top["text"]
    assert top["citation"]["doc_number"] == "某政办发〔2023〕7号"
    assert top["citation"]["date"] == "2023-04-06"
    assert top["citation"]["source"] == "供水管网巡查.htm"
    r = client.post("/v1/documents", files={"file": ("empty.html", (DATA / "empty-article.html").read_bytes())},
                    headers={"X-API-Key": "html-key"})
    assert r.status_code == 422 and "empty.html" in r.json()["error"]["message"]
